"""One look for every figure: a fixed colour per energy category, SI units chosen from the data,
and figures saved atomically as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

from neurosim.energy.categories import CATEGORIES
from neurosim.fsutil import atomic_write

#: Colour-blind-safe (Okabe-Ito) colours, one per category, the same in every plot (the mesh, a
#: many-core chip's, in black and the clock tree in Tol's wine: Okabe-Ito has eight colours).
CATEGORY_COLOURS = dict(zip(CATEGORIES, ("#0072B2", "#56B4E9", "#009E73", "#F0E442", "#000000", "#E69F00",
                                          "#999999", "#882255", "#CC79A7", "#D55E00"), strict=True))

#: The compute bar of a cycle plot in the compute category's colour, each stall cause after it in
#: this fixed order of Okabe-Ito and Tol colours (by the cause's name, so a cause keeps its colour
#: from one figure to the next).
CYCLE_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#CC79A7", "#999999", "#882255",
                 "#44AA99", "#117733", "#AA4499", "#332288")
#: Largest figure width in inches (x 120 dpi: under 2,000 px however many bars).
MAX_FIG_WIDTH_IN = 16.0


def cause_colour(cause: str) -> str:
    """The colour of a stall cause: stable across runs (a hash of its name into the palette)."""
    return CYCLE_COLOURS[sum(cause.encode()) % len(CYCLE_COLOURS)]


def fig_width(bars: int, per_bar: float = 0.6, least: float = 6.0) -> float:
    """A figure width in inches for ``bars`` bars, capped at :data:`MAX_FIG_WIDTH_IN`."""
    return min(MAX_FIG_WIDTH_IN, max(least, per_bar * bars))


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
        out.append(atomic_write(Path(out_dir) / f"{stem}.{ext}",
                                lambda f, ext=ext: fig.savefig(f, format=ext, dpi=120, bbox_inches="tight")))
    return out
