"""One configuration loader: every file loads, every misspelled key is named with its file,
names that point elsewhere are checked, and environment overrides live in one place."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError, load_stratum_config
from pipelines.config.bundle import industry_codes
from pipelines.settings import ENV_OVERRIDES, REPO_ROOT
from tests.config_files import CONFIG_DIR

CONFIG_FILES = sorted(
    p.relative_to(CONFIG_DIR).as_posix()
    for p in CONFIG_DIR.rglob("*.yaml")
    if p.name not in {"dagster.yaml", "run_config.yaml"}  # Dagster's own files
)
VERSION = re.compile(r"[^+]+\+[0-9a-f]{12}")


@pytest.fixture
def config_tree(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    return root


def _load(root: Path, relative: str):
    policy = root / relative if relative.startswith("tiers/") else None
    return load_stratum_config(root, policy_path=policy)


def test_every_config_file_loads_with_one_version_scheme():
    config = load_stratum_config()
    assert {"pipeline", "sources", "quality", "policy"} <= set(config.versions)
    assert {f"scoring/{n}" for n in config.scoring} <= set(config.versions)
    assert all(VERSION.fullmatch(v) for v in config.versions.values()), config.versions
    assert re.fullmatch(r"[0-9a-f]{12}", config.rules_version)
    for policy in ("tiers/default.yaml", "tiers/vip_svip.yaml"):
        assert _load(CONFIG_DIR, policy).policy.path.name == Path(policy).name
    assert set(CONFIG_FILES) >= {"pipeline.yaml", "sources.yaml", "quality.yaml"}


@pytest.mark.parametrize("relative", CONFIG_FILES)
def test_misspelled_top_level_key_names_file_and_key(config_tree: Path, relative: str):
    path = config_tree / relative
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    key = next(k for k in data if k != "version")
    data[key + "s"] = data.pop(key)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _load(config_tree, relative)
    assert f"{path}: {key}s: unknown key" in str(info.value)


@pytest.mark.parametrize(
    ("relative", "mutate", "expected_key"),
    [
        ("pipeline.yaml", lambda d: d["partitions"].update(start_dat="2024-01-01"),
         "partitions.start_dat: unknown key"),
        ("pipeline.yaml", lambda d: d["catalog"]["groups"].update(scorng={}),
         "catalog.groups.scorng: unknown asset group"),
        ("sources.yaml", lambda d: d["sources"]["orders"].update(quarantine_rate=0.1),
         "sources.orders.quarantine_rate: unknown key"),
        ("quality.yaml", lambda d: d["suites"]["orders"].update(severty="WARN"),
         "suites.orders.severty: unknown key"),
        ("scoring/rfm.yaml", lambda d: d["recency"].update(bin=5),
         "recency.bin: unknown key"),
        ("scoring/clv.yaml", lambda d: d.update(horizon_dayz=365),
         "horizon_dayz: unknown key"),
        ("tiers/default.yaml", lambda d: d["tiers"][0].update(quotas={}),
         "tiers[0].quotas: unknown key"),
    ],
)  # fmt: skip
def test_misspelled_nested_key_names_file_and_key(config_tree, relative, mutate, expected_key):
    path = config_tree / relative
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _load(config_tree, relative)
    assert f"{path}: {expected_key}" in str(info.value)


def test_fit_industries_must_exist_in_the_dbt_seed(config_tree: Path):
    shipped = load_stratum_config().rules("fit")
    assert set(shipped.rules["industry"].scores) <= industry_codes()
    path = config_tree / "scoring" / "fit.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["rules"]["industry"]["scores"]["electronics_manufacturing"] = 0.9
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_stratum_config(config_tree)
    message = str(info.value)
    assert f"{path}: rules.industry.scores.electronics_manufacturing: unknown industry code" in (
        message
    )
    assert "electronics" in message and "industry_map.csv" in message


def test_quality_overrides_must_name_an_expectation(config_tree: Path):
    path = config_tree / "quality.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["suites"]["orders"]["expectations"]["expect_column_values_to_be_in_set:stauts"] = "WARN"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="expect_column_values_to_be_in_set:stauts: matches no"):
        load_stratum_config(config_tree)


def test_version_ignores_formatting_but_not_values(config_tree: Path):
    before = load_stratum_config(config_tree).versions
    path = config_tree / "scoring" / "abc.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text("# reviewed 2026-11\n" + text, encoding="utf-8")
    assert load_stratum_config(config_tree).versions == before
    data = yaml.safe_load(text)
    data["cuts"].update(A=75, B=20)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    after = load_stratum_config(config_tree).versions
    assert after["scoring/abc"] != before["scoring/abc"]
    assert {k for k in after if after[k] != before[k]} == {"scoring/abc"}


def _python_sources() -> list[Path]:
    return sorted((REPO_ROOT / "pipelines").rglob("*.py"))


def test_environment_overrides_are_read_in_one_place():
    readers = re.compile(
        r"os\.environ(?:\.get)?[\[(]\s*[\"'](STRATUM_\w+)|getenv\([\"'](STRATUM_\w+)"
    )
    found: dict[str, set[str]] = {}
    for path in _python_sources():
        for match in readers.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(path.relative_to(REPO_ROOT).as_posix(), set()).add(
                match.group(1) or match.group(2)
            )
    assert found == {"pipelines/launch.py": {"STRATUM_AS_OF"}}
    # settings reads its variables through one documented table.
    settings = (REPO_ROOT / "pipelines" / "settings.py").read_text(encoding="utf-8")
    for name in re.findall(r'_env(?:_path)?\("(STRATUM_\w+)"', settings):
        assert name in ENV_OVERRIDES


def test_as_of_comes_from_the_run_not_the_clock_or_the_environment():
    hits = [
        f"{path.relative_to(REPO_ROOT)}:{n}"
        for path in _python_sources()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "STRATUM_AS_OF" in line or "date.today" in line
    ]
    assert len(hits) == 1 and hits[0].startswith("pipelines/launch.py:"), hits
