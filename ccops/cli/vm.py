"""``ccops vm state|start|stop|restart|budget|trust``: the cc-nix-test Incus instance."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and rescue the cc-nix-test Incus VM.", no_args_is_help=True)
