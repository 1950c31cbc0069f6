"""``make docs``: serve the dbt docs and the Great Expectations Data Docs side by side.

Both sites are static files — dbt's ``target/`` after ``dbt docs generate``, and the Data Docs
that every validation updates under ``<quality dir>/data_docs`` — served at the addresses of
``catalog.dbt_docs_url`` and ``catalog.data_docs_url`` in ``config/pipeline.yaml``, the links
the Dagster assets carry. One process serves both; Ctrl-C stops both.

    python -m pipelines.docs_server
"""

from __future__ import annotations

import functools
import sys
import tempfile
import threading
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from pipelines.quality.gx_runner import data_docs_dir
from pipelines.settings import DBT_PROJECT_DIR, config_dir

NO_DATA_DOCS = """<!doctype html><meta charset="utf-8"><title>Data Docs</title>
<h1>No Great Expectations results yet</h1>
<p>Data Docs appear here after the first run validates a delivery (<code>make run</code>).</p>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass


def start(directory: Path, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``directory`` on ``host:port`` (0: any free port) from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _address(url: object, default_port: int) -> tuple[str, int]:
    parts = urlsplit(str(url))
    return parts.hostname or "localhost", parts.port or default_port


def sites(cfg: PipelineConfig, placeholder_dir: Path) -> list[tuple[str, Path, str, int]]:
    """(name, directory, host, port) of each site to serve."""
    dbt_host, dbt_port = _address(cfg.catalog.dbt_docs_url or "http://localhost:8080", 8080)
    gx_host, gx_port = _address(cfg.catalog.data_docs_url or "http://localhost:8081", 8081)
    data_docs = data_docs_dir()
    if not (data_docs / "index.html").exists():
        (placeholder_dir / "index.html").write_text(NO_DATA_DOCS, encoding="utf-8")
        data_docs = placeholder_dir
    return [
        ("dbt docs", DBT_PROJECT_DIR / "target", dbt_host, dbt_port),
        ("Great Expectations Data Docs", data_docs, gx_host, gx_port),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    cfg = load_model(PipelineConfig, config_dir() / "pipeline.yaml").model
    if not (DBT_PROJECT_DIR / "target" / "index.html").exists():
        print("error: no dbt docs: run `dbt docs generate` first (make docs does)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="stratum-docs-") as placeholder:
        servers = []
        for name, directory, host, port in sites(cfg, Path(placeholder)):
            servers.append(start(directory, host, port))
            print(f"{name}: http://{host}:{port}/  ({directory})")
        print("Ctrl-C stops both.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
