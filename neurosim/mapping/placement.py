"""A placement: frozen data that says where a model's weights live on a mesh of cores.

Each weight matrix (``K x N`` at ``weight_bits``) is split into ``n_split`` column blocks of
``shard_n`` outputs and, when one core cannot hold a column block, ``k_split`` row blocks of
``shard_k`` inputs (their partial sums are reduced over the NoC at the column block's first
core, which also keeps the block's per-channel constants). Shard ``(n, k)`` sits on
``cores[n * k_split + k]``. A test can build one by hand; :func:`Placement.to_dict` is what the
results carry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from neurosim.units import ceil_div

#: fp16 per-channel constant (MAC scale, IF threshold) kept beside each output column's weights.
CHANNEL_CONSTANT_BITS = 16


@dataclass(frozen=True)
class WeightPlacement:
    """One weight matrix's shards and the cores that hold them."""

    key: str
    K: int
    N: int
    weight_bits: int
    shard_n: int
    shard_k: int
    cores: tuple[int, ...]

    @property
    def n_split(self) -> int:
        return ceil_div(self.N, self.shard_n)

    @property
    def k_split(self) -> int:
        return ceil_div(self.K, self.shard_k)

    def shard(self, n: int, k: int) -> tuple[int, int]:
        """(outputs, inputs) of shard ``(n, k)`` (the last ones take what is left)."""
        return min(self.shard_n, self.N - n * self.shard_n), min(self.shard_k, self.K - k * self.shard_k)

    def shard_bits(self, n: int, k: int) -> int:
        """Bits shard ``(n, k)`` keeps: its weights, and at ``k == 0`` its columns' constants."""
        cols, rows = self.shard(n, k)
        return cols * rows * self.weight_bits + (cols * CHANNEL_CONSTANT_BITS if k == 0 else 0)


@dataclass(frozen=True)
class Placement:
    """Where every weight matrix of a trace lives on ``chips`` meshes of ``width x height`` cores
    (core ``c * width * height + i`` is core i of chip c), and which cores run each op
    (``op_cores``: op name -> cores, in the order of the op's shards)."""

    width: int
    height: int
    weight_capacity_bits: int
    weights: tuple[WeightPlacement, ...]
    op_cores: tuple[tuple[str, tuple[int, ...]], ...]
    chips: int = 1

    @property
    def cores(self) -> int:
        return self.width * self.height * self.chips

    @cached_property
    def _by_key(self) -> dict[str, WeightPlacement]:
        return {w.key: w for w in self.weights}

    def weight(self, key: str) -> WeightPlacement:
        return self._by_key[key]

    def core_weight_bits(self) -> np.ndarray:
        """Weight bits each core holds (``[cores]``)."""
        out = np.zeros(self.cores, np.int64)
        for w in self.weights:
            for n in range(w.n_split):
                for k in range(w.k_split):
                    out[w.cores[n * w.k_split + k]] += w.shard_bits(n, k)
        return out

    def cores_used(self) -> int:
        return int(np.count_nonzero(self.core_weight_bits()))

    def to_dict(self) -> dict:
        """The placement as plain data (results.json): the mesh, each matrix's split and cores,
        each op's cores, and the weight bits per core."""
        return {"mesh": [self.width, self.height], **({"chips": self.chips} if self.chips > 1 else {}),
                "weight_capacity_bits": self.weight_capacity_bits,
                "weights": [{**asdict(w), "cores": list(w.cores), "n_split": w.n_split, "k_split": w.k_split}
                            for w in self.weights],
                "op_cores": {name: list(cores) for name, cores in self.op_cores},
                "core_weight_bits": self.core_weight_bits().tolist()}
