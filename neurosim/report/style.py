"""One look for every figure: a fixed colour per energy category, SI units chosen from the data,
and figures saved atomically as PNG and SVG."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from neurosim.energy.categories import CATEGORIES
from neurosim.fsutil import umask

#: Colour-blind-safe (Okabe-Ito) colours, one per category, the same in every plot (the mesh, a
#: many-core chip's, in black and the clock tree in Tol's wine: Okabe-Ito has eight colours).
CATEGORY_COLOURS = dict(zip(CATEGORIES, ("#0072B2", "#56B4E9", "#009E73", "#F0E442", "#000000", "#E69F00",
                                          "#999999", "#882255", "#CC79A7", "#D55E00"), strict=True))

_ENERGY_UNITS = (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3), ("pJ", 1.0))


def energy_unit(max_pj: float) -> tuple[str, float]:
    """(unit, pJ per unit) that shows ``max_pj`` as a number from 1 to 1000."""
    for unit, f in _ENERGY_UNITS:
        if abs(max_pj) >= f:
            return unit, f
    return "pJ", 1.0


def fmt_energy(pj: float) -> str:
    unit, f = energy_unit(pj)
    return f"{pj / f:.3g} {unit}"


def save_figure(fig, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` into ``out_dir``, each complete or not at all."""
    out = []
    for ext in ("png", "svg"):
        path = Path(out_dir) / f"{stem}.{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.{ext}.tmp-", dir=out_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format=ext, dpi=120, bbox_inches="tight")
            os.chmod(tmp, 0o666 & ~umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out.append(path)
    return out
