"""``python -m neurosim`` runs the CLI."""

from neurosim.cli import entry

entry()
