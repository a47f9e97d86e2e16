"""What every model of the package is built on: `Model` and `Input` (what a caller sends, checked
at intake), the constrained text types, the intake context, and `Caller` (who acts).

Read by the other modules of `domain.models`; callers outside the package see these through
`domain.models` like every other model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from domain.names import Role

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"
    ),
]
# USPS codes of the states, DC and the territories.
US_STATES = frozenset(
    {
        "AK",
        "AL",
        "AR",
        "AS",
        "AZ",
        "CA",
        "CO",
        "CT",
        "DC",
        "DE",
        "FL",
        "GA",
        "GU",
        "HI",
        "IA",
        "ID",
        "IL",
        "IN",
        "KS",
        "KY",
        "LA",
        "MA",
        "MD",
        "ME",
        "MI",
        "MN",
        "MO",
        "MP",
        "MS",
        "MT",
        "NC",
        "ND",
        "NE",
        "NH",
        "NJ",
        "NM",
        "NV",
        "NY",
        "OH",
        "OK",
        "OR",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VA",
        "VI",
        "VT",
        "WA",
        "WI",
        "WV",
        "WY",
    }
)


def _us_state(value: str) -> str:
    if value not in US_STATES:
        raise ValueError("must be a US state or territory postal code")
    return value


StateCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_us_state),
    Field(json_schema_extra={"enum": sorted(US_STATES)}),
]
Npi = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]


INTAKE = {"intake": True}


def at_intake(info: ValidationInfo) -> bool:
    """Rules that depend on today's date or today's configuration are checked when a referral
    comes in (validate with `context=INTAKE`), not when a workflow decodes its recorded input, so
    a later change can never break the replay of a claim already in flight."""
    return bool(info.context and info.context.get("intake"))


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class AddedLater(Model):
    """A Temporal payload that gained fields after histories recorded it: each field named in
    `added_later` is left out of its JSON while None, so a payload without it serialises exactly
    as it did before the field existed."""

    added_later: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_unset_additions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        for name in self.added_later:
            if getattr(self, name) is None:
                dumped.pop(name, None)
        return dumped


# Control characters (C0 but tab, newline and carriage return; DEL; C1) and lone surrogates: no
# field of ours needs them, and Postgres refuses NUL and unencodable text.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _unprintable_fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "(value)"] if _UNPRINTABLE.search(value) else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            # An unprintable key is not repeated in the paths under it: a lone surrogate there
            # could not even be encoded into the error.
            unprintable = bool(_UNPRINTABLE.search(str(key)))
            part = "(field name)" if unprintable else str(key)
            name = f"{path}.{part}" if path else part
            found += ["(field name)"] if unprintable else []
            found += _unprintable_fields(item, name)
        return found
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in _unprintable_fields(item, f"{path}.{i}")]
    return []


class Input(Model):
    """What a caller sends (a referral, an action, a query, a panel entry). At intake its text is
    checked for control characters, so nothing downstream (Postgres, a notification) chokes on it;
    never when a workflow decodes its recorded input, so no claim in flight is ever refused."""

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: Any, info: ValidationInfo) -> Any:
        if at_intake(info):
            fields = _unprintable_fields(data)
            if fields:
                raise ValueError(
                    "control characters are not allowed in: " + ", ".join(sorted(set(fields)))
                )
        return data


def example_config(example: dict[str, Any]) -> ConfigDict:
    """The model's config with `example` shown in its JSON schema (and the API's docs)."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class Caller(Model):
    """Who acts: the role and the API key (never the key itself), and the insurer or examiner the
    key is scoped to. Recorded with every event a person causes."""

    role: Role
    key_id: str | None = None
    key_name: str | None = None
    insurer_id: str | None = None
    examiner_id: str | None = None
    # A person signed in at the console (`people`): their account id and name. None for a key.
    user_id: str | None = None
    user_name: str | None = None
