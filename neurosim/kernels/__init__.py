"""numba kernels: arrays and ints in, arrays and ints out; no config objects. Each ``@njit``
function keeps its ``.py_func`` twin, which the property tests use as the reference."""
