"""``python -m neurosim`` runs the CLI."""

from neurosim.cli import main

raise SystemExit(main())
