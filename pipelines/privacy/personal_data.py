"""What counts as personal data in the warehouse, and how a person is recognised in SQL.

Personal data is data about an identifiable person (PIPL art. 4, GDPR art. 4). In the landing
contract (docs/data-contract.md) that is:

* ``crm_contacts``: ``full_name``, ``email``, ``phone``, ``job_title`` (a title at a named
  company points at one person);
* ``surveys.comment``: the respondent's own words, which may name people or carry a number;
* ``privacy_erasure_requests``: ``email`` and ``phone``, the identifiers a request names.

Everything else stays when a person is erased: ``contact_id`` (the CRM's key: it identifies
nobody once the fields above are blank, and it is what recognises the person in a
re-delivered file), the contact's account, ``opt_out`` and timestamps (so contact counts do
not change), and the activities and survey scores linked to the contact (facts about the
account's engagement). docs/privacy.md says the same for readers.
"""

from __future__ import annotations

PERSON_KEY = "contact_id"
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "crm_contacts": ("full_name", "email", "phone", "job_title"),
    "surveys": ("comment",),
}
REQUEST_IDENTIFIERS: tuple[str, ...] = ("email", "phone")
# Keys of an identifier hash: a request naming an email or a phone is matched by the hash of
# the normalised value, so the value itself need not be kept (see docs/privacy.md).
HASH_PREFIX = "stratum-erasure"


def email_key_sql(expr: str) -> str:
    """SQL: the email as compared between a request and a contact (trimmed, lower case,
    full-width characters made ASCII); NULL when empty."""
    full = "＠．－＿＋０１２３４５６７８９"
    half = "@.-_+0123456789"
    return f"nullif(lower(trim(translate({expr}, '{full}', '{half}'))), '')"


def phone_key_sql(expr: str) -> str:
    """SQL: the national number of a Chinese phone as compared between a request and a
    contact: digits only, extension (转/分机/ext/#) cut, country code 86/0086 and the trunk 0
    dropped; NULL when no digit is left. ``+86 138-0013-8000``, ``13800138000`` and
    ``(0086)13800138000`` give the same key, as do ``0571-8888 6666`` and ``+86 571 88886666``."""
    digits = (
        f"regexp_replace(regexp_replace(translate({expr}, '０１２３４５６７８９', '0123456789'), "
        "'(转|分机|[Ee][Xx][Tt]|#).*$', ''), '[^0-9]', '', 'g')"
    )
    national = (
        f"CASE WHEN {digits} LIKE '0086%' THEN substr({digits}, 5) "
        f"WHEN {digits} LIKE '86%' AND length({digits}) BETWEEN 11 AND 13 "
        f"THEN substr({digits}, 3) ELSE {digits} END"
    )
    return f"nullif(ltrim({national}, '0'), '')"


def identifier_hash_sql(kind: str, key_expr: str) -> str:
    """SQL: the stored hash of a normalised identifier (``kind`` is ``email`` or ``phone``)."""
    return f"sha256('{HASH_PREFIX}:{kind}:' || {key_expr})"
