"""Cross-checks of a whole-inference trace (format 4) that no single field shows: the fields that
set its per-token figures must agree with its ops, or J/token, TTFT and tokens/s would be
silently wrong (docs/trace_format.md, "Consistency").

- ``producer.tokens`` (the prompt) fits every prefill linear op: M is the prompt's tokens times
  the batch B (or B, for the LM head on each sequence's last token);
- decode step ``s`` attends to ``tokens + s + 1`` keys (the prompt, the steps before, its own):
  ``N`` of its ``attn_qk`` ops, ``K`` of its ``attn_av`` ops;
- decode steps come after a prefill (a trace of decode ops alone would report a time to first
  token of zero).
"""

from __future__ import annotations

from neurosim.errors import Problem


def inference_problems(tokens: int, ops: list, has_vector_ops: bool) -> list[Problem]:
    """The contradictions among ``ops`` (parsed, in order) and the prompt length ``tokens``."""
    if not has_vector_ops and all(op.phase == "prefill" for op in ops):
        return []  # a prefill of linear layers (formats 1-3): M is whatever the GEMM list says
    out: list[Problem] = []
    ms = {op.M for op in ops if op.phase == "prefill" and op.kind == "linear"}
    batch = max(ms, default=tokens) // tokens
    if ms and (max(ms) % tokens or not ms <= {batch * tokens, batch}):
        out.append(Problem("producer.tokens", f"{tokens} does not fit the prefill's linear ops (M: {sorted(ms)[:4]}): "
                           "M must be the prompt's tokens times the batch (or the batch, for the LM head on each "
                           "sequence's last token)"))
    if any(op.phase == "decode" for op in ops) and not any(op.phase == "prefill" for op in ops):
        out.append(Problem("ops", "decode steps without a prefill (the time to first token would be 0)"))
    for i, op in enumerate(ops):
        if op.phase != "decode" or op.kind not in ("attn_qk", "attn_av"):
            continue
        keys = op.N if op.kind == "attn_qk" else op.K
        if keys != tokens + op.step + 1:
            out.append(Problem(f"ops[{i}].{'N' if op.kind == 'attn_qk' else 'K'}",
                               f"decode step {op.step} attends to {keys} keys, not producer.tokens + step + 1 = "
                               f"{tokens + op.step + 1}"))
            if len(out) > 10:
                break
    return out
