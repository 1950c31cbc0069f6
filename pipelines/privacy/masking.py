"""Masking of personal contact data: the one helper for every place that could show it.

People's names, emails and phone numbers live in ``raw.crm_contacts`` and nowhere downstream.
Anything that leaves the warehouse for humans — Dagster metadata and logs, error messages,
alerts — goes through these functions first:

* a **name** keeps its first character: ``张三丰`` -> ``张**``, ``Alice Wong`` -> ``A*********``;
* an **email** or **phone** keeps only its *shape*: letters become ``x``, digits ``9``,
  separators stay (``alice.w@corp.cn`` -> ``xxxxx.x@xxxx.xx``, ``138-0013-8000`` ->
  ``999-9999-9999``), so a failed format check still shows *why* it failed (a missing ``@``,
  a short number) without showing whose it is.

* **free text** a person wrote (a survey comment) is masked like a name.

Columns are recognised by name (:data:`CONTACT_COLUMNS`); free text is scrubbed of anything
that looks like an email or a Chinese phone number (:func:`scrub_text`). :func:`mask_sql` is
the same masking as DuckDB SQL, for text built inside the warehouse (quarantine reasons).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

ContactKind = Literal["name", "email", "phone", "text"]

# Contact columns by name, as the landing contract (docs/data-contract.md) and common CRM
# exports spell them. Job titles count as names: with a company they point at one person; a
# survey comment is the respondent's own words (it may name people or carry a number).
CONTACT_COLUMNS: dict[str, ContactKind] = {
    "full_name": "name",
    "contact_name": "name",
    "name": "name",
    "job_title": "name",
    "email": "email",
    "email_address": "email",
    "phone": "phone",
    "mobile": "phone",
    "phone_number": "phone",
    "comment": "text",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Mobile numbers (optionally +86, separators) and landlines with an area code.
_PHONE = re.compile(
    r"(?<![\w])(?:\+?86[- ]?)?(?:1[3-9]\d[- ]?\d{4}[- ]?\d{4}|0\d{2,3}[- ]\d{7,8})(?![\w])"
)


def contact_kind(column: str | None) -> ContactKind | None:
    """The kind of contact data a column holds (by its name), or None."""
    return CONTACT_COLUMNS.get(column.lower()) if column else None


def mask_name(value: str) -> str:
    """First character kept, every other non-space character starred."""
    if not value:
        return value
    return value[0] + "".join(" " if ch.isspace() else "*" for ch in value[1:])


def mask_shape(value: str) -> str:
    """Letters (any script) become ``x``, digits ``9``; punctuation and spaces stay."""
    return "".join("9" if ch.isdigit() else "x" if ch.isalpha() else ch for ch in value)


def mask_contact(kind: ContactKind, value: Any) -> Any:
    """``value`` masked as ``kind``; None and NaN stay as they are, anything else as text."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    text = str(value)
    return mask_name(text) if kind in ("name", "text") else mask_shape(text)


def mask_value(column: str | None, value: Any) -> Any:
    """``value`` masked if ``column`` is a contact column, else unchanged. A mapping (e.g. the
    example row of a compound-column expectation) has each contact key masked."""
    if isinstance(value, Mapping):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    kind = contact_kind(column)
    return value if kind is None else mask_contact(kind, value)


def mask_values(column: str | None, values: Iterable[Any]) -> list[Any]:
    """:func:`mask_value` over example values of one column (e.g. a GX failure's examples).

    ``column`` may name several columns joined by ``+`` (a compound expectation): the values
    are then masked if any of them is a contact column.
    """
    names = (column or "").split("+")
    kinds = [k for k in (contact_kind(n) for n in names) if k]
    if not kinds:
        return [mask_value(None, v) for v in values]
    kind: ContactKind = "name" if set(kinds) <= {"name", "text"} else "phone"
    return [
        mask_value(None, v) if isinstance(v, Mapping) else mask_contact(kind, v) for v in values
    ]


def scrub_text(text: str) -> str:
    """Free text with every email address and phone number in it masked (names cannot be
    recognised in free text: keep them out of messages in the first place)."""
    text = _EMAIL.sub(lambda m: mask_shape(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_shape(m.group(0)), text)


def mask_sql(kind: ContactKind, expr: str) -> str:
    """DuckDB SQL masking the text ``expr`` exactly as :func:`mask_contact` does in Python
    (NULL stays NULL), for text built in the warehouse, e.g. a quarantine reason."""
    if kind in ("name", "text"):
        rest = f"substr({expr}, 2)"
        stars = f"regexp_replace({rest}, '[^\\s\\pZ]', '*', 'g')"
        return f"(left({expr}, 1) || regexp_replace({stars}, '[\\s\\pZ]', ' ', 'g'))"
    digits = f"regexp_replace({expr}, '\\p{{Nd}}', '9', 'g')"
    return f"regexp_replace({digits}, '\\pL', 'x', 'g')"
