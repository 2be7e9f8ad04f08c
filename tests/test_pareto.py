"""``neurosim pareto`` (issue #30 item 3) on the float stories260K, two recipes and two configs:
the table, the figure, each design's front by hand from the rows, and a second run that resumes
from the cache (nothing exported, evaluated or simulated again)."""

from __future__ import annotations

import json

import pytest
from helpers import ROOT, STORIES, STORIES_TEXT, needs_stories

pytest.importorskip("torch")
pytest.importorskip("transformers")

from neurosim.cli import main  # noqa: E402
from neurosim.sweep.pareto import front  # noqa: E402


def test_front_by_hand():
    """A point is on its design's front when no point of that design is at most as high on both
    axes and lower on one; other designs do not count, nor rows without the figure."""
    rows = [{"design": "a", "perplexity": 10.0, "x": 1.0}, {"design": "a", "perplexity": 8.0, "x": 2.0},
            {"design": "a", "perplexity": 9.0, "x": 3.0}, {"design": "a", "perplexity": 8.0, "x": 2.0},
            {"design": "b", "perplexity": 20.0, "x": 5.0}, {"design": "b", "perplexity": 1.0, "x": None}]
    assert front(rows, "x") == [True, True, False, True, True, False]


def test_a_missing_model_is_a_usage_error(tmp_path, capsys):
    """One line naming --model, exit 2, and no output written."""
    out = tmp_path / "out"
    assert main(["pareto", "--model", str(tmp_path / "nope"), "--text", str(ROOT / "README.md"), "--recipes", "w4a4",
                 "--hw", str(ROOT / "hw_configs/acc_if_64x64.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--model" in err and "not a model directory" in err and "Traceback" not in err
    assert not out.exists()


@needs_stories
def test_cache_keys_follow_contents(tmp_path):
    """The source key is the model's and text's contents: the same after the folder is copied
    elsewhere with new times (a shared folder made afresh), another when a byte changes."""
    import os
    import shutil

    from neurosim.sweep.pareto import ParetoPlan

    def key(model):
        return ParetoPlan(str(model), str(STORIES_TEXT), 16, 0, None, 1).source_key()
    a, b = tmp_path / "a", tmp_path / "elsewhere" / "b"
    shutil.copytree(STORIES, a)
    shutil.copytree(a, b)
    for f in b.iterdir():
        os.utime(f, (1e9, 1e9))
    assert key(a) == key(b) == key(STORIES)
    tok = next(f for f in b.iterdir() if f.name.startswith("tok"))
    data = bytearray(tok.read_bytes())
    data[-1] ^= 1
    tok.write_bytes(bytes(data))
    assert key(b) != key(a)


@needs_stories
def test_pareto_writes_the_table_and_figure_and_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "p"
    args = ["pareto", "--model", str(STORIES), "--text", str(STORIES_TEXT), "--recipes", "w4a4", "spikequant", "w4a8",
            "--hw", str(ROOT / "hw_configs/acc_if_64x64.yaml"), "--hw", str(ROOT / "hw_configs/mac_64x64_os.yaml"),
            "--tokens", "16", "--decode", "2", "--windows", "1", "--out", str(out)]
    assert main(args) == 0
    rows = json.loads((out / "pareto.json").read_text())
    assert [(r["recipe"], r["config"]) for r in rows] == [(r, c) for r in ("w4a4", "spikequant", "w4a8")
                                                          for c in ("acc_if_64x64", "mac_64x64_os")]
    ran, not_run = rows[:4], rows[4:]
    assert all(r["perplexity"] > 1 and r["prefill_j_per_token"] > 0 and r["decode_j_per_token"] > 0
               and r["error"] is None for r in ran)
    # 8-bit codes on the 4-bit arrays: rows without figures, off the fronts, saying why
    assert all(r["perplexity"] > 1 and r["decode_j_per_token"] is None and "cannot run" in r["error"]
               and not r["front_decode"] for r in not_run)
    assert rows[0]["perplexity"] == rows[1]["perplexity"]  # one evaluation per recipe, whatever the config
    for phase in ("prefill", "decode"):
        assert [r[f"front_{phase}"] for r in rows] == front(rows, f"{phase}_j_per_token")
    assert (out / "pareto.csv").read_text().count("\n") == 7 and (out / "pareto.png").stat().st_size > 0
    assert (out / "pareto.svg").exists()
    capsys.readouterr()

    import neurosim.export.runner as runner

    def refuse(*_, **__):
        raise AssertionError("a cached stage was run again")
    monkeypatch.setattr(runner, "run_export", refuse)
    monkeypatch.setattr(runner, "run_eval", refuse)
    monkeypatch.setattr("neurosim.engine.simulate.simulate", refuse)
    assert main(args) == 0
    assert json.loads((out / "pareto.json").read_text()) == rows
