"""The documentation site builds in strict mode (no broken links or references), and its
generated pages are current."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HANG_GUARD_S

ROOT = Path(__file__).resolve().parent.parent


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                       timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr[-3000:]
    for page in ("index", "getting_started", "results", "model", "trace_format", "hw_configs", "energy_sources", "api"):
        path = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert path.stat().st_size > 4000, page
    assert "vector_ops" in (tmp_path / "site/trace_format/index.html").read_text()  # the snippet was included


def test_energy_sources_page_is_current():
    from neurosim.energy.sources_doc import render

    assert (ROOT / "docs/energy_sources.md").read_text() == render(), \
        "docs/energy_sources.md is stale: python -m neurosim.energy.sources_doc > docs/energy_sources.md"
