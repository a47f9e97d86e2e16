"""Whether a stored JSON document has exactly the shape a model dumps today, as a SQL condition.

A projection row written by the current model holds, at every level, exactly the model's fields;
serving its text as is gives the caller what validating and re-dumping it would (same fields,
same values). A row written before a field existed (or after one went away) does not match, and
is read through the model, whose validators fill in what the old shape lacks. (What this
cannot see is a validator that changes the values of a complete document; the model has none,
and tests/test_status_read.py compares a full status both ways.)
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# No document can be vouched for: always read through the model.
_NEVER = "false"


def same_shape_sql(expr: str, model: type[BaseModel]) -> str:
    """A SQL boolean: the jsonb `expr` is an object with exactly `model`'s keys, and so is every
    nested model's value (objects or null; each element of a list of models)."""
    condition = _object(expr, model, depth=0)
    if condition is None:
        return _NEVER
    return f"(CASE jsonb_typeof({expr}) WHEN 'object' THEN {condition} ELSE false END)"


def _object(expr: str, model: type[BaseModel], depth: int) -> str | None:
    """The condition on an object `expr` (known to be one), or None when the model's dump cannot
    be checked by its keys (aliases, computed fields, models in containers we do not walk)."""
    if model.model_computed_fields:
        return None
    names = []
    nested = []
    for name, field in model.model_fields.items():
        aliases = (field.alias, field.serialization_alias)
        if any(a not in (None, name) for a in aliases) or not _NAME.match(name):
            return None
        names.append(name)
        kind = _kind(field.annotation)
        if kind is None:
            return None
        inner_model, is_list = kind
        if inner_model is None:
            continue
        value = f"({expr} -> '{name}')"
        if is_list:
            element = f"e{depth}.v"
            inner = _object(element, inner_model, depth + 1)
            if inner is None:
                return None
            nested.append(
                f"NOT EXISTS (SELECT FROM jsonb_array_elements(CASE jsonb_typeof({value})"
                f" WHEN 'array' THEN {value} ELSE '[]'::jsonb END) AS e{depth}(v)"
                f" WHERE NOT (CASE jsonb_typeof({element}) WHEN 'object' THEN {inner}"
                " ELSE false END))"
            )
        else:
            inner = _object(value, inner_model, depth + 1)
            if inner is None:
                return None
            nested.append(
                f"(CASE jsonb_typeof({value}) WHEN 'object' THEN {inner}"
                " WHEN 'null' THEN true ELSE false END)"
            )
    keys = "ARRAY[" + ", ".join(f"'{n}'" for n in names) + "]::text[]"
    exact = f"{expr} ?& {keys} AND ({expr} - {keys}) = '{{}}'::jsonb"
    return "(" + " AND ".join([exact, *nested]) + ")"


# What a field holds: (None, False) no model; (model, False) a model or null; (model, True) a
# list of a model.
_Kind = tuple[type[BaseModel] | None, bool]
_PLAIN: _Kind = (None, False)


def _kind(annotation: Any) -> _Kind | None:
    """What a field of this type holds, or None when it holds models we do not walk."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _kind(args[0])
        return None if any(_holds_model(a) for a in args) else _PLAIN
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is list:
        items = get_args(annotation)
        if len(items) == 1 and isinstance(items[0], type) and issubclass(items[0], BaseModel):
            return items[0], True
    return None if _holds_model(annotation) else _PLAIN


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(a) for a in get_args(annotation))
