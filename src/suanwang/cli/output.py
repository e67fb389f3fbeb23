"""Output helpers shared by CLI commands: JSON for scripts, Rich for people, clear failures."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
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


def read_text(path: Path) -> str:
    """The text of ``path`` (``-``: stdin); an unreadable file is a clear failure (exit 2)."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a folder, not a file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read ({exc})")


def field_errors(exc: ValidationError, prefix: str) -> list[str]:
    """Each validation error as ``field.path: message`` (under ``prefix``, if any)."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ([prefix] if prefix else []) + list(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{loc or '(line)'}: {msg}")
    return out


def json_lines(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, object, problem)`` for each JSON Lines record in ``text``.

    Blank lines and lines starting with ``#`` are skipped; a line that is not JSON gives
    ``(number, None, "line N: not JSON (...)")``.
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield number, None, f"line {number}: not JSON ({exc.msg}, column {exc.colno})"
