"""Commands whose module is imported only when they run, so one command loads only its own.

``ccops --help`` lists each :class:`LazyCommand` by the help line it was registered with
(a test checks it against the real command); resolving the command to run imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand


class LazyCommand(TyperCommand):
    """Stands for the command or group ``target`` (``module:attribute``) until it runs."""

    def __init__(self, name: str, target: str, help_line: str) -> None:
        super().__init__(name=name, help=help_line, rich_markup_mode=None)
        self.command_name = name
        self.target = target

    def load(self) -> Any:
        """The real click command, built as the root app would have built it."""
        module, attribute = self.target.split(":")
        return _built(self.command_name, getattr(importlib.import_module(module), attribute))


def _built(name: str, obj: typer.Typer | Callable[..., Any]) -> Any:
    """``obj`` (a typer app or a command function) registered as ``name`` on a plain root."""
    holder = typer.Typer(rich_markup_mode=None)
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)
    else:
        holder.command(name)(obj)
    holder.callback()(_nothing)  # a group even for one command, so the command keeps its name
    return typer.main.get_group(holder).commands[name]


def _nothing() -> None:
    """The holder's callback."""
