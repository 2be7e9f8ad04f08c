"""Command-line interface: argparse subcommands. The only module that prints or configures
logging. Exit codes: 0 ok, 2 bad usage / config / input, 1 internal error."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path

import yaml

import neurosim
from neurosim.config.energy_table import FORMAT as ENERGY_FORMAT
from neurosim.config.energy_table import parse_energy_table
from neurosim.config.loader import spec_from_mapping
from neurosim.config.schema import to_plain
from neurosim.config.yaml_strict import load_yaml_mapping
from neurosim.errors import NeurosimError, SourceError, UsageError
from neurosim.trace.manifest import MAX_SALIENT_SHIFT, Recipe

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


def _validate_one(path: str) -> str:
    data = load_yaml_mapping(path)
    if data.get("format") == ENERGY_FORMAT:
        table = parse_energy_table(data, path)
        return f"{path}: ok (energy table {table.technology}, {len(table.entries)} entries)"
    spec = spec_from_mapping(data, path, base_dir=Path(path).parent)
    return f"{path}: ok ({spec.design} '{spec.name}')"


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate hardware configs and energy tables; report every problem of every file."""
    failed = False
    for path in args.files:
        try:
            print(_validate_one(path))
        except SourceError as e:
            failed = True
            for line in e.lines():
                print(line, file=sys.stderr)
    return EXIT_USER if failed else EXIT_OK


def cmd_show_config(args: argparse.Namespace) -> int:
    """Print the fully resolved config (defaults filled in, overrides applied) as YAML."""
    from neurosim.config.loader import load_hw_config

    spec = load_hw_config(args.file, args.set)
    if not args.energy:
        sys.stdout.write(yaml.safe_dump(to_plain(spec), sort_keys=False))
        return EXIT_OK
    from neurosim.engine.simulate import chip_area_mm2, effective_energy_table
    from neurosim.trace.reader import open_trace

    trace = open_trace(args.trace) if args.trace else None
    try:
        pj, static_mw = effective_energy_table(spec, trace)
        area = chip_area_mm2(spec, trace)
    except ValueError as e:
        raise UsageError(f"{args.file}: {e} (--trace DIR)") from None
    print(f"{spec.name}: energy per counted action at {spec.technology} (after bitwidth and SRAM scaling)")
    for action, v in sorted(pj.items()):
        print(f"  {action:<36} {v:12.6g} pJ")
    print(f"  {'static power (SRAM + logic)':<36} {static_mw:12.6g} mW")
    if area:
        print(f"area by component (mm^2){'' if trace else '; the vector unit counts only with a --trace that has vector ops'}")
        for name, v in area.items():
            print(f"  {name:<36} {v:12.6g} mm^2")
    return EXIT_OK


def cmd_import_scalesim(args: argparse.Namespace) -> int:
    """Write a neurosim MAC config equivalent to a SCALE-Sim .cfg."""
    from neurosim.config.scalesim import scalesim_yaml
    from neurosim.fsutil import atomic_write_text

    out = Path(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"--out {out}: exists (--force replaces it)")
    if out.exists() and not out.is_file():
        raise UsageError(f"--out {out}: not a file")
    text = scalesim_yaml(args.cfg)
    spec = spec_from_mapping(yaml.safe_load(text), str(args.cfg))  # checked before anything is written
    atomic_write_text(out, text)
    print(f"wrote {out} ({spec.name}: {spec.array.rows}x{spec.array.cols} {spec.array.dataflow}); "
          f"run it with: neurosim run TRACE --hw {out} --out DIR")
    return EXIT_OK


def cmd_trace_validate(args: argparse.Namespace) -> int:
    """Fully validate a trace directory (manifest, headers, checksums, value ranges)."""
    from neurosim.trace.reader import validate_trace

    trace = validate_trace(args.dir)
    m = trace.manifest
    print(f"{args.dir}: ok (trace v{m.version}, {len(m.ops)} ops, {len(m.tensors)} tensors)")
    return EXIT_OK


def cmd_trace_info(args: argparse.Namespace) -> int:
    """Print a trace's ops with shapes and spike statistics."""
    from neurosim.trace.info import format_info
    from neurosim.trace.reader import open_trace

    print(format_info(open_trace(args.dir)))
    return EXIT_OK


