"""Energy: scaling formulas over cited tables, and counters x table -> breakdowns."""
