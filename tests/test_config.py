"""Hardware config loading: shipped configs valid, one negative test per validation rule."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from neurosim.config import AccIfSpec, MacSpec, load_hw_config
from neurosim.config.docs import all_tables
from neurosim.config.hw import sram_specs
from neurosim.config.schema import to_plain
from neurosim.errors import ConfigError, UsageError

HW = Path(__file__).resolve().parent.parent / "hw_configs"
SHIPPED = sorted(HW.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    spec = load_hw_config(path)
    assert spec.name == path.stem


def test_matched_pair_shares_clock_node_dram_interconnect_and_sram_budget():
    for acc_name, mac_name in [("acc_if_64x64", "mac_64x64_os"), ("tiny_acc_if", "tiny_mac")]:
        acc, mac = load_hw_config(HW / f"{acc_name}.yaml"), load_hw_config(HW / f"{mac_name}.yaml")
        assert isinstance(acc, AccIfSpec) and isinstance(mac, MacSpec)
        assert (acc.clock_mhz, acc.technology, acc.dram, acc.interconnect, acc.leakage) == (
            mac.clock_mhz, mac.technology, mac.dram, mac.interconnect, mac.leakage)
        budget = [sum(s.size_kib for s in sram_specs(x).values()) for x in (acc, mac)]
        assert budget[0] == budget[1]
        assert (acc.array.rows, acc.array.cols) == (mac.array.rows, mac.array.cols)


def test_specs_are_frozen():
    spec = load_hw_config(HW / "tiny_mac.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.clock_mhz = 1.0  # type: ignore[misc]


def _write(tmp_path, text, name="cfg.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _problems(path, overrides=()):
    with pytest.raises(ConfigError) as ei:
        load_hw_config(path, overrides)
    assert ei.value.source == str(path)
    return {p.path: p.message for p in ei.value.problems}


BASE = (HW / "tiny_acc_if.yaml").read_text()


def test_duplicate_key_is_rejected(tmp_path):
    p = _write(tmp_path, BASE + "clock_mhz: 300\n")
    probs = _problems(p)
    assert "duplicate key" in probs["clock_mhz"]


def test_duplicate_nested_key_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("dram: {type: LPDDR4,", "dram: {type: LPDDR4, type: HBM2,"))
    assert "duplicate key" in _problems(p)["type"]


def test_unknown_key_lists_allowed_keys(tmp_path):
    p = _write(tmp_path, BASE.replace("array: {rows: 8,", "array: {rowz: 3, rows: 8,"))
    msg = _problems(p)["array.rowz"]
    assert "unknown key" in msg and "rows, cols, membrane_bits" in msg


def test_unknown_top_level_key(tmp_path):
    assert "unknown key" in _problems(_write(tmp_path, BASE + "turbo: true\n"))["turbo"]


def test_negative_clock_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("clock_mhz: 200", "clock_mhz: -200"))
    assert "at least 1 MHz" in _problems(p)["clock_mhz"]


def test_zero_bit_width_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("membrane_bits: 16", "membrane_bits: 0"))
    assert "at least 1" in _problems(p)["array.membrane_bits"]


def test_bit_width_above_32_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("weight_bits: 4", "weight_bits: 33"))
    assert "at most 32" in _problems(p)["array.weight_bits"]


def test_wrong_type_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("rows: 8", "rows: eight"))
    assert "must be an integer" in _problems(p)["array.rows"]


def test_bool_is_not_an_integer(tmp_path):
    p = _write(tmp_path, BASE.replace("rows: 8", "rows: true"))
    assert "must be an integer" in _problems(p)["array.rows"]


def test_bad_choice_is_rejected(tmp_path):
    p = _write(tmp_path, BASE.replace("dispatch: time_stepped", "dispatch: fastest"))
    assert "time_stepped, event_queue" in _problems(p)["array.dispatch"]


def test_missing_required_key(tmp_path):
    p = _write(tmp_path, BASE.replace("clock_mhz: 200\n", ""))
    assert "required" in _problems(p)["clock_mhz"]


def test_unknown_design(tmp_path):
    p = _write(tmp_path, BASE.replace("design: acc_if", "design: gpu"))
    assert "acc_if, mac" in _problems(p)["design"]


def test_nonpositive_sram_size(tmp_path):
    p = _write(tmp_path, BASE.replace("weight_sram:    {size_kib: 16", "weight_sram:    {size_kib: 0"))
    assert "at least 0.125 KiB" in _problems(p)["weight_sram.size_kib"]


def test_section_must_be_mapping(tmp_path):
    p = _write(tmp_path, BASE.replace("dram: {type: LPDDR4, bandwidth_gbps: 3.2, latency_ns: 50}", "dram: fast"))
    assert "mapping" in _problems(p)["dram"]


def test_unknown_technology(tmp_path):
    p = _write(tmp_path, BASE.replace("technology: 45nm", "technology: 3nm"))
    assert "technology" in _problems(p)


def test_all_problems_reported_at_once(tmp_path):
    text = BASE.replace("clock_mhz: 200", "clock_mhz: -1").replace("rows: 8", "rows: 0").replace(
        "code_bits: 8", "code_bits: 0")
    probs = _problems(_write(tmp_path, text))
    assert {"clock_mhz", "array.rows", "spike_memory.salient.code_bits"} <= set(probs)


def test_yaml_syntax_error_names_line(tmp_path):
    p = _write(tmp_path, "name: x\narray: {rows: [1, 2\n")
    with pytest.raises(ConfigError) as ei:
        load_hw_config(p)
    assert f"{p}: YAML syntax error: line 3, column 1:" in str(ei.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_hw_config(tmp_path / "nope.yaml")


def test_technology_as_relative_table_path(tmp_path):
    table = (Path(__file__).resolve().parent.parent / "neurosim/energy_tables/45nm.yaml").read_text()
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "mine.yaml").write_text(table.replace("technology: 45nm", "technology: mine"))
    spec = load_hw_config(_write(tmp_path, BASE.replace("technology: 45nm", "technology: tables/mine.yaml")))
    assert Path(spec.technology).is_absolute() and Path(spec.technology).exists()


# --- --set overrides ------------------------------------------------------------------------

def test_override_valid_values_are_typed():
    spec = load_hw_config(HW / "tiny_acc_if.yaml", ["array.rows=32", "dram.type=HBM2", "clock_mhz=1e3",
                                                    "interconnect.energy_pj_per_bit=0.1"])
    assert spec.array.rows == 32 and spec.dram.type == "HBM2" and spec.clock_mhz == 1000.0
    assert spec.interconnect.energy_pj_per_bit == 0.1


def test_override_creates_missing_section():
    spec = load_hw_config(HW / "tiny_acc_if.yaml", ["threshold.fold=static"])
    assert spec.threshold.fold == "static"


@pytest.mark.parametrize(
    "override, path, text",
    [("array.rows=-4", "array.rows", "at least 1"), ("array.rowz=4", "array.rowz", "unknown key"),
     ("array.membrane_bits=0", "array.membrane_bits", "at least 1"),
     ("dram.type=SRAM", "dram.type", "one of")],
)
def test_override_invalid_values(override, path, text):
    probs = _problems(HW / "tiny_acc_if.yaml", [override])
    assert text in probs[path] and "(set by --set)" in probs[path]


@pytest.mark.parametrize("bad", ["array.rows", "=3", "array..rows=3", "array.rows=[1,"])
def test_override_malformed(bad):
    with pytest.raises(UsageError):
        load_hw_config(HW / "tiny_acc_if.yaml", [bad])


def test_override_through_a_scalar(tmp_path):
    probs = _problems(HW / "tiny_acc_if.yaml", ["clock_mhz.x=1"])
    assert "not a mapping" in probs["clock_mhz.x"]


def test_show_config_round_trips(tmp_path):
    spec = load_hw_config(HW / "acc_if_64x64.yaml")
    p = _write(tmp_path, yaml.safe_dump(to_plain(spec)))
    assert load_hw_config(p) == spec


def test_hw_configs_readme_is_current():
    readme = (HW / "README.md").read_text()
    block = readme.split("-->\n", 1)[1].split("<!-- keys:end -->")[0].strip()
    assert block == all_tables().strip(), "regenerate with: python -m neurosim.config.docs"