def _synth_inference(args: argparse.Namespace) -> int:
    """synth --prompt P --decode D: a whole-inference trace (format v4)."""
    from neurosim.trace import synth
    from neurosim.trace.inference import write_inference

    if args.model is None or args.prompt is None or args.decode is None:
        raise UsageError("a whole-inference trace needs --model, --prompt P and --decode D")
    if args.tokens is not None or args.weights or args.salient_shift_max:
        raise UsageError("--prompt/--decode take no --tokens, --weights or --salient-shift-max")
    model = synth.resolve_model(args.model)
    layers = args.layers if args.layers is not None else model.layers
    act = synth.ActivationModel(salient_ratio=args.salient_ratio)
    with _progress(2 + 4 * layers + args.decode, "synth") as tick:
        out = write_inference(args.out, model, args.prompt, args.decode, layers, seed=args.seed, act_model=act,
                              overwrite=args.force, progress=tick)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_synth(args: argparse.Namespace) -> int:
    """Write a synthetic trace from a model's shapes or from a GEMM list."""
    from neurosim.trace import synth

    if sum(x is not None and x != [] for x in (args.model, args.topology, args.gemm, args.onnx)) != 1:
        raise UsageError("give exactly one of --model, --topology, --gemm, --onnx")
    if args.prompt is not None or args.decode is not None:
        return _synth_inference(args)
    if args.model is not None:
        if args.tokens is None:
            raise UsageError("--model needs --tokens M (or --prompt P --decode D for a whole inference)")
        model = synth.resolve_model(args.model)
        groups = synth.llm_gemms(model, args.tokens, args.layers if args.layers is not None else model.layers)
        name = model.name
    elif args.onnx is not None:
        from neurosim.trace.onnx_gemms import onnx_gemms

        if args.tokens is None:
            raise UsageError("--onnx needs --tokens M (the rows of every GEMM)")
        groups, skipped = onnx_gemms(args.onnx, args.tokens)
        name = Path(args.onnx).stem
        if skipped:
            print(f"neurosim: --onnx: {len(skipped)} MatMul/Gemm node(s) without a stored 2-D weight were "
                  f"skipped: {', '.join(skipped[:5])}" + (" ..." if len(skipped) > 5 else ""), file=sys.stderr)
    else:
        gemms = synth.read_topology(args.topology) if args.topology else [
            synth.parse_gemm(g, i) for i, g in enumerate(args.gemm)]
        groups = [(f"{g.name}.in", [g]) for g in gemms]
        name = Path(args.topology).stem if args.topology else "gemm-list"
    act = synth.ActivationModel(salient_ratio=args.salient_ratio)
    recipe = Recipe(salient_rule="ratio", salient_param=act.salient_ratio, salient_shift_max=args.salient_shift_max)
    with _progress(len(groups), "synth") as tick:
        out = synth.write_synthetic(args.out, groups, model_name=name, seed=args.seed, weights=args.weights,
                                    act_model=act, recipe=recipe, overwrite=args.force, progress=tick)
    print(f"wrote {out}")
    return EXIT_OK


class _progress:
    """Progress on stderr: a tqdm bar (with its ETA) on a terminal, else a plain line every
    :data:`PLAIN_EVERY_S` seconds. ``tick(done, total)`` may change the total as work is found."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.bar = total, desc, None
        self.start = self.last = 0.0

    def __enter__(self):
        self.start = self.last = time.monotonic()
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr)
        return self.tick

    def tick(self, done: int, total: int) -> None:
        if self.bar is not None:
            if total != self.bar.total:
                self.bar.total = total
                self.bar.refresh()
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last >= self.PLAIN_EVERY_S and 0 < done < total:
            self.last = now
            elapsed = now - self.start
            eta = elapsed * (total - done) / done
            print(f"neurosim {self.desc}: {done:,}/{total:,} ({done / total:.0%}), {elapsed:.0f} s elapsed, "
                  f"about {eta:.0f} s left", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_specs(args: argparse.Namespace) -> list:
    """The configs of ``run``: each ``--hw`` with ``--set`` (all) and its own ``--hw-set``, named
    by its ``--label``, or by its file's name plus its own overrides."""
    from neurosim.config.loader import load_hw_config
    from neurosim.fsutil import SAFE_NAME

    if args.label and len(args.label) != len(args.hw):
        raise UsageError(f"--label: give one per --hw ({len(args.hw)}), got {len(args.label)}")
    specs = []
    for i, hw in enumerate(args.hw):
        own = [kv for j, kv in args.hw_set if j == i]
        spec = load_hw_config(hw, [*args.set, *own])
        name = args.label[i] if args.label else (
            re.sub(r"[^A-Za-z0-9._+-]", "-", "+".join([spec.name, *own]))[:64] if own else spec.name)
        if not SAFE_NAME.match(name):
            raise UsageError(f"--label {name!r}: letters, digits, '.', '_', '+', '-' (up to 64), starting with a "
                             "letter or digit")
        specs.append(load_hw_config(hw, [*args.set, *own, f"name={name}"]))
    return specs


