"""Reports: read Results only (never the engine)."""
