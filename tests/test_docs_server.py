"""make docs serves the dbt docs and the Data Docs at the addresses the assets link to."""

from __future__ import annotations

import urllib.request

import pytest

from pipelines import docs_server
from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from tests.config_files import CONFIG_DIR

CONFIG = load_model(PipelineConfig, CONFIG_DIR / "pipeline.yaml").model


def _get(server, path: str = "/") -> str:
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
        return response.read().decode("utf-8")


def test_sites_follow_the_catalog_urls_and_fall_back_to_a_placeholder(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATUM_QUALITY_DIR", str(tmp_path / "quality"))
    sites = docs_server.sites(CONFIG, tmp_path)
    assert [(name, host, port) for name, _, host, port in sites] == [
        ("dbt docs", "localhost", 8080),
        ("Great Expectations Data Docs", "localhost", 8081),
    ]
    assert sites[0][1].name == "target"
    assert sites[1][1] == tmp_path  # no validation yet: the placeholder page
    server = docs_server.start(sites[1][1], "127.0.0.1", 0)
    try:
        assert "No Great Expectations results yet" in _get(server)
    finally:
        server.shutdown()
        server.server_close()


def test_the_data_docs_folder_is_served_once_it_exists(tmp_path, monkeypatch):
    docs = tmp_path / "quality" / "data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<h1>Stratum data docs</h1>", encoding="utf-8")
    monkeypatch.setenv("STRATUM_QUALITY_DIR", str(tmp_path / "quality"))
    (_, _, _, _), (_, gx_dir, _, _) = docs_server.sites(CONFIG, tmp_path / "unused")
    assert gx_dir == docs
    server = docs_server.start(gx_dir, "127.0.0.1", 0)
    try:
        assert _get(server) == "<h1>Stratum data docs</h1>"
        with pytest.raises(urllib.error.HTTPError):
            _get(server, "/missing.html")
    finally:
        server.shutdown()
        server.server_close()
