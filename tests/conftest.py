"""Shared fixtures: paths to the repository's shipped files."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "hw_configs"


@pytest.fixture
def hw_dir() -> Path:
    return HW


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.json from this run instead of comparing (commit the diff on its "
                          "own, saying why the numbers moved)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
