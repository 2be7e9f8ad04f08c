"""Export traces from a real quantized LLM (optional extra ``export``: torch, transformers, gguf).

Nothing below :mod:`neurosim.api` imports this package; it is imported lazily by the CLI.
"""
