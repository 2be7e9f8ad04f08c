"""docs/recipes.md's tables, written by ``benchmarks/recipe_table.py``: the row format by hand, and the
shipped page checked against the script's recipe list and its own float perplexity."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("recipe_table", ROOT / "benchmarks/recipe_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(recipe, config, ppl, error=None, prefill=None, decode=None, salient=0.02):
    return {"recipe": recipe, "config": config, "perplexity": ppl, "salient_ratio": salient,
            "spikes_per_activation": 2.5, "error": error, "prefill_j_per_token": prefill,
            "decode_j_per_token": decode}


def test_rows_by_hand():
    rows = [_row("a", "acc_if_64x64", 30.0, prefill=6.5e-6, decode=1.35e-4),
            _row("a", "mac_64x64_os", 30.0, prefill=8.25e-6, decode=2.0e-4),
            _row("a", "mac_64x64_os_outlier", 30.0, prefill=7.0e-6, decode=1.5e-4),
            _row("b", "acc_if_64x64", 12093.17, error="does not fit", salient=None),
            _row("b", "mac_64x64_os", 12093.17, prefill=5.812e-6, decode=1.66e-4, salient=None)]
    lines = _script().table(rows, float_ppl=24.0)
    assert lines[0].count("|") == lines[1].count("|") == 12
    assert lines[2] == "| a | 30.00 | 1.25 | 2.00% | 2.500 | 6.500 | 8.250 | 7.000 | 135.000 | 200.000 | 150.000 |"
    assert lines[3] == "| b | 12,093 | 503.9 | - | 2.500 | - | 5.812 | - | - | 166.000 | - |"


def test_splice_replaces_only_its_model_section():
    doc = "x\n<!-- recipes:m -->\nold\n<!-- recipes:m:end -->\n<!-- recipes:n -->\nkeep\n<!-- recipes:n:end -->\n"
    out = _script().splice(doc, "m", ["new", "rows"])
    assert out == ("x\n<!-- recipes:m -->\nnew\nrows\n<!-- recipes:m:end -->\n"
                   "<!-- recipes:n -->\nkeep\n<!-- recipes:n:end -->\n")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("model", ["stories260k", "smollm2"])
def test_the_shipped_table_covers_every_recipe_against_its_float(model):
    script = _script()
    doc = (ROOT / "docs/recipes.md").read_text()
    section = doc[doc.index(f"<!-- recipes:{model} -->"):doc.index(f"<!-- recipes:{model}:end -->")]
    assert "so far" not in section, f"the {model} table is partial: rerun benchmarks/recipe_table.py"
    float_ppl = float(re.search(r"float perplexity ([\d.]+)", section).group(1))
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r[0][2:] for r in rows] == script.RECIPES
    for r in rows:
        ppl, ratio = _number(r[1]), _number(r[2])
        assert ratio == pytest.approx(ppl / float_ppl, rel=1e-3, abs=0.006), r[0]  # both printed rounded
