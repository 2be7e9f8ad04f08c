"""Every shipped hardware config on every shipped trace: the functional check finds zero
accumulation mismatches (the arrays compute exactly the integer GEMM of the trace's codes)."""

from pathlib import Path

import pytest

from neurosim.api import simulate

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "hw_configs").glob("*.yaml"))
TRACES = sorted(p for p in (ROOT / "traces").iterdir() if (p / "manifest.json").is_file())


@pytest.mark.parametrize("trace", TRACES, ids=[t.name for t in TRACES])
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_check_passes(trace, config):
    r = simulate(trace, config, check=True)
    checked = [layer.check for layer in r.layers if layer.check]
    assert checked, "the shipped traces carry weight codes"
    assert sum(c["accumulation_mismatches"] for c in checked) == 0
