"""The landing-file contract of ``docs/data-contract.md``, as data.

One :class:`EntityContract` per source entity: its columns (contract type, required flag,
allowed values, value rules), its key, and whether its rows reference an account. The
loader derives the typed ``raw.<entity>`` DDL and every validation rule from these objects,
so the document and the code change together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ContractType = Literal["string", "integer", "decimal", "date", "timestamp", "boolean"]

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(18,2)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

# Load metadata appended to every raw table (architecture.md, "raw.<entity>").
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_sha256", "VARCHAR"),
    ("_loaded_at", "TIMESTAMP"),
    ("_run_id", "VARCHAR"),
)

# Longest accepted value in any column; longer values are quarantined (a 10 MB "name" is an
# export bug, not a name, and would bloat every downstream model).
MAX_FIELD_CHARS = 4096
MIN_DATE = "1990-01-01"
# Timestamps without an offset are wall-clock times in this zone; values with an offset (or
# ``Z``) and time-zone-aware Parquet columns are converted to it.
CONTRACT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Column:
    """One contract column.

    ``allowed``: the only accepted values (exact, case-sensitive). ``min_value`` /
    ``max_value``: inclusive bounds for numbers. ``date_range``: dates must not fall before
    1990-01-01. Every date and timestamp must not lie after the load time plus the source's
    ``future_tolerance_hours`` (config/sources.yaml).
    """

    name: str
    type: ContractType
    required: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    date_range: bool = False

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class EntityContract:
    """A source entity: its columns in contract order, key and account reference."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references_account: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _s(name: str, required: bool = False, allowed: tuple[str, ...] | None = None) -> Column:
    return Column(name, "string", required, allowed)


def _ts(name: str, required: bool = False) -> Column:
    return Column(name, "timestamp", required)


def _bool(name: str) -> Column:
    return Column(name, "boolean")


LEAD_SOURCES = ("web", "event", "referral", "advertising", "outbound", "partner")
LEAD_STATUSES = ("open", "converted", "lost")
ACTIVITY_TYPES = (
    "web_visit",
    "content_download",
    "event_attendance",
    "email_open",
    "email_click",
    "meeting",
    "unsubscribe",
)
ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
CREDIT_RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")

CONTRACTS: dict[str, EntityContract] = {
    c.name: c
    for c in (
        EntityContract(
            name="crm_accounts",
            columns=(
                _s("account_id", required=True),
                _s("account_name", required=True),
                _s("uscc"),
                _s("industry"),
                Column("employee_count", "integer"),
                Column("annual_revenue_cny", "decimal"),
                _s("province"),
                _s("city"),
                _s("parent_account_id"),
                _s("owner_team"),
                _ts("created_at", required=True),
                _ts("updated_at", required=True),
                _bool("is_deleted"),
            ),
            key=("account_id",),
            references_account=False,
        ),
        EntityContract(
            name="crm_contacts",
            columns=(
                _s("contact_id", required=True),
                _s("account_id", required=True),
                _s("full_name"),
                _s("email"),
                _s("phone"),
                _s("job_title"),
                _bool("opt_out"),
                _ts("created_at", required=True),
                _ts("updated_at", required=True),
                _bool("is_deleted"),
            ),
            key=("contact_id",),
            references_account=True,
        ),
        EntityContract(
            name="crm_leads",
            columns=(
                _s("lead_id", required=True),
                _s("account_id", required=True),
                _s("lead_source", allowed=LEAD_SOURCES),
                _s("status", required=True, allowed=LEAD_STATUSES),
                _ts("created_at", required=True),
                _ts("converted_at"),
                _ts("updated_at", required=True),
                _bool("is_deleted"),
            ),
            key=("lead_id",),
            references_account=True,
        ),
        EntityContract(
            name="crm_activities",
            columns=(
                _s("activity_id", required=True),
                _s("account_id", required=True),
                _s("contact_id"),
                _s("activity_type", required=True, allowed=ACTIVITY_TYPES),
                _ts("occurred_at", required=True),
                _ts("updated_at", required=True),
                _bool("is_deleted"),
            ),
            key=("activity_id",),
            references_account=True,
        ),
        EntityContract(
            name="orders",
            columns=(
                _s("order_id", required=True),
                _s("account_id", required=True),
                Column("order_date", "date", required=True, date_range=True),
                _s("status", required=True, allowed=ORDER_STATUSES),
                Column("amount_cny", "decimal", required=True, min_value=0),
                Column("refund_amount_cny", "decimal", min_value=0),
                _s("product_line"),
                _ts("updated_at", required=True),
            ),
            key=("order_id",),
            references_account=True,
        ),
        EntityContract(
            name="risk",
            columns=(
                _s("uscc", required=True),
                Column("as_of_date", "date", required=True, date_range=True),
                _s("credit_rating", allowed=CREDIT_RATINGS),
                Column("overdue_amount_cny", "decimal", min_value=0),
                Column("lawsuit_count", "integer", min_value=0),
                _bool("abnormal_operation"),
            ),
            key=("uscc", "as_of_date"),
            references_account=False,
        ),
        EntityContract(
            name="surveys",
            columns=(
                _s("response_id", required=True),
                _s("account_id", required=True),
                _s("contact_id"),
                Column("survey_date", "date", required=True, date_range=True),
                Column("nps_score", "integer", required=True, min_value=0, max_value=10),
                Column("csat_score", "integer", min_value=1, max_value=5),
                _s("comment"),
            ),
            key=("response_id",),
            references_account=True,
        ),
        # Not customer data: people's requests to be erased (docs/privacy.md). Loaded like a
        # source; pipelines/privacy registers them and blanks their identifiers.
        EntityContract(
            name="privacy_erasure_requests",
            columns=(
                _s("request_id", required=True),
                _s("contact_id"),
                _s("email"),
                _s("phone"),
                _ts("requested_at", required=True),
                _s("reason"),
            ),
            key=("request_id",),
            references_account=False,
        ),
    )
}


def get_contract(entity: str) -> EntityContract:
    """The contract of ``entity``; raises ``KeyError`` naming the known entities."""
    try:
        return CONTRACTS[entity]
    except KeyError:
        raise KeyError(f"unknown entity {entity!r}; known: {', '.join(CONTRACTS)}") from None


def raw_table_ddl(entity: str) -> str:
    """``CREATE TABLE IF NOT EXISTS raw.<entity>`` with typed contract columns + load metadata."""
    contract = get_contract(entity)
    cols = [f'"{c.name}" {c.duckdb_type}' for c in contract.columns]
    cols += [f'"{name}" {typ}' for name, typ in META_COLUMNS]
    return f'CREATE TABLE IF NOT EXISTS raw."{entity}" ({", ".join(cols)})'
