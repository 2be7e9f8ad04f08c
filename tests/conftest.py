"""Shared fixtures: paths to the repository's shipped files."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "hw_configs"


@pytest.fixture
def hw_dir() -> Path:
    return HW
