"""Referral files for a bulk start: JSON Lines or CSV, read and validated line by line.

Every line is validated before anything starts. A rejected line is named by its number with the
field and the reason, never with what it held (the same field errors the API gives), because a
referral line is the claimant's PHI.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel

from domain.errors import InvalidInput
from domain.models import Referral
from domain.parsing import parse_json, parse_referral

# Cells of a list column hold several values separated by this.
LIST_SEPARATOR = ";"


class FileFormat(StrEnum):
    JSON = "json"  # one referral, as `start --file referral.json` always took
    JSONL = "jsonl"  # one referral per line
    CSV = "csv"  # a header row of CSV_COLUMNS, one referral per row


def format_of(path: Path, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return FileFormat.JSONL
    if suffix == ".csv":
        return FileFormat.CSV
    return FileFormat.JSON


def _columns(model: type[BaseModel], prefix: str = "") -> dict[str, bool]:
    """The referral's leaf fields as dotted column names, each with whether it is a list."""
    columns: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            columns |= _columns(annotation, f"{prefix}{name}.")
        else:
            columns[f"{prefix}{name}"] = get_origin(annotation) is list
    return columns


# Derived from the model, so a field added to `Referral` is a column without a change here.
CSV_COLUMNS: dict[str, bool] = _columns(Referral)


@dataclass(frozen=True)
class FieldError:
    message: str
    field: str | None = None  # None: the line as a whole (not JSON, too many cells)

    def as_json(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class Rejected:
    line: int
    errors: list[FieldError]

    def describe(self) -> list[str]:
        return [
            f"line {self.line}: {e.field}: {e.message}"
            if e.field
            else f"line {self.line}: {e.message}"
            for e in self.errors
        ]

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "errors": [e.as_json() for e in self.errors]}


@dataclass(frozen=True)
class ValidLine:
    line: int
    referral: Referral


@dataclass
class ReadFile:
    valid: list[ValidLine] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return len(self.valid) + len(self.rejected)


def read_referrals(path: Path, fmt: FileFormat) -> ReadFile:
    """Every referral of a JSONL or CSV file, validated; duplicates of an insurer + claim number
    met earlier in the file are rejected. Raises InvalidInput for a file that cannot be read as
    that format at all (not UTF-8, a CSV header with unknown columns) and OSError."""
    return read_referral_bytes(path.read_bytes(), fmt)


def read_referral_bytes(data: bytes, fmt: FileFormat) -> ReadFile:
    """`read_referrals` of a file's bytes (the console's upload)."""
    try:
        text = data.decode("utf-8-sig")  # a BOM: spreadsheets write one
    except UnicodeDecodeError:
        raise InvalidInput("the referral file is not UTF-8 text") from None
    bodies = _jsonl_bodies(text) if fmt is FileFormat.JSONL else _csv_bodies(text)
    result = ReadFile()
    first_line: dict[tuple[str, str], int] = {}
    for line, body in bodies:
        if isinstance(body, Rejected):
            result.rejected.append(body)
            continue
        try:
            referral = parse_referral(body)
        except InvalidInput as error:
            result.rejected.append(Rejected(line, _field_errors(error)))
            continue
        key = (referral.insurer_id, referral.claim_number)
        if key in first_line:
            message = f"the same insurer_id and claim_number as line {first_line[key]}"
            result.rejected.append(Rejected(line, [FieldError(message, "claim_number")]))
            continue
        first_line[key] = line
        result.valid.append(ValidLine(line, referral))
    return result


def _field_errors(error: InvalidInput) -> list[FieldError]:
    details = error.details if isinstance(error.details, list) else []
    # "(body)" is the API's name for the whole body: here, the whole line.
    errors = [
        FieldError(d["message"], None if d["field"] == "(body)" else d["field"]) for d in details
    ]
    return errors or [FieldError(error.message)]


def _jsonl_bodies(text: str) -> list[tuple[int, Any]]:
    bodies: list[tuple[int, Any]] = []
    # Not splitlines(): a JSON string may hold U+2028 and other separators it splits on.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            bodies.append((number, parse_json(line)))
        except InvalidInput as error:
            # parse_json speaks of "the request body": here it is the line.
            message = error.message.replace("the request body is ", "")
            errors = _field_errors(error) if error.details else [FieldError(message)]
            bodies.append((number, Rejected(number, errors)))
    return bodies


def _csv_bodies(text: str) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV file is empty: it needs a header row") from None
    except csv.Error:
        raise InvalidInput("the CSV file's header row is not valid CSV") from None
    columns = _check_header(header)
    bodies: list[tuple[int, Any]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            bodies.append(
                (reader.line_num, Rejected(reader.line_num, [FieldError("not valid CSV")]))
            )
            continue
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        number = reader.line_num  # the line the row ends on: its line unless a cell spans lines
        if len(row) > len(columns):
            problem = FieldError(f"{len(row)} cells, but the header has {len(columns)} columns")
            bodies.append((number, Rejected(number, [problem])))
            continue
        bodies.append((number, _nested(zip(columns, row, strict=False))))
    return bodies


def _check_header(header: list[str]) -> list[str]:
    """The header's columns; unknown or repeated ones refuse the file. A column is named by its
    position and never echoed: a file without a header row has a claimant's data there."""
    columns = [name.strip() for name in header]
    problems: list[dict[str, str]] = []
    for position, name in enumerate(columns, start=1):
        if name not in CSV_COLUMNS:
            near = difflib.get_close_matches(name, list(CSV_COLUMNS), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(
                {"field": f"column {position}", "message": f"not a referral field{hint}"}
            )
        elif columns.index(name) != position - 1:
            first = columns.index(name) + 1
            problems.append({"field": f"column {position}", "message": f"repeats column {first}"})
    if problems:
        raise InvalidInput(
            "the CSV header has columns that are not referral fields; see docs/api.md "
            "(Operations CLI) for the columns",
            details=problems,
        )
    return columns


def _nested(cells: Any) -> dict[str, Any]:
    """A row as the referral's JSON: dotted columns nested, list cells split on `;`, empty cells
    left out (so a default applies, or a required field is reported missing)."""
    body: dict[str, Any] = {}
    for column, value in cells:
        if not value.strip():
            continue
        cell: Any = value
        if CSV_COLUMNS[column]:
            cell = [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]
        *parents, leaf = column.split(".")
        target = body
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = cell
    return body
