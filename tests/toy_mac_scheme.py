"""A toy MAC array organisation in one file: the measure of "adding a MAC scheme is one module
plus its registration" (tests/test_mac_schemes.py runs it end to end).

``toy_ideal``: an idealised output-stationary array whose every fold (R tokens x C outputs)
takes exactly K cycles (no skewed fill or drain), reads its operands once per fold, never
stalls, and counts one action of its own, ``mac_array.fold_start`` (priced as one register bit
per PE: the start signal reaching every PE).
"""

from neurosim.energy import scaling as sc
from neurosim.engine.mac_schemes.base import ORGANISATIONS, FoldCost, MacOrganisation, psum_round_trip
from neurosim.hw.cells import adder, multiplier, register
from neurosim.units import ceil_div


@ORGANISATIONS.register("toy_ideal")
class ToyIdeal(MacOrganisation):
    weight_stationary = False
    counter_names = ("mac", "mac_extra_pass", "digit_add", "fold_start")

    def fold_cost(self, spec, srams, passes, Mb, Kb, Nb, first_k, last_k):
        a = spec.array
        cost = FoldCost()
        for g, p in enumerate(int(p) for p in passes):
            rows = min(a.rows, Mb - g * a.rows)
            for j in range(ceil_div(Nb, a.cols)):
                cols = min(a.cols, Nb - j * a.cols)
                srams["act_sram"].read(p, rows * Kb * a.act_bits)
                srams["weight_sram"].read(p, Kb * cols * a.weight_bits)
                cost.compute += p * Kb
                cost.work["folds"] += p
                cost.macs += rows * Kb * cols
                cost.extra_pass_macs += (p - 1) * rows * Kb * cols
                cost.extra_pass_outputs += (p - 1) * rows * cols
        if not (first_k and last_k):
            psum_round_trip(srams["output_sram"], Mb * Nb * a.acc_bits, first_k, last_k)
        return cost

    def counts(self, spec, cost):
        return {"mac": cost.macs, "mac_extra_pass": cost.extra_pass_macs, "digit_add": cost.extra_pass_outputs,
                "fold_start": cost.work["folds"]}

    def cells(self, spec):
        return (multiplier(spec.act_bits, spec.weight_bits) + adder(spec.acc_bits) + register(spec.acc_bits)) \
            .times(spec.rows * spec.cols)

    def energies(self, spec, table):
        a = spec.array
        mac = sc.mac_pj(table, a.act_bits, a.weight_bits, a.acc_bits)
        return {"mac_array.mac": mac, "mac_array.mac_extra_pass": mac,
                "mac_array.digit_add": sc.int_add_pj(table, a.acc_bits),
                "mac_array.fold_start": table["register_bit"] * a.rows * a.cols}
