"""Render the notebooks into the docs site: execute each (nbclient, in ``notebooks/``) and write it
as a Markdown page with its outputs and figures (nbconvert) into ``docs/notebooks/``.

    python tools/render_notebooks.py        # a few minutes on 2 cores (the sweep and the study run)
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "docs" / "notebooks"


def render(path: Path) -> Path:
    """Execute one notebook and write its page (and its figures beside it)."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    body, resources = MarkdownExporter().from_notebook_node(nb, resources={"output_files_dir": f"{path.stem}_files"})
    figures = OUT / f"{path.stem}_files"
    shutil.rmtree(figures, ignore_errors=True)
    for name, data in resources.get("outputs", {}).items():
        (OUT / name).parent.mkdir(parents=True, exist_ok=True)
        (OUT / name).write_bytes(data)
    page = OUT / f"{path.stem}.md"
    source = f"notebooks/{path.name}"
    page.write_text(f"<!-- rendered from {source} by tools/render_notebooks.py: do not edit -->\n\n{body}")
    return page


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        t = time.perf_counter()
        print(f"{render(path).relative_to(ROOT)}: {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
