"""The package's layering (README, Layout; DESIGN §2): imports point downward only, and no two
modules import each other, directly or round a circle (function-level imports count too)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "neurosim"
#: Rank of each top-level module or subpackage: a module may import only from its rank or below.
RANKS = {
    **dict.fromkeys(("__init__", "errors", "units", "fsutil", "jsonutil", "cores"), 0),
    "config": 1, "trace": 2, "kernels": 3, "hw": 4, "energy": 5, "result_types": 5, "mapping": 5, "engine": 6, "export": 7,
    "results": 8, "sweep": 9, "report": 10, "answer": 11, "api": 11, "cli": 12, "__main__": 13,
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = ["neurosim", *p.relative_to(ROOT).with_suffix("").parts]
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("neurosim"):
            out |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("neurosim")}
    return out & modules.keys()


def _rank(module: str) -> int:
    parts = module.split(".")
    return RANKS[parts[1] if len(parts) > 1 else "__init__"]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def test_every_top_level_module_has_a_rank():
    assert {m.split(".")[1] for m in _modules() if "." in m} <= RANKS.keys()


def test_imports_point_downward():
    upward = sorted(f"{m} imports {d}" for m, deps in _graph().items() for d in deps
                    if _rank(d) > _rank(m) and d != "neurosim")
    assert not upward, "\n".join(upward)


def test_reports_and_energy_never_import_the_engine():
    """DESIGN §2: energy prices counts and report reads Results; neither reaches into the engine,
    not even through a module they import."""
    graph = _graph()
    for top in ("neurosim.energy", "neurosim.report"):
        seen, todo = set(), [m for m in graph if m.startswith(top)]
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += graph[m]
        assert not sorted(m for m in seen if m.startswith("neurosim.engine")), top


def test_no_import_cycles():
    graph = _graph()
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for d in sorted(graph[m]):
            if seen.get(d) == 1:
                cycles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in seen:
                visit(d, path + [d])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_no_function_over_60_lines_and_no_module_over_450_outside_the_numba_kernels():
    long, big = [], []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 450:
            big.append(str(path))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60 \
                    and not any("njit" in ast.unparse(d) for d in node.decorator_list):
                long.append(f"{path.relative_to(ROOT.parent)}:{node.name}")
    assert not big, big
    assert not long, f"over 60 lines: {long}"


#: Spec fields that name a design family or scheme: the engine's registries dispatch on them.
SCHEME_FIELDS = {"design", "dataflow", "column", "salient", "dispatch", "encoding", "lane_skew", "salient_lanes",
                 "membrane_tokens", "accumulator_tokens"}


def test_energy_never_dispatches_on_the_design_or_scheme():
    """Energy prices counts: which family or scheme a spec is reaches it only as the pricer the
    engine's design registry hands in (no isinstance on specs, no reading of scheme fields)."""
    found = []
    for path in sorted((ROOT / "energy").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance":
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.Attribute) and node.attr in SCHEME_FIELDS:
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)
