"""Output helpers shared by CLI commands: JSON for scripts, Rich for people, clear failures."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2
"""Exit status for a user's mistake: an unknown id, a bad filter, an unreadable file."""

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON to stdout.")


def to_jsonable(value: Any) -> Any:
    """Pydantic models and containers of them as plain JSON-compatible data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    """Write ``value`` as indented JSON (UTF-8, unescaped) to stdout."""
    typer.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code`` (no traceback)."""
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise typer.Exit(code)
