"""Deadline arithmetic on real business-day calendars (US federal + state holidays).

Called only from activities: a calendar update must never change a replayed workflow.

How a deadline is counted (the same for every profile; the rules say "within N days after",
"at least N business days before", and count the way a clerk would):

- The day of the event is not counted. Forward, the first day counted is the day after it;
  backward (a negative `Duration`, see `Duration.before`), the day before it. That holds when the
  event itself falls on a weekend or holiday.
- Business days ("working days" in TX) skip weekends and the holidays of the `holidays` calendar
  for the US and the state (federal holidays plus e.g. the day after Thanksgiving in CA, TX, FL,
  PA; Election Day in NY). A business-day deadline falls at 17:00, the end of the business day,
  in the jurisdiction's time zone, forward and backward alike: records due 3 business days
  before an exam are due by close of business on the third business day before it.
- Calendar units (days, hours, ...) are exact offsets from the instant: 30 days after an exam at
  15:00 UTC is 15:00 UTC thirty days later. They are NOT moved off a weekend or holiday. Some
  jurisdictions extend a period ending on a weekend or holiday to the next business day (e.g.
  NY General Construction Law 25-a, Cal. Code Civ. Proc. 12a), others do not (ERISA); the
  unmoved instant is never later than the legal deadline in any of them, so a claim kept to it
  is never late. Owners are reminded before it, so an early weekend deadline is seen in time.
- A lead (notice at least 7 business days before the exam) computed forward from the notice
  gives the end of the 7th business day; the first office slot after it, and so the exam, is
  the next business morning at the earliest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from domain.profiles import Duration

BUSINESS_DAY_END = time(17, 0)


@lru_cache(maxsize=64)
def _calendar(state: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays("US", subdiv=state or None)


def is_business_day(day: date, state: str | None) -> bool:
    return day.weekday() < 5 and day not in _calendar(state)


def add_business_days(day: date, count: int, state: str | None) -> date:
    """The `count`th business day after `day` (before it when `count` is negative); `day`
    itself is not counted."""
    step = timedelta(days=1 if count >= 0 else -1)
    current = day
    remaining = abs(count)
    while remaining > 0:
        current += step
        if is_business_day(current, state):
            remaining -= 1
    return current


def due_at(start: datetime, duration: Duration, *, state: str | None, tz: str) -> datetime:
    """Absolute deadline `duration` after `start` (before it when the amount is negative), in
    `start`'s time zone.

    Business-day deadlines fall at the end of the business day in the jurisdiction's time zone.
    """
    if duration.unit != "business_days":
        return start + duration.as_timedelta()
    zone = ZoneInfo(tz)
    local_day = start.astimezone(zone).date()
    end_day = add_business_days(local_day, duration.amount, state)
    return datetime.combine(end_day, BUSINESS_DAY_END, tzinfo=zone).astimezone(start.tzinfo)


def business_slots(
    earliest: datetime, *, state: str | None, tz: str, slot: timedelta
) -> Iterator[datetime]:
    """Yield appointment start times from `earliest` on, within 09:00-17:00 on business days."""
    zone = ZoneInfo(tz)
    local = earliest.astimezone(zone)
    day = local.date()
    while True:
        if is_business_day(day, state):
            cursor = datetime.combine(day, time(9, 0), tzinfo=zone)
            closing = datetime.combine(day, BUSINESS_DAY_END, tzinfo=zone)
            while cursor + slot <= closing:
                if cursor >= local:
                    yield cursor.astimezone(earliest.tzinfo)
                cursor += slot
        day += timedelta(days=1)
