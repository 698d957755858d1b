"""Command groups whose commands are imported on first use: `--help` lists them from a registry alone, so a
command pays only for the modules it uses (`noshow explain reply` never imports the policy engine's schema)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class Lazy:
    module: str
    attr: str  # a command function, or a Typer app for a group
    help: str  # shown by `--help` without importing the module


class LazyCommands(TyperGroup):
    """A group whose commands are imported on first use; a subclass names them in `commands`."""

    commands_registry: ClassVar[dict[str, Lazy]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands_registry)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = self.commands_registry.get(cmd_name)
        if lazy is None:
            return None
        target = getattr(importlib.import_module(lazy.module), lazy.attr)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            holder = typer.Typer(add_completion=False)
            holder.command(cmd_name)(target)
            command = typer.main.get_command(holder)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, lazy.help) for name, lazy in self.commands_registry.items()])

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # plain click formatting: the rich one asks every command for its help, importing them all
        super(TyperGroup, self).format_help(ctx, formatter)


def lazy_group(commands: dict[str, Lazy], **typer_options: Any) -> typer.Typer:
    """A Typer app whose commands are `commands`, each imported when it runs."""
    group = type("Commands", (LazyCommands,), {"commands_registry": commands})
    return typer.Typer(cls=group, add_completion=False, **typer_options)
