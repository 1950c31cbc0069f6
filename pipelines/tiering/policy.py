"""The tier policy: a YAML file validated into typed objects.

The policy version stamped on every output row is the project's one config version scheme,
``<version>+<hash>`` (see :mod:`pipelines.config.loader`): reformatting or comments do not
change it but any rule change does.

Errors name the file and the bad key, e.g. ``tiers[1].rules[0].when: unknown score 'clvv'``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from pipelines.config.loader import ConfigError, content_hash, read_yaml, validate
from pipelines.tiering.conditions import (
    NUMERIC_SCORES,
    Condition,
    ConditionError,
    parse_condition,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    try:
        return parse_condition(value)
    except ConditionError as exc:
        raise ValueError(str(exc)) from None


class ServiceStrategy(_Strict):
    en: str
    zh: str


class Rule(_Strict):
    """One way into a tier: the tier is granted when any of its rules holds."""

    id: str = Field(min_length=1)
    description: str = ""
    when: Any

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> Condition:
        return _condition(value)


class Quota(_Strict):
    """At most ``max_accounts`` (or ``max_share`` of the ``population``: all accounts or the
    paying ones) stay in the tier, chosen by ``rank_by`` (ties by golden_account_id); the
    excess drops to ``demote_to`` (default: the next tier), where it is ranked again."""

    max_accounts: int | None = Field(default=None, ge=0)
    max_share: float | None = Field(default=None, ge=0, le=1)
    population: Literal["all", "paying"] = "all"
    rank_by: str
    descending: bool = True
    demote_to: str | None = None
    # Capacity left free (e.g. by risk gates) is filled with the best-ranked accounts of the
    # tier directly below, so the tier holds the best eligible accounts up to its size.
    fill: bool = False

    @field_validator("rank_by")
    @classmethod
    def _numeric_rank(cls, value: str) -> str:
        if value not in NUMERIC_SCORES:
            raise ValueError(f"unknown numeric score {value!r}")
        return value

    @model_validator(mode="after")
    def _one_limit(self) -> Quota:
        if (self.max_accounts is None) == (self.max_share is None):
            raise ValueError("give exactly one of max_accounts or max_share")
        return self

    def limit(self, population: int) -> int:
        if self.max_accounts is not None:
            return self.max_accounts
        # ceil: a positive share of a small population still leaves room for one account
        return math.ceil(self.max_share * population - 1e-9)  # type: ignore[operator]


class Tier(_Strict):
    code: str = Field(min_length=1)
    name_en: str
    name_zh: str
    service_strategy: ServiceStrategy
    owner_team: str
    rules: list[Rule] = []
    quota: Quota | None = None


class Prospects(_Strict):
    """Accounts without a paid order go to this tier, whatever their other scores."""

    tier: str
    description: str = ""


class RiskGate(_Strict):
    """``cap`` lowers the tier to at most ``cap_at``; ``flag`` only marks it for review."""

    id: str = Field(min_length=1)
    description: str = ""
    when: Any
    mode: Literal["cap", "flag"]
    cap_at: str | None = None

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> Condition:
        return _condition(value)

    @model_validator(mode="after")
    def _cap_needs_tier(self) -> RiskGate:
        if self.mode == "cap" and not self.cap_at:
            raise ValueError("cap_at: required when mode is 'cap'")
        return self


class Override(_Strict):
    golden_account_id: str
    tier: str
    reason: str = Field(min_length=1)
    expires: date | None = None
    approved_by: str | None = None

    def active(self, as_of: date) -> bool:
        return self.expires is None or self.expires >= as_of


class Hysteresis(_Strict):
    """Margins are absolute per score; ``rank_margin`` is relative for top_percent/top_n."""

    margins: dict[str, float] = {}
    rank_margin: float = Field(default=0.0, ge=0, lt=1)
    min_dwell_days: int = Field(default=0, ge=0)
    downgrade_grace_days: int = Field(default=0, ge=0)
    # Hysteresis smooths a daily (or weekly) run's small moves. A previous state older than
    # this (the previous in-force snapshot's as-of date this many days or more before the
    # run's) says little about today's standing: margins, dwell, grace and quota seats are
    # not applied, and tiers follow the rules at once. None: always applied.
    stale_after_days: int | None = Field(default=None, gt=0)

    @field_validator("margins")
    @classmethod
    def _known_margins(cls, value: dict[str, float]) -> dict[str, float]:
        for key, margin in value.items():
            if key not in NUMERIC_SCORES:
                raise ValueError(f"{key}: unknown numeric score {key!r}")
            if margin < 0:
                raise ValueError(f"{key}: margin must be ≥ 0, got {margin}")
        return value


class Holdout(_Strict):
    """Control group: share of each tier held out, by hash(golden_account_id, salt)."""

    salt: str = Field(min_length=1)
    share: dict[str, float] = {}

    @field_validator("share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        for key, share in value.items():
            if not 0 <= share <= 1:
                raise ValueError(f"{key}: share must be within [0, 1], got {share}")
        return value


class TierPolicy(_Strict):
    version: str = Field(min_length=1)
    description: str = ""
    tiers: list[Tier] = Field(min_length=1)
    # By default no tier may be planned larger than the one below it: share quotas must not
    # shrink going down, and the fallback tier keeps at least what the quotas above leave.
    allow_larger_upper_tiers: bool = False
    fallback_tier: str
    prospects: Prospects
    risk_gates: list[RiskGate] = []
    overrides: list[Override] = []
    hysteresis: Hysteresis = Hysteresis()
    holdout: Holdout | None = None

    _content_hash: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _cross_references(self) -> TierPolicy:
        codes = [t.code for t in self.tiers]
        errors: list[str] = []
        seen: set[str] = set()
        for i, code in enumerate(codes):
            if code in seen:
                errors.append(f"tiers[{i}].code: duplicate tier code {code!r}")
            seen.add(code)
        rule_ids: set[str] = set()
        for i, tier in enumerate(self.tiers):
            for j, rule in enumerate(tier.rules):
                if rule.id in rule_ids or rule.id in ("prospect", "fallback"):
                    errors.append(f"tiers[{i}].rules[{j}].id: duplicate or reserved id {rule.id!r}")
                rule_ids.add(rule.id)
            if tier.quota is not None:
                target = tier.quota.demote_to
                if target is not None and target not in seen:
                    errors.append(f"tiers[{i}].quota.demote_to: unknown tier {target!r}")
                elif target is not None and codes.index(target) <= i:
                    errors.append(
                        f"tiers[{i}].quota.demote_to: {target!r} is not below {tier.code!r}"
                    )
                elif target is None and i == len(codes) - 1:
                    errors.append(f"tiers[{i}].quota: the last tier has no tier below to demote to")

        def check(key: str, code: str | None) -> None:
            if code is not None and code not in seen:
                errors.append(f"{key}: unknown tier {code!r} (tiers are {', '.join(codes)})")

        if not self.allow_larger_upper_tiers:
            errors.extend(self._size_errors())
        check("fallback_tier", self.fallback_tier)
        check("prospects.tier", self.prospects.tier)
        for i, gate in enumerate(self.risk_gates):
            check(f"risk_gates[{i}].cap_at", gate.cap_at)
        for i, override in enumerate(self.overrides):
            check(f"overrides[{i}].tier", override.tier)
        if self.holdout is not None:
            for code in self.holdout.share:
                check(f"holdout.share.{code}", code)
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _size_errors(self) -> list[str]:
        """Share quotas of one population, top down, that plan a tier larger than the next."""
        shares = [
            (i, t.quota.max_share, t.quota.population)
            for i, t in enumerate(self.tiers)
            if t.quota is not None and t.quota.max_share is not None
        ]
        errors = []
        for (i, share, pop), (j, below, pop_below) in zip(shares, shares[1:], strict=False):
            if pop == pop_below and share > below:
                errors.append(
                    f"tiers[{i}].quota.max_share: {share} is larger than tiers[{j}]'s {below}: "
                    "an upper tier may not be larger than the one below it (set "
                    "allow_larger_upper_tiers: true to allow it)"
                )
        by_pop: dict[str, float] = {}
        for _, share, pop in shares:
            by_pop[pop] = by_pop.get(pop, 0.0) + share
        for i, share, pop in shares[-1:]:
            if share > 1.0 - by_pop[pop] + 1e-9:
                errors.append(
                    f"tiers[{i}].quota.max_share: {share} leaves the tiers below only "
                    f"{1.0 - by_pop[pop]:.2f}: an upper tier may not be larger than the one "
                    "below it (set allow_larger_upper_tiers: true to allow it)"
                )
        return errors

    # -- convenience -------------------------------------------------------------------

    @property
    def content_hash(self) -> str:
        return self._content_hash

    @property
    def policy_version(self) -> str:
        """Human version + content hash, e.g. ``2025.1+3f2a9c81d0e4``."""
        return f"{self.version}+{self._content_hash}" if self._content_hash else self.version

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.tiers]

    def tier(self, code: str) -> Tier:
        return self.tiers[self.codes.index(code)]

    def rank(self, code: str) -> int:
        """0 for the best tier; larger is lower."""
        return self.codes.index(code)

    def active_overrides(self, as_of: date) -> list[Override]:
        return [o for o in self.overrides if o.active(as_of)]

    def expired_overrides(self, as_of: date) -> list[Override]:
        return [o for o in self.overrides if not o.active(as_of)]


def parse_policy(data: Mapping[str, Any], source: str | Path = "<policy>") -> TierPolicy:
    """Validate policy data (as loaded from YAML) into a :class:`TierPolicy`; problems raise
    :class:`~pipelines.config.loader.ConfigError` naming ``source`` and the key."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, [("", "the policy must be a mapping at top level")])
    policy = validate(TierPolicy, data, source)
    policy._content_hash = content_hash(dict(data))
    return policy


def load_policy(path: str | os.PathLike[str]) -> TierPolicy:
    """Load and validate the policy file at ``path``."""
    return parse_policy(read_yaml(Path(path)), source=str(path))
