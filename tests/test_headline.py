"""The headline is a golden value: the ACC-vs-MAC numbers README.md and docs/acc_vs_mac.md quote
come from ``docs/acc_vs_mac.json``, which ``python benchmarks/acc_vs_mac_doc.py`` writes. Here they
are recomputed from the shipped configs on the shipped real trace, and both documents must hold
exactly the text rendered from the stored file: a change that moves the answer fails until the
file (and the documents) are regenerated on purpose."""

import importlib.util
import json
import re
from pathlib import Path

from golden import mismatches

from neurosim.answer import CITED, best_pair, docs_home_answer, headline_numbers, pair_table, readme_answer
from neurosim.api import sensitivity

ROOT = Path(__file__).resolve().parent.parent
STORED = json.loads((ROOT / "docs/acc_vs_mac.json").read_text())


def _doc_script():
    spec = importlib.util.spec_from_file_location("acc_vs_mac_doc", ROOT / "benchmarks/acc_vs_mac_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_headline_numbers_are_the_stored_ones(tmp_path):
    doc = _doc_script()
    assert STORED["trace"] == doc.REAL.name
    df, runs = pair_table(doc.REAL, doc.ACCS, doc.MACS)
    acc, mac = best_pair(runs, doc.ACCS, doc.MACS)
    assert runs[CITED, acc].config_name == STORED["headline"]["best_pair"]["acc"]
    sens = sensitivity((acc, mac), doc.REAL, tmp_path / "sens", jobs=1, plots=False)
    now = {"headline": headline_numbers(df, runs, doc.ACCS, doc.MACS), **doc.sensitivity_summary(sens)}
    bad = mismatches({k: STORED[k] for k in now}, json.loads(json.dumps(now)))
    assert not bad, "the ACC-vs-MAC answer moved; regenerate it on purpose (python benchmarks/acc_vs_mac_doc.py) " \
        "and commit it on its own, saying why:\n" + "\n".join(bad)


def test_readme_and_doc_quote_the_stored_numbers():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- answer:start -->\n(.*?)\n<!-- answer:end -->", readme, flags=re.S)
    assert block is not None, "README.md lost its answer markers"
    assert block[1] == readme_answer(STORED["headline"])
    home = re.search(r"<!-- answer:start -->\n(.*?)\n<!-- answer:end -->", (ROOT / "docs/index.md").read_text(),
                     flags=re.S)
    assert home is not None and home[1] == docs_home_answer(STORED["headline"])
    assert _doc_script().answer_paragraph(STORED) in (ROOT / "docs/acc_vs_mac.md").read_text()
