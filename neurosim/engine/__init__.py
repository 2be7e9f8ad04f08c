"""Engine: tiling, the simpy pipeline of transfers and compute, and per-design op models."""
