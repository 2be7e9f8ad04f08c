"""``neurosim synth``: synthetic traces from model shapes, GEMM lists or ONNX graphs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurosim.cli.common import (
    EXIT_OK,
    decode_steps,
    fraction,
    positive_int,
    progress,
    seed,
    shift,
)
from neurosim.errors import UsageError
from neurosim.trace.manifest import Recipe


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
    with progress(2 + 4 * layers + args.decode, "synth") as tick:
        out = write_inference(args.out, model, args.prompt, args.decode, layers, seed=args.seed, act_model=act,
                              overwrite=args.force, progress=tick, batch=args.batch)
    print(f"wrote {out}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Write a synthetic trace from a model's shapes or from a GEMM list."""
    from neurosim.trace import synth

    if sum(x is not None and x != [] for x in (args.model, args.topology, args.gemm, args.onnx)) != 1:
        raise UsageError("give exactly one of --model, --topology, --gemm, --onnx")
    if args.batch != 1 and args.prompt is None:
        raise UsageError("--batch B goes with a whole inference (--prompt P --decode D)")
    if args.prompt is not None or args.decode is not None:
        return _synth_inference(args)
    if args.model is not None:
        if args.tokens is None:
            raise UsageError("--model needs --tokens M (or --prompt P --decode D for a whole inference)")
        model = synth.resolve_model(args.model)
        layers = args.layers if args.layers is not None else model.layers
        groups = synth.llm_gemms(model, args.tokens, layers)
        name, coverage = model.name, (layers, model.layers)
    elif args.onnx is not None:
        from neurosim.trace.onnx_gemms import onnx_gemms

        if args.tokens is None:
            raise UsageError("--onnx needs --tokens M (the rows of every GEMM)")
        groups, skipped = onnx_gemms(args.onnx, args.tokens)
        name, coverage = Path(args.onnx).stem, None
        if skipped:
            print(f"neurosim: --onnx: {len(skipped)} MatMul/Gemm node(s) without a stored 2-D weight were "
                  f"skipped: {', '.join(skipped[:5])}" + (" ..." if len(skipped) > 5 else ""), file=sys.stderr)
    else:
        gemms = synth.read_topology(args.topology) if args.topology else [
            synth.parse_gemm(g, i) for i, g in enumerate(args.gemm)]
        groups = [(f"{g.name}.in", [g]) for g in gemms]
        name, coverage = (Path(args.topology).stem if args.topology else "gemm-list"), None
    act = synth.ActivationModel(salient_ratio=args.salient_ratio)
    recipe = Recipe(salient_rule="ratio", salient_param=act.salient_ratio, salient_shift_max=args.salient_shift_max)
    with progress(len(groups), "synth") as tick:
        out = synth.write_synthetic(args.out, groups, model_name=name, seed=args.seed, weights=args.weights,
                                    act_model=act, recipe=recipe, overwrite=args.force, progress=tick,
                                    coverage=coverage)
    print(f"wrote {out}")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``synth`` subcommand to ``sub`` (argparse subparsers)."""
    y = sub.add_parser("synth", help="write a synthetic trace from model shapes or a GEMM list")
    y.add_argument("--model", help="built-in model name or a HuggingFace config.json")
    y.add_argument("--tokens", type=positive_int, help="tokens M (with --model): the linear layers of a prefill")
    y.add_argument("--prompt", type=positive_int, metavar="P",
                   help="whole inference (with --model and --decode): prefill of P tokens with attention, KV cache and "
                        "vector ops (trace format v4)")
    y.add_argument("--decode", type=decode_steps, metavar="D", help="decode steps after the prefill (with --prompt)")
    y.add_argument("--batch", type=positive_int, default=1, metavar="B",
                   help="sequences prefilled and decoded together (with --prompt): each linear op has every "
                        "sequence's tokens, each sequence attends to its own KV cache")
    y.add_argument("--layers", type=positive_int, help="first L decoder layers (default: all)")
    y.add_argument("--topology", help="SCALE-Sim topology CSV: GEMM rows (Layer, M, N, K) and conv rows (Layer, IFMAP H, "
                   "IFMAP W, filter H, filter W, channels, filters, strides; im2col as SCALE-Sim)")
    y.add_argument("--onnx", metavar="MODEL.onnx",
                   help="the MatMul/Gemm layers with stored weights of an ONNX model, M = --tokens (extra: onnx)")
    y.add_argument("--gemm", action="append", default=[], metavar="M,K,N", help="a plain GEMM (repeatable)")
    y.add_argument("--seed", type=seed, default=0, help="seed of the code draws (the same seed, the same trace)")
    y.add_argument("--salient-ratio", type=fraction, default=0.025, help="target salient fraction per token, [0, 1)")
    y.add_argument("--salient-shift-max", type=shift, default=0, metavar="S",
                   help="put each salient code on a power-of-two multiple of the normal step, up to 2^S "
                        "(0: the normal step)")
    y.add_argument("--weights", action="store_true", help="also store weight codes (needed for --check)")
    y.add_argument("--out", required=True, help="output trace directory")
    y.add_argument("--force", action="store_true", help="replace an existing output directory")
    y.set_defaults(func=run)
