"""Hypothesis strategies for what callers send: bodies drawn from a model's own JSON schema, the
same bodies with one part broken, and arbitrary JSON (wrong types, nulls, unicode, control
characters, lone surrogates, huge strings and numbers) under plausible keys.

Hypothesis cannot build these models from their types alone (`st.from_type`): the string rules
live in pydantic's metadata, which it ignores, so most of what it builds is refused by the very
constructor it calls. The JSON schema pydantic derives from each model carries every rule (enums,
patterns, lengths, required fields), so the bodies are drawn from it instead.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

# Values a claimant could be identified by. Long and distinctive, so that finding one in an
# answer can only mean it was echoed.
PHI_LIKE = (
    "Zelda Quincy Canary",
    # Shaped like an identifier (a claim number, an insurer id): what a careless client might
    # put there.
    "Zelda.Canary.1969-07-20",
    "zelda.canary@example.org",
    "+1-212-555-0199",
    "77 Canary Lane, Apt 9",
    "Canaryville",
    "crush injury of the left hand",
    "history of major depressive disorder",
)

# Printable text: what a well-behaved client sends (no control characters, no lone surrogates).
_PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
# Anything a JSON string can hold, lone surrogates and NUL included.
_ANY_CHAR = st.characters(exclude_categories=())

_TODAY = date.today()
# Dates the intake accepts for births and injuries: past, after 1900.
_PAST_DATES = st.dates(min_value=date(1900, 1, 2), max_value=_TODAY - timedelta(days=1))
# Strings as long as a request may carry, built without drawing each character.
HUGE_STRINGS = st.builds(
    lambda ch, n: ch * n, st.sampled_from("a€\U0001f600 \x00"), st.integers(2_001, 70_000)
)
# What a date, an enum or an identifier field is often sent by mistake.
_PLAUSIBLE_WRONG = st.sampled_from(
    [
        "",
        " ",
        "NY",
        "ny",
        "ZZ",
        "2026-02-30",
        "1899-12-31",
        "2999-01-01",
        "01/02/1980",
        "true",
        "null",
        "NaN",
        "1e999",
        "DEMO",
        "XX-YY",
        "approved",
        "imminent",
        "related",
        "../../etc/passwd",
        "'; DROP TABLE claims; --",
        "<script>alert(1)</script>",
        "\u202e\u0000\ud800",
    ]
)


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63, max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(_ANY_CHAR, max_size=30),
        HUGE_STRINGS,
        st.sampled_from(PHI_LIKE),
        _PLAUSIBLE_WRONG,
    )


def arbitrary_json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, its objects keyed mostly by `keys` (the models' own field names)."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(keys, st.text(_ANY_CHAR, max_size=12)), inner, max_size=5),
        ),
        max_leaves=12,
    )


def field_names(*models: type[BaseModel]) -> list[str]:
    """Every property name of the models' schemas, nested models included."""
    names: set[str] = set()
    for model in models:
        schema = model.model_json_schema()
        for part in [schema, *schema.get("$defs", {}).values()]:
            names.update(part.get("properties", {}))
    return sorted(names)


def from_schema(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Bodies that follow `model`'s JSON schema: mostly valid, sometimes not (a rule the schema
    cannot state, such as a date in the past or text that is only spaces)."""
    schema = model.model_json_schema()
    return _strategy(schema, schema.get("$defs", {}))


def _strategy(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        return _strategy(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        return st.one_of([_strategy(option, defs) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: _strategy(properties[name], defs) for name in properties if name in required},
            optional={
                name: _strategy(sub, defs)
                for name, sub in properties.items()
                if name not in required
            },
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            _strategy(schema.get("items", {}), defs),
            min_size=low,
            max_size=max(low, min(schema.get("maxItems", 4), 4)),
        )
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.one_of(
            st.integers(0, 100),
            st.floats(
                schema.get("minimum"),
                schema.get("maximum"),
                allow_nan=False,
                allow_infinity=False,
            ),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return arbitrary_json(st.just("value"))


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if schema.get("format") == "date":
        return _PAST_DATES.map(date.isoformat)
    if "pattern" in schema:
        drawn = st.from_regex(schema["pattern"], fullmatch=True, alphabet=_PRINTABLE)
        drawn = drawn.map(lambda s: s[:high]) if high else drawn
        fitting = [v for v in PHI_LIKE if re.fullmatch(schema["pattern"], v)]
        # (One draw in four: a field sent mostly as the pattern has it.)
        return st.one_of(drawn, drawn, drawn, st.sampled_from(fitting)) if fitting else drawn
    cap = min(high or 40, 40)
    fitting = [v for v in PHI_LIKE if low <= len(v) <= (high or len(v))]
    text = st.text(_PRINTABLE, min_size=low, max_size=max(low, cap))
    return st.one_of(text, st.sampled_from(fitting)) if fitting else text


@st.composite
def broken(draw: st.DrawFn, valid: st.SearchStrategy[Any], junk: st.SearchStrategy[Any]) -> Any:
    """A body from `valid` with one part broken: a key dropped, a value replaced by junk, or
    a key added."""
    body = copy.deepcopy(draw(valid))
    places = list(_places(body))
    if not places:
        return draw(junk)
    container, key = draw(st.sampled_from(places))
    how = draw(st.sampled_from(["drop", "replace", "add"]))
    if how == "drop" and isinstance(container, dict):
        del container[key]
    elif how == "add" and isinstance(container, dict):
        container[draw(st.text(_ANY_CHAR, min_size=1, max_size=12))] = draw(junk)
    else:
        container[key] = draw(junk)
    return body


def _places(value: Any) -> Any:
    """(container, key) of every value nested in `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _places(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _places(item)


def bodies(model: type[BaseModel], *, keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any body a caller could send for `model`: following its schema, broken in one place, or
    arbitrary JSON."""
    valid = from_schema(model)
    junk = arbitrary_json(keys)
    return st.one_of(valid, broken(valid, junk), junk)


def string_values(value: Any, *, but: frozenset[str] = frozenset()) -> list[str]:
    """Every string value nested in `value` (not the keys), but those under the keys `but`."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [
            s for key, item in value.items() if key not in but for s in string_values(item, but=but)
        ]
    if isinstance(value, list):
        return [s for item in value for s in string_values(item, but=but)]
    return []


def keys_of(value: Any) -> list[str]:
    """Every key nested in `value`."""
    if isinstance(value, dict):
        return [*map(str, value), *(k for item in value.values() for k in keys_of(item))]
    if isinstance(value, list):
        return [k for item in value for k in keys_of(item)]
    return []


def to_json(value: Any) -> bytes:
    """JSON as a client writes it: ASCII with escapes, so lone surrogates survive the trip."""
    return json.dumps(value).encode()