class _BindToHw(argparse.Action):
    """``--hw-set KEY=VALUE``: an override of the ``--hw`` given just before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        if not namespace.hw:
            parser.error(f"{option_string} {value}: give it after the --hw it changes")
        namespace.hw_set = [*(namespace.hw_set or []), (len(namespace.hw) - 1, value)]


def _warn_stale_runs(out: Path, written: set[str]) -> None:
    """Run directories in ``out`` that this run did not write (an earlier run's configs): say so
    (they are never removed)."""
    from neurosim.results import RUN_MARKER

    stale = sorted(d.name for d in out.iterdir() if d.is_dir() and d.name not in written and (d / RUN_MARKER).is_file())
    if stale:
        print(f"neurosim: {out} also holds run directories from an earlier run, not from this one: "
              f"{', '.join(stale)} (left as they are; remove them or use a new --out)", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a trace on one or more hardware configs and write their run directories."""
    from neurosim.api import run
    from neurosim.report.console import comparison_report, single_report

    if not Path(args.trace).exists():
        raise UsageError(f"trace {args.trace}: does not exist")
    with _progress(1, "simulate") as tick:
        results = run(args.trace, _run_specs(args), args.out, check=args.check,
                      command=" ".join(["neurosim", *sys.argv[1:]]), progress=tick, timeline=args.timeline or False,
                      force=args.force, engine=args.engine, jobs=args.jobs)
    for r in results:
        print(single_report(r, args.detail))
        print()
    if len(results) > 1:
        print(comparison_report(results, args.detail))
        from neurosim.report.compare import compare, compare_text

        for r in results[1:]:
            print()
            print(compare_text(compare(results[0], r)))
    print(f"\nwrote {', '.join(str(Path(args.out) / r.config_name) for r in results)}")
    _warn_stale_runs(Path(args.out), {r.config_name for r in results})
    if args.check:
        gemms = [layer for layer in results[0].layers if layer.kind != "vector"]
        unchecked = [layer.name for layer in gemms if not layer.check]
        if unchecked:
            what = "nothing was checked" if len(unchecked) == len(gemms) else "partly checked"
            names = ", ".join(unchecked[:8]) + (f", ... ({len(unchecked) - 8} more)" if len(unchecked) > 8 else "")
            print(f"neurosim: functional check: {what}; no weight codes in the trace for "
                  f"{len(unchecked)} op(s): {names} (synth --weights or export stores them)", file=sys.stderr)
        bad = [(r.config_name, layer.name) for r in results for layer in r.layers
               if layer.check and layer.check["accumulation_mismatches"]]
        if bad:
            print(f"neurosim: functional check FAILED on {bad}", file=sys.stderr)
            return EXIT_INTERNAL
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render the console report of finished runs (no simulation)."""
    from neurosim.api import load_results
    from neurosim.report.console import comparison_report, single_report

    results = [load_results(d) for d in args.dirs]
    shas = {r.provenance.get("trace_manifest_sha256") for r in results}
    if len(results) > 1 and (len(shas) > 1 or len({tuple(la.name for la in r.layers) for r in results}) > 1):
        raise UsageError("report: these runs replayed different traces (" + ", ".join(
            f"{d}: {r.provenance.get('trace', '?')}" for d, r in zip(args.dirs, results, strict=True))
            + "); a side-by-side comparison needs runs of one trace (report them one at a time)")
    for d, r in zip(args.dirs, results, strict=True):
        print(single_report(r, args.detail))
        print()
        if args.plots:
            from neurosim.report.plots import write_run_plots

            print(f"wrote {', '.join(str(p) for p in write_run_plots(r, d))}\n")
    if len(results) > 1:
        print(comparison_report(results, args.detail))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two finished runs of one trace: energy waterfall, cycles by cause, views."""
    from neurosim.api import load_results
    from neurosim.fsutil import prepare_output_dir
    from neurosim.report.compare import compare, compare_text, write_comparison

    c = compare(load_results(args.run_a), load_results(args.run_b))
    if args.out:
        prepare_output_dir(args.out)
    print(compare_text(c))
    if args.out:
        print(f"\nwrote {', '.join(str(p) for p in write_comparison(c, args.out))}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trace from a local quantized LLM; optionally report perplexity per recipe."""
    _need_export_extra("export")
    from neurosim.export.runner import run_eval, run_export

    with _progress(1, "export") as tick:
        out = run_export(args.model, args.tokens, args.text, args.out, recipe=args.recipe, layers=args.layers,
                         salient_rule=args.salient_rule, salient_param=args.salient_param,
                         target_ratio=args.salient_target, weights=not args.no_weights, overwrite=args.force,
                         calib_text=args.calib_text, decode=args.decode, progress=tick)
    print(f"wrote {out}")
    if args.eval_ppl:
        _print_ppl(run_eval(args.model, args.text, n_windows=args.windows, window=args.window_tokens,
                            recipes=["float", args.recipe], salient_rule=args.salient_rule,
                            salient_param=args.salient_param, target_ratio=args.salient_target,
                            calib_text=args.calib_text), args)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Perplexity of the float model and of each recipe on the same windows."""
    _need_export_extra("eval")
    from neurosim.export.runner import run_eval

    if args.out:
        from neurosim.fsutil import prepare_output_dir

        prepare_output_dir(args.out)
    with _progress(1, "eval") as tick:
        results = run_eval(args.model, args.text, n_windows=args.windows, window=args.window_tokens,
                           recipes=args.recipes, salient_rule=args.salient_rule, salient_param=args.salient_param,
                           target_ratio=args.salient_target, calib_text=args.calib_text, progress=tick)
    _print_ppl(results, args)
    if args.out:
        import dataclasses
        import json

        import pandas as pd

        from neurosim.fsutil import atomic_write_text

        rows = [dataclasses.asdict(r) for r in results]
        atomic_write_text(Path(args.out) / "eval.json", json.dumps(rows, indent=1, allow_nan=False) + "\n")
        atomic_write_text(Path(args.out) / "eval.csv", pd.DataFrame(rows).to_csv(index=False))
        print(f"wrote {Path(args.out) / 'eval.csv'}, {Path(args.out) / 'eval.json'}")
    return EXIT_OK


def _need_export_extra(command: str) -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers", "safetensors", "gguf", "accelerate")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"{command} needs the 'export' extra (missing: {', '.join(missing)}): "
                         "pip install torch==2.13.0 && pip install 'neurosim-hw[export]' (or -e '.[export]')")


def _print_ppl(results, args) -> None:
    which = "all" if args.windows is None else f"the first {args.windows}"
    print(f"perplexity on {which} non-overlapping {args.window_tokens}-token windows of {args.text}")
    print(f"  {'recipe':<64} {'ppl':>10} {'salient':>8} {'spikes/act':>10} {'time':>8}")
    for r in results:
        sal = f"{r.salient_ratio:8.2%}" if r.salient_ratio is not None else f"{'-':>8}"
        spk = f"{r.mean_spikes:10.3f}" if r.mean_spikes is not None else f"{'-':>10}"
        print(f"  {r.recipe:<64} {r.perplexity:10.3f} {sal} {spk} {r.seconds:7.1f}s  ({r.tokens_scored:,} tokens)")


def _add_detail_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--summary", dest="detail", action="store_const", const="summary",
                   help="console: totals per layer type and phase (the default beyond 60 ops)")
    g.add_argument("--per-layer", dest="detail", action="store_const", const="layers",
                   help="console: every op (the default up to 60 ops)")
    p.set_defaults(detail="auto")


def _add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model directory (config.json + weights or .gguf) or a .gguf file")
    p.add_argument("--text", help="text file the activations / perplexity come from")
    p.add_argument("--salient-rule", choices=("mad", "ratio"), default="mad")
    p.add_argument("--salient-param", type=float, help="MAD multiplier k (mad) or ratio (ratio); default: calibrated")
    p.add_argument("--salient-target", type=float, default=0.025, help="target salient fraction for calibration")
    p.add_argument("--windows", type=_windows, default=4, help="perplexity windows, or 'all' for the whole text")
    p.add_argument("--calib-text", help="calibration text for gptq / smooth / aclip (default: the last 8,192 "
                   "tokens of --text, held out of the evaluation)")
    p.add_argument("--window-tokens", type=_positive_int, default=1024)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run or resume a sweep; print where the table is and a short summary."""
    from neurosim.api import sweep

    if sum(x is not None for x in (args.dask_local, args.scheduler)) > 1:
        raise UsageError("give at most one of --dask-local, --scheduler")
    if not 0 <= args.iso_area_tolerance <= 100:
        raise UsageError(f"--iso-area-tolerance {args.iso_area_tolerance:g}: must be a percentage from 0 to 100")
    with _progress(1, "sweep") as tick:
        df = sweep(args.hw, args.trace, args.out, grid=args.grid, zipped=args.zip, jobs=args.jobs,
                   dask_local=args.dask_local, scheduler=args.scheduler, baseline=args.baseline,
                   per_layer=args.per_layer, progress=tick, iso_area=args.iso_area,
                   iso_area_tolerance=args.iso_area_tolerance / 100)
    failed = int((df["status"] != "ok").sum()) if not df.empty else 0
    if failed:
        for _, row in df[df["status"] != "ok"].iterrows():
            print(f"  failed: {row.get('error', '')}", file=sys.stderr)
    print(f"{len(df)} rows ({failed} failed) in {Path(args.out) / 'sweep.csv'}")
    if failed:
        print(f"neurosim: sweep: {failed} of {len(df)} points FAILED (see the error column of sweep.csv); "
              "exit status 1", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """One-at-a-time sensitivity of the A/B energy and cycle ratios (resumable)."""
    from neurosim.api import sensitivity
    from neurosim.sweep.sensitivity import DEFAULT_PARAMS

    if len(args.hw) != 2:
        raise UsageError(f"sensitivity needs exactly two --hw configs (A and B), got {len(args.hw)}")
    if sum(x is not None for x in (args.dask_local, args.scheduler)) > 1:
        raise UsageError("give at most one of --dask-local, --scheduler")
    with _progress(1, "sensitivity") as tick:
        df = sensitivity(tuple(args.hw), args.trace, args.out, params=args.param or list(DEFAULT_PARAMS),
                         jobs=args.jobs, dask_local=args.dask_local, scheduler=args.scheduler, progress=tick)
    print(f"{'parameter':<40} {'value':>14} {'E_A/E_B':>9} {'cyc_A/cyc_B':>12}")
    for _, row in df.iterrows():
        if row["status"] == "ok":
            print(f"{row['param']:<40} {row['value']:>14} {row['energy_ratio_a_over_b']:>9.3f} "
                  f"{row['cycle_ratio_a_over_b']:>12.3f}" + (f"  ({row['notes']})" if row["notes"] else ""))
        else:
            print(f"{row['param']:<40} {row['value']:>14}  FAILED: {row['error']}")
    print(f"\nwrote {Path(args.out) / 'sensitivity.csv'} and tornado_energy/tornado_cycles (.png, .svg)")
    return EXIT_INTERNAL if (df["status"] != "ok").any() else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(
        prog="neurosim", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Cycle-level simulator of accumulate-only integrate-and-fire hardware for spike-quantized\n"
        "LLMs, side by side with MAC baselines: replays layer traces on YAML chips and reports cycles,\n"
        "memory accesses and pJ energy breakdowns.",
        epilog="examples:\n"
        "  neurosim run traces/smollm2_wikitext_l1_t64 --hw hw_configs/acc_if_64x64.yaml "
        "--hw hw_configs/mac_64x64_os.yaml --out runs/demo --check\n"
        "  neurosim compare runs/demo/mac_64x64_os runs/demo/acc_if_64x64 --out runs/demo/compare\n"
        "  neurosim COMMAND --help    (options and defaults of one command)")
    p.add_argument("--version", action="version", version=f"neurosim {neurosim.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="validate hardware configs / energy tables")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("show-config", help="print the resolved config with defaults")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key (repeatable)")
    s.add_argument("--energy", action="store_true",
                   help="print the effective energy table instead: pJ per counted action after bitwidth and SRAM "
                        "scaling, and the static power")
    s.add_argument("--trace", metavar="DIR", help="with --energy: resolve auto widths as this trace needs them")
    s.set_defaults(func=cmd_show_config)

    im = sub.add_parser("import-scalesim", help="write a MAC config from a SCALE-Sim .cfg")
    im.add_argument("cfg", metavar="CFG")
    im.add_argument("--out", required=True, metavar="FILE.yaml")
    im.add_argument("--force", action="store_true", help="replace an existing file")
    im.set_defaults(func=cmd_import_scalesim)

    t = sub.add_parser("trace", help="inspect and validate traces")
    tsub = t.add_subparsers(dest="trace_command", required=True, metavar="SUBCOMMAND")
    tv = tsub.add_parser("validate", help="validate a trace: manifest, checksums, shapes, code ranges")
    tv.add_argument("dir", metavar="DIR")
    tv.set_defaults(func=cmd_trace_validate)
    ti = tsub.add_parser("info", help="ops, shapes and spike statistics of a trace")
    ti.add_argument("dir", metavar="DIR")
    ti.set_defaults(func=cmd_trace_info)

    y = sub.add_parser("synth", help="write a synthetic trace from model shapes or a GEMM list")
    y.add_argument("--model", help="built-in model name or a HuggingFace config.json")
    y.add_argument("--tokens", type=_positive_int, help="tokens M (with --model): the linear layers of a prefill")
    y.add_argument("--prompt", type=_positive_int, metavar="P",
                   help="whole inference (with --model and --decode): prefill of P tokens with attention, KV cache and "
                        "vector ops (trace format v4)")
    y.add_argument("--decode", type=_decode_steps, metavar="D", help="decode steps after the prefill (with --prompt)")
    y.add_argument("--layers", type=_positive_int, help="first L decoder layers (default: all)")
    y.add_argument("--topology", help="SCALE-Sim GEMM topology CSV (Layer, M, N, K)")
    y.add_argument("--onnx", metavar="MODEL.onnx",
                   help="the MatMul/Gemm layers with stored weights of an ONNX model, M = --tokens (extra: onnx)")
    y.add_argument("--gemm", action="append", default=[], metavar="M,K,N", help="a plain GEMM (repeatable)")
    y.add_argument("--seed", type=_seed, default=0)
    y.add_argument("--salient-ratio", type=_fraction, default=0.025, help="target salient fraction per token, [0, 1)")
    y.add_argument("--salient-shift-max", type=_shift, default=0, metavar="S",
                   help="put each salient code on a power-of-two multiple of the normal step, up to 2^S "
                        "(0: the normal step)")
    y.add_argument("--weights", action="store_true", help="also store weight codes (needed for --check)")
    y.add_argument("--out", required=True, help="output trace directory")
    y.add_argument("--force", action="store_true", help="replace an existing output directory")
    y.set_defaults(func=cmd_synth)

    r = sub.add_parser("run", help="simulate a trace on hardware configs")
    r.add_argument("trace", metavar="TRACE")
    r.add_argument("--hw", action="append", required=True, metavar="CONFIG", help="hardware config (repeatable)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key in every config")
    r.add_argument("--hw-set", action=_BindToHw, default=[], metavar="KEY=VALUE",
                   help="override a key of the --hw just before (repeatable); the run is named after it, e.g. "
                        "--hw mac.yaml --hw mac.yaml --hw-set array.dataflow=ws compares base and variant")
    r.add_argument("--label", action="append", metavar="NAME",
                   help="name of each --hw's run (its output directory), one per --hw in order")
    r.add_argument("--out", required=True, help="output directory; one subdirectory per config")
    r.add_argument("--check", action="store_true", help="functional check against the integer GEMM")
    r.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="simulate the configs in N worker processes, the same results (each worker takes "
                        "about 1.5 s to start: worth it when a config takes several seconds; default: %(default)s)")
    _add_detail_args(r)
    r.add_argument("--engine", choices=("fast", "reference"), default="fast",
                   help="tile pipeline: compiled event loop, or the simpy reference model (the same cycles, slower)")
    r.add_argument("--timeline", nargs="?", const="auto", choices=("auto", "op", "tile"),
                   help="also write timeline.json (Chrome trace / Perfetto): one event per op, or per tile; "
                   "auto (the default when the flag is given alone) is per tile up to 2^34 MACs")
    r.add_argument("--force", action="store_true",
                   help="write into an existing directory that is not a run directory (nothing there is removed)")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="re-render the report of finished runs")
    rep.add_argument("dirs", nargs="+", metavar="DIR", help="run directory (OUT/<config name>)")
    rep.add_argument("--plots", action="store_true", help="write PNG and SVG plots into each run directory")
    _add_detail_args(rep)
    rep.set_defaults(func=cmd_report)

    c = sub.add_parser("compare", help="compare two finished runs: energy waterfall, cycles by cause, views",
                       description="Compare run B with run A (run directories of one trace, no re-simulation): the "
                       "energy difference as a waterfall by component, the cycle difference by stall cause, per "
                       "layer type and in the full / on-chip / compute-only views. Example: neurosim compare "
                       "out/mac_64x64_os out/acc_if_64x64 --out out/compare")
    c.add_argument("run_a", metavar="RUN_A", help="run directory (OUT/<config name>) of the reference A")
    c.add_argument("run_b", metavar="RUN_B", help="run directory of B")
    c.add_argument("--out", help="also write compare.json, compare.txt and waterfall.png/.svg here")
    c.set_defaults(func=cmd_compare)

    e = sub.add_parser("export", help="export a trace from a local quantized LLM (extra: export)")
    _add_recipe_args(e)
    e.add_argument("--tokens", type=_positive_int, required=True, help="tokens M to capture (the prompt with --decode)")
    e.add_argument("--decode", type=_decode_steps, default=0, metavar="D",
                   help="also D decode steps fed the text's next tokens: a whole inference with attention on the KV "
                        "cache and vector ops (trace format 4)")
    e.add_argument("--layers", type=_positive_int, help="first L decoder layers (default: all)")
    e.add_argument("--recipe", type=_recipe, default="spikequant",
                   help="BASE[+MOD...]: base w4a8|w4a4|spikequant, modifiers gptq|wclip|rot|smooth[ALPHA]|aclip|pow2 "
                   "(e.g. spikequant+rot+gptq)")
    e.add_argument("--no-weights", action="store_true", help="do not store weight codes")
    e.add_argument("--eval-ppl", action="store_true", help="also report perplexity per recipe")
    e.add_argument("--out", required=True)
    e.add_argument("--force", action="store_true", help="replace an existing output directory")
    e.set_defaults(func=cmd_export)

    ev = sub.add_parser("eval", help="perplexity of the float model and each recipe (extra: export)")
    _add_recipe_args(ev)
    ev.add_argument("--recipes", nargs="+", type=_recipe, default=["float", "spikequant", "w4a4", "w4a8"],
                    help="recipes, each BASE[+MOD...] as for export (float needs no modifiers)")
    ev.add_argument("--out", help="also write eval.csv and eval.json here")
    ev.set_defaults(func=cmd_eval)

    w = sub.add_parser("sweep", help="sweep config overrides over traces (resumable)")
    w.add_argument("--hw", required=True, metavar="BASE.yaml")
    w.add_argument("--trace", action="append", required=True, metavar="DIR", help="trace (repeatable)")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", help="cartesian axis (repeatable)")
    w.add_argument("--zip", action="append", default=[], metavar="KEY=V1,V2,...", help="axes taken in lockstep")
    w.add_argument("--jobs", type=_positive_int, default=1, help="local worker processes")
    w.add_argument("--dask-local", type=_positive_int, metavar="N", help="run on a Dask LocalCluster of N workers")
    w.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running Dask scheduler")
    w.add_argument("--baseline", metavar="CONFIG", help="add ratio columns against this config")
    w.add_argument("--per-layer", action="store_true", help="one row per layer")
    w.add_argument("--iso-area", metavar="KEY=V1,V2,...",
                   help="size every point to the --baseline's chip area: run the candidate value of KEY "
                        "giving the largest area not above the baseline's (docs/model.md, Area)")
    w.add_argument("--iso-area-tolerance", type=float, default=2.0, metavar="PCT",
                   help="how far above the baseline's area a point may be, in percent (default: %(default)s)")
    w.add_argument("--out", required=True)
    w.set_defaults(func=cmd_sweep)

    se = sub.add_parser("sensitivity", help="one-at-a-time sensitivity of an A/B ratio, with tornado plots",
                        description="Swing one parameter at a time on both configs (each that has the key) and "
                        "record E_A/E_B and cycles_A/cycles_B; points are stored as they finish (re-running "
                        "resumes). Default parameters: static power, SRAM cell, DRAM type, wire length, "
                        "accumulator/membrane width, IF dispatch, salient lanes. Example: neurosim sensitivity "
                        "--hw hw_configs/mac_64x64_os.yaml --hw hw_configs/acc_if_64x64.yaml "
                        "--trace traces/smollm2_wikitext_l1_t64 --out out/sens")
    se.add_argument("--hw", action="append", required=True, metavar="CONFIG", help="config A, then config B")
    se.add_argument("--trace", required=True, metavar="DIR")
    se.add_argument("--param", action="append", metavar="KEY=V1,V2,...",
                    help="a parameter and its values (repeatable; KEY may be k1|k2 for a key named differently "
                    "on each design); default: the built-in set")
    se.add_argument("--jobs", type=_positive_int, default=1, help="local worker processes")
    se.add_argument("--dask-local", type=_positive_int, metavar="N", help="run on a Dask LocalCluster of N workers")
    se.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running Dask scheduler")
    se.add_argument("--out", required=True)
    se.set_defaults(func=cmd_sensitivity)
    for command in sub.choices.values():  # every command's help shows its defaults
        command.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return p


def _int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in [lo, hi], refusing over-long digit strings unparsed."""
    def parse(text: str) -> int:
        try:
            v = int(text) if len(text) <= 20 else None
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}")
        return v
    return parse


_positive_int = _int_in(1, 1 << 40, "a positive integer up to 2^40")
_seed = _int_in(0, (1 << 63) - 1, "a seed from 0 to 2^63-1")
#: Decode steps: each adds a layer's worth of ops to the manifest, which is held in memory.
_decode_steps = _int_in(0, 1 << 16, "a number of decode steps from 0 to 65536")
_shift = _int_in(0, MAX_SALIENT_SHIFT, f"a shift from 0 to {MAX_SALIENT_SHIFT}")


def _windows(text: str) -> int | None:
    return None if text == "all" else _positive_int(text)


def _recipe(text: str) -> str:
    from neurosim.export.recipe_names import parse_recipe

    try:
        parse_recipe(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text[:40]!r}")
    return v


class _StderrHandler(logging.Handler):
    """Warnings of the library's ``neurosim`` loggers, one line each, on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"neurosim: {record.getMessage()}", file=sys.stderr)


def _log_to_stderr() -> None:
    log = logging.getLogger("neurosim")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler(logging.WARNING))
        log.propagate = False


