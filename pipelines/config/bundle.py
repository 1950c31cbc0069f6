"""Every configuration file of a run, loaded and cross-checked once.

:func:`load_stratum_config` reads the whole ``config/`` tree (``STRATUM_CONFIG_DIR`` or the
repo's) plus the chosen tier policy into one frozen :class:`StratumConfig`. A run resolves it
once (:mod:`pipelines.run_context`) and every asset reads its rules from there, so one run
cannot mix two versions of a file.

Beyond each file's own schema, names that point elsewhere are checked here: the fit score's
industry codes against the dbt ``industry_map`` seed, the quality policy's suites and
severity overrides against ``expectations/*.json``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config.loader import ConfigError, Loaded, combine_versions, load_model, read_yaml
from pipelines.config.pipeline import PipelineConfig
from pipelines.identity.config import (
    Decisions,
    IdentityConfig,
    load_decisions,
    load_identity_config,
)
from pipelines.ingest.sources_config import SourceConfig, SourcesFile, resolve_sources
from pipelines.privacy.config import PrivacyConfig
from pipelines.quality.acceptances import AcceptancesFile, load_acceptances
from pipelines.quality.config import QualityConfig, cross_check
from pipelines.scoring.abc import AbcConfig
from pipelines.scoring.behaviour import BehaviourConfig
from pipelines.scoring.clustering import ClusteringConfig
from pipelines.scoring.clv import ClvConfig
from pipelines.scoring.features import ACTIVITY_TYPES, feature_settings
from pipelines.scoring.fit import FitConfig
from pipelines.scoring.models.config import ModelsConfig
from pipelines.scoring.rfm import RfmConfig
from pipelines.scoring.risk import RiskConfig
from pipelines.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, config_dir, tier_policy_override
from pipelines.tiering.policy import TierPolicy, parse_policy

# Scoring rule files under config/scoring/, by score name.
SCORING_MODELS: dict[str, type] = {
    "rfm": RfmConfig,
    "abc": AbcConfig,
    "clustering": ClusteringConfig,
    "behaviour": BehaviourConfig,
    "fit": FitConfig,
    "clv": ClvConfig,
    "risk": RiskConfig,
    "models": ModelsConfig,
}
INDUSTRY_SEED = DBT_PROJECT_DIR / "seeds" / "industry_map.csv"


@dataclass(frozen=True)
class StratumConfig:
    """The configuration of one run. ``versions`` lists every file's version."""

    config_dir: Path
    pipeline: Loaded[PipelineConfig]
    sources: Loaded[SourcesFile]
    source_settings: dict[str, SourceConfig]
    quality: Loaded[QualityConfig]
    scoring: dict[str, Loaded]
    policy: Loaded[TierPolicy]
    privacy: Loaded[PrivacyConfig]
    identity: Loaded[IdentityConfig]
    identity_decisions: Loaded[Decisions]
    versions: dict[str, str] = field(default_factory=dict)
    # Explicit acceptances of blocked checks (config/acceptances.yaml; none when absent).
    acceptances: Loaded[AcceptancesFile] = field(
        default_factory=lambda: Loaded(AcceptancesFile(), "none", Path("acceptances.yaml"))
    )

    def rules(self, score: str):  # -> the score's config model
        """The validated rules of one score (``rfm``, ``clv``, ...)."""
        return self.scoring[score].model

    def rules_version_of(self, score: str) -> str:
        return self.scoring[score].version

    @property
    def rules_version(self) -> str:
        """One version for all scoring rules together (changes when any file changes)."""
        return combine_versions({k: v.version for k, v in self.scoring.items()})

    @property
    def policy_version(self) -> str:
        return self.policy.version

    def feature_settings(self) -> dict:
        """Windows and decay of the feature layer, for dbt (``feature_settings`` var)."""
        return feature_settings(self.rules("rfm"), self.rules("behaviour"), self.rules("models"))


def industry_codes(seed: Path = INDUSTRY_SEED) -> set[str]:
    """The industry codes the dbt project maps raw values to (``industry_map`` seed)."""
    with seed.open(encoding="utf-8", newline="") as fh:
        return {row["industry_code"] for row in csv.DictReader(fh)}


def _check_fit_industries(fit: Loaded[FitConfig]) -> None:
    known = industry_codes()
    problems = []
    for name, rule in fit.model.rules.items():
        if rule.column != "industry":
            continue
        for code in sorted(set(rule.scores or {}) - known):
            problems.append(
                (
                    f"rules.{name}.scores.{code}",
                    f"unknown industry code (known: {', '.join(sorted(known))}; "
                    f"see {INDUSTRY_SEED.relative_to(DBT_PROJECT_DIR.parent)})",
                )
            )
    if problems:
        raise ConfigError(fit.path, problems)


def _check_activity_types(behaviour: Loaded[BehaviourConfig]) -> None:
    unknown = sorted(set(behaviour.model.types) - set(ACTIVITY_TYPES))
    if unknown:
        raise ConfigError(
            behaviour.path,
            [
                (
                    f"types.{name}",
                    f"not an activity type of the landing contract ({', '.join(ACTIVITY_TYPES)})",
                )
                for name in unknown
            ],
        )


def load_policy_file(path: Path) -> Loaded[TierPolicy]:
    policy = parse_policy(read_yaml(path), source=path)
    return Loaded(policy, policy.policy_version, path)


def load_stratum_config(
    root: Path | None = None, policy_path: Path | str | None = None
) -> StratumConfig:
    """Load and cross-check every configuration file.

    ``root``: the config tree (default ``STRATUM_CONFIG_DIR`` or ``<repo>/config``).
    ``policy_path``: the tier policy (default ``STRATUM_TIER_POLICY`` or
    ``<root>/tiers/default.yaml``). Raises :class:`ConfigError` naming the file and key.
    """
    root = Path(root) if root is not None else config_dir()
    policy = Path(policy_path) if policy_path else tier_policy_override()
    pipeline = load_model(PipelineConfig, root / "pipeline.yaml")
    sources = load_model(SourcesFile, root / "sources.yaml")
    quality = load_model(QualityConfig, root / "quality.yaml")
    privacy = load_model(PrivacyConfig, root / "privacy.yaml")
    problems = cross_check(quality.model, EXPECTATIONS_DIR)
    if problems:
        raise ConfigError(quality.path, problems)
    scoring = {
        name: load_model(model, root / "scoring" / f"{name}.yaml")
        for name, model in SCORING_MODELS.items()
    }
    _check_fit_industries(scoring["fit"])
    _check_activity_types(scoring["behaviour"])
    tier_policy = load_policy_file(policy or root / "tiers" / "default.yaml")
    identity, decisions = load_identity_config(root), load_decisions(root)
    acceptances = load_acceptances(root / "acceptances.yaml")
    versions = {
        "pipeline": pipeline.version,
        "sources": sources.version,
        "quality": quality.version,
        "privacy": privacy.version,
        **{f"scoring/{name}": loaded.version for name, loaded in scoring.items()},
        "policy": tier_policy.version,
        "identity": identity.version,
        "identity_decisions": decisions.version,
        "acceptances": acceptances.version,
    }
    return StratumConfig(
        config_dir=root,
        pipeline=pipeline,
        sources=sources,
        source_settings=resolve_sources(sources.model, sources.path),
        quality=quality,
        scoring=scoring,
        policy=tier_policy,
        privacy=privacy,
        identity=identity,
        identity_decisions=decisions,
        versions=versions,
        acceptances=acceptances,
    )
