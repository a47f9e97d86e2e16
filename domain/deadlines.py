"""Deadline arithmetic on real business-day calendars (US federal + state holidays).

Called only from activities: a calendar update must never change a replayed workflow.
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
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, state):
            remaining -= 1
    return current


def due_at(start: datetime, duration: Duration, *, state: str | None, tz: str) -> datetime:
    """Absolute UTC deadline `duration` after `start`.

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
