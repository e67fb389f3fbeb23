"""The `--world FILE` option shared by command groups, and loading the world it names."""

from __future__ import annotations

from pathlib import Path

import typer

from suanwang.cli.output import fail
from suanwang.core.errors import SuanwangError
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world, load_world_file

WorldOption = typer.Option(
    None, "--world", envvar="SUANWANG_WORLD", help="A world JSON file instead of the built-in."
)


def remember_world(ctx: typer.Context, world_file: Path | None) -> None:
    """Group callback body: keep the chosen world file for the subcommands."""
    ctx.obj = world_file


def load_world(ctx: typer.Context) -> World:
    """The world named by the group's ``--world`` (the built-in one by default)."""
    path = ctx.obj if isinstance(ctx.obj, Path) else None
    try:
        return load_builtin_world() if path is None else load_world_file(path)
    except SuanwangError as exc:
        fail(str(exc))
