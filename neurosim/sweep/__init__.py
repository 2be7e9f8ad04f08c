"""Sweeps: grids of config overrides over traces, run on local processes or Dask, stored point
by point so an interrupted sweep resumes where it stopped."""
