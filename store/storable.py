"""Text Postgres can store: no NUL (refused in text and jsonb) and no lone surrogate (refused as
a JSON escape and not encodable as UTF-8).

Callers' text is refused at intake (`domain.models.Input`); this is the last guard for anything
that slips past, so a transition or a page is never retried forever over one character.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def storable(value: Any) -> tuple[Any, bool]:
    """`value` with unstorable characters removed, and whether any were."""
    if isinstance(value, str):
        cleaned = _UNSTORABLE.sub("", value)
        return cleaned, cleaned != value
    if isinstance(value, dict):
        changed = False
        result = {}
        for key, item in value.items():
            clean_key, key_changed = storable(key)
            clean_item, item_changed = storable(item)
            result[clean_key] = clean_item
            changed = changed or key_changed or item_changed
        return result, changed
    if isinstance(value, list):
        pairs = [storable(item) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    return value, False
