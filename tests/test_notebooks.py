"""The notebooks execute headless (nbclient) and are stored without outputs; the docs hold them
rendered."""

from pathlib import Path

import nbformat
import pytest
from helpers import HANG_GUARD_S
from nbclient import NotebookClient

NB = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["01_quickstart.ipynb", "02_sweep.ipynb", "03_export.ipynb", "04_acc_vs_mac.ipynb"])
def test_notebook_executes(name):
    nb = nbformat.read(NB / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(nb, timeout=HANG_GUARD_S, kernel_name="python3", resources={"metadata": {"path": str(NB)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "each notebook shows at least one plot"


@pytest.mark.parametrize("name", sorted(p.name for p in NB.glob("*.ipynb")))
def test_notebook_is_rendered_in_the_docs_with_a_sentence_per_cell(name):
    """Each code cell follows a markdown cell that says what it does, and the docs site holds the
    notebook rendered with its outputs (tools/render_notebooks.py): every cell's source and at
    least one figure."""
    import nbformat

    nb = nbformat.read(NB / name, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert all(kinds[i - 1] == "markdown" for i, k in enumerate(kinds) if k == "code"), kinds
    page = NB.parent / "docs" / "notebooks" / name.replace(".ipynb", ".md")
    text = page.read_text()
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.source.strip() in text, f"{page.name} is stale: python tools/render_notebooks.py"
    assert "![png](" in text