def _interrupted(e: BaseException) -> bool:
    """Whether an exception is, or was caused by, Ctrl-C (numba kernels surface it as SystemError)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    try:
        return args.func(args)
    except SourceError as e:
        for line in e.lines():
            print(line, file=sys.stderr)
        return EXIT_USER
    except NeurosimError as e:
        print(f"neurosim: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (``| head``) stopped reading: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_OK
    except OSError as e:  # the machine refused: disk full, permissions, a path that vanished
        if _interrupted(e):
            print("neurosim: interrupted", file=sys.stderr)
            return 130
        where = f"{e.filename}: " if e.filename else ""
        print(f"neurosim: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USER
    except Exception as e:  # noqa: BLE001 - the one place that reports internal errors
        if _interrupted(e):
            print("neurosim: interrupted", file=sys.stderr)
            return 130
        traceback.print_exc()
        print("neurosim: internal error (a bug: please report it with the traceback above)", file=sys.stderr)
        return EXIT_INTERNAL


def _interrupted_after_the_work(signum, frame) -> None:
    """SIGINT once the command has finished (its results written, the process tearing down): one
    line and exit 130 now, never a traceback or a death by the signal."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.write(2, b"neurosim: interrupted\n")
    os._exit(130)


def entry() -> None:
    """The ``neurosim`` command (and ``python -m neurosim``): :func:`main`, then exit with its code;
    a Ctrl-C after :func:`main` has returned exits 130 with one line (teardown joins worker threads
    and flushes output, and the signal must not kill the process or print a traceback there)."""
    try:
        code = main()
    except KeyboardInterrupt:  # arrived as main returned, outside its handler
        print("neurosim: interrupted", file=sys.stderr)
        code = 130
    signal.signal(signal.SIGINT, _interrupted_after_the_work)
    sys.exit(code)
