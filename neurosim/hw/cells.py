"""Logic cell inventory of a component, for static power (and, later, area).

A component is counted in three kinds of cell-bits whose leakage the energy table gives per
node (``leak_reg_bit``, ``leak_adder_bit``, ``leak_mult_bit``, from Aladdin's TSMC 40 nm
characterisation): register (flip-flop) bits, adder bits (one full adder per bit of width) and
multiplier bit-products (an ``a x b`` array multiplier has ``a x b`` partial-product cells).
Floating-point units are approximated by their integer datapaths (see docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogicCells:
    """Counts of register bits, adder bits and multiplier bit-products."""

    reg_bits: int = 0
    adder_bits: int = 0
    mult_bits: int = 0

    def __add__(self, other: LogicCells) -> LogicCells:
        return LogicCells(self.reg_bits + other.reg_bits, self.adder_bits + other.adder_bits,
                          self.mult_bits + other.mult_bits)

    def times(self, n: int) -> LogicCells:
        """``n`` copies."""
        return LogicCells(self.reg_bits * n, self.adder_bits * n, self.mult_bits * n)


def register(bits: int) -> LogicCells:
    return LogicCells(reg_bits=bits)


def adder(bits: int) -> LogicCells:
    return LogicCells(adder_bits=bits)


def tree_levels(leaves: int) -> list[int]:
    """Adders at each level of a binary adder tree over ``leaves`` inputs (leaves - 1 in all):
    level l (from 1) has half the values of the level below, an odd one passing through."""
    out, n = [], leaves
    while n > 1:
        out.append(n // 2)
        n -= n // 2
    return out


def adder_tree(leaf_bits: int, leaves: int) -> LogicCells:
    """A binary adder tree over ``leaves`` inputs of ``leaf_bits``: level l's adders are
    ``leaf_bits + l`` wide (a sum grows one bit per level)."""
    return LogicCells(adder_bits=sum(n * (leaf_bits + lv) for lv, n in enumerate(tree_levels(leaves), 1)))


def multiplier(a_bits: int, b_bits: int) -> LogicCells:
    return LogicCells(mult_bits=a_bits * b_bits)


#: fp16: an 11 x 11 significand multiplier plus a 5-bit exponent add and rounding (16 adder bits).
FP16_MUL = multiplier(11, 11) + adder(16)
#: fp16 add: alignment shift, significand add and normalisation, about three 16-bit datapaths.
FP16_ADD = adder(48)
#: int32 -> fp16: leading-zero count and shift, about one 32-bit datapath.
CONVERT_I32_FP16 = adder(32)
