"""The mesh heatmap of a many-core run: each core's busy share of the run, and beside it the bits
each router sent into the mesh (its four outgoing links), with core 0 (where the DRAM hangs) at
the bottom left. A board's chips sit side by side as on the board (chip 0 at the bottom left);
its chip-to-chip links are in the console and results.json, not on the map."""

from __future__ import annotations

import numpy as np

from neurosim.result_types import Results


def mesh_grids(r: Results) -> tuple[np.ndarray, np.ndarray]:
    """(busy share per core, bits sent per router) as ``[height, width]`` grids (y up)."""
    w, h = r.chip["mesh"]
    cx, cy = r.chip.get("chips", [1, 1])
    cores = w * h * cx * cy
    sent = np.zeros(cores)
    for link, bits in r.chip["link_bits"].items():
        if int(link) < 4 * cores:  # the chips' meshes (the board's links come after)
            sent[int(link) // 4] += bits
    return _board_grid(np.asarray(r.chip["core_utilization"], dtype=float), w, h, cx, cy), \
        _board_grid(sent, w, h, cx, cy)


def _board_grid(per_core: np.ndarray, w: int, h: int, cx: int, cy: int) -> np.ndarray:
    """Per-core values (chip by chip) as one ``[cy * h, cx * w]`` grid, each chip in its place."""
    chips = per_core.reshape(cy, cx, h, w)
    return chips.transpose(0, 2, 1, 3).reshape(cy * h, cx * w)


def plot_mesh(r: Results, fig=None):
    """Two heatmaps of the mesh: busy share per core, bits sent per router."""
    import matplotlib.pyplot as plt

    busy, sent = mesh_grids(r)
    h, w = busy.shape
    side = min(5.0, 1.0 + 0.25 * max(w, h))
    fig = fig if fig is not None else plt.figure(figsize=(2 * side + 1.5, side))
    for i, (grid, title, label) in enumerate(((busy, "core busy share", "of the run"),
                                              (sent, "bits sent into the mesh", "bits"))):
        ax = fig.add_subplot(1, 2, i + 1)
        im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="equal")
        ax.set_title(f"{r.config_name}: {title}", fontsize=9)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    fig.tight_layout()
    return fig
