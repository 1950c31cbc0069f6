"""config/acceptances.yaml: what an acceptance may name, and the errors for what it may not."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError, load_stratum_config
from pipelines.quality.acceptances import AcceptancesFile
from tests.config_files import CONFIG_DIR

SHA = "3f2a9c1b7d2e4410" + "0" * 48
FILE_ENTRY = {
    "check": "quarantine_rate",
    "entity": "orders",
    "files": [f"orders/orders_2026-11-21.csv@{SHA[:12]}"],
    "accepted_by": "ops-oncall",
    "accepted_on": "2026-11-22",
    "reason": "Test orders with negative amounts; finance confirmed.",
}
VOLUME_ENTRY = {
    "check": "volume",
    "as_of": "2026-11-21",
    "metrics": ["accounts"],
    "accepted_by": "crm-team",
    "accepted_on": "2026-11-22",
    "reason": "Inactive accounts archived in the CRM (CRM-1234).",
}


def _load(tmp_path: Path, entries: list[dict]):
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    (root / "acceptances.yaml").write_text(yaml.safe_dump({"version": "1", "acceptances": entries}))
    return root, load_stratum_config(root)


def test_shipped_file_accepts_nothing_and_missing_file_means_none():
    config = load_stratum_config()
    assert config.acceptances.model.acceptances == []
    assert config.versions["acceptances"].startswith("1+")


def test_file_and_volume_acceptances_match_only_what_they_name(tmp_path):
    _, config = _load(tmp_path, [FILE_ENTRY, VOLUME_ENTRY])
    model: AcceptancesFile = config.acceptances.model
    assert model.for_files("quarantine_rate", "orders", [SHA]) == [model.acceptances[0]]
    assert model.for_files("quarantine_rate", "orders", [SHA, "ff" * 32]) == []  # not all files
    assert model.for_files("gx_orders", "orders", [SHA]) == []  # another check
    assert model.for_volume("volume", date(2026, 11, 21)) == model.acceptances[1]
    assert model.for_volume("volume", date(2026, 11, 22)) is None
    assert model.for_volume("tier_volume", date(2026, 11, 21)) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**FILE_ENTRY, "check": "quarantine"}, "acceptances[0].check: unknown check 'quarantine'"),
        ({**FILE_ENTRY, "files": ["orders/x.csv"]}, "acceptances[0].files: 'orders/x.csv' is not"),
        ({**FILE_ENTRY, "files": ["orders/x.csv@3f2a"]}, "acceptances[0].files: 'orders/x.csv@3f2a' is not"),
        ({**FILE_ENTRY, "accepted_by": "li.wei@example.com"}, "acceptances[0].accepted_by: use a handle"),
        ({**FILE_ENTRY, "entity": "order"}, "acceptances[0].entity: a file check needs one of"),
        ({**FILE_ENTRY, "check": "gx_risk"}, "acceptances[0].entity: gx_risk judges risk, not orders"),
        ({**VOLUME_ENTRY, "as_of": None}, "acceptances[0].as_of: a volume check accepts one as-of"),
        ({**VOLUME_ENTRY, "files": FILE_ENTRY["files"]}, "acceptances[0].as_of: a volume check"),
        ({**FILE_ENTRY, "reason": "ok"}, "acceptances[0].reason: String should have at least 10"),
        ({**FILE_ENTRY, "acceptd_by": "x"}, "acceptances[0].acceptd_by: unknown key"),
    ],
)  # fmt: skip
def test_bad_acceptances_name_the_file_and_key(tmp_path, entry, message):
    root = tmp_path / "config"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, [entry])
    assert f"{root / 'acceptances.yaml'}: {message}" in str(info.value)
