"""A cache of what an op model derives from activation tensors (code-block walks, salient counts,
precision passes), keyed by tuples whose first element is the tensor's name, that keeps the
entries of the most recently used tensors only.

The ops that share a derivation read one tensor close together (q/k/v, gate/up; a synthetic
trace's attention operands, shared by every layer, come back every layer), so a few tensors'
entries give every hit a whole-run cache gives, while the run's memory no longer grows with its
layers and tokens (a 7B-shaped prefill kept several GB of walks). An entry dropped and asked for
again is derived again: the derivations are pure, so no count depends on the bound.
``functools.lru_cache`` bounds entries, not groups of them, hence this small class.
"""

from __future__ import annotations

from collections import OrderedDict

#: Tensors whose entries are kept: a decoder layer reads about six activation tensors.
RECENT_TENSORS = 16


class TensorCache:
    """A mapping from keys ``(tensor, ...)`` to values, keeping the last ``tensors`` tensors'."""

    def __init__(self, tensors: int = RECENT_TENSORS):
        self.tensors = tensors
        self._by_tensor: OrderedDict[object, dict[tuple, object]] = OrderedDict()

    def _group(self, key: tuple) -> dict[tuple, object] | None:
        group = self._by_tensor.get(key[0])
        if group is not None:
            self._by_tensor.move_to_end(key[0])
        return group

    def __contains__(self, key: tuple) -> bool:
        group = self._group(key)
        return group is not None and key in group

    def __getitem__(self, key: tuple):
        group = self._group(key)
        if group is None:
            raise KeyError(key)
        return group[key]

    def __setitem__(self, key: tuple, value) -> None:
        group = self._group(key)
        if group is None:
            group = self._by_tensor[key[0]] = {}
            while len(self._by_tensor) > self.tensors:
                self._by_tensor.popitem(last=False)
        group[key] = value

    def update(self, pairs) -> None:
        for key, value in pairs:
            self[key] = value

    def __len__(self) -> int:
        return sum(len(g) for g in self._by_tensor.values())
