"""`suanwang units`: the normalized-unit table (算力度量)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from suanwang.cli.output import JsonOption, console, emit_json
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass, HardwareModel


def _entry(model: HardwareModel) -> dict[str, Any]:
    return {
        "table_version": UNIT_TABLE.version,
        **model.model_dump(mode="json"),
        "units": {c.value: UNIT_TABLE.unit(c).symbol for c in model.ratings},
    }


def units(
    compute_class: ComputeClass | None = typer.Option(
        None, "--class", help="Only models rated in this compute class."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show the versioned normalized-unit table: one row per hardware model."""
    models = [m for m in UNIT_TABLE.models if compute_class is None or compute_class in m.ratings]
    if as_json:
        emit_json([_entry(m) for m in models])
        return
    table = Table(title=f"Normalized-unit table {UNIT_TABLE.version}", title_justify="left")
    for col in ("model", "vendor", "device", *(c.value for c in ComputeClass), "memory GB"):
        numeric = col in ComputeClass._value2member_map_
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col == "model")
    for m in models:
        ratings = [f"{m.ratings[c]:g}" if c in m.ratings else "-" for c in ComputeClass]
        mem = f"{m.memory_gb:g}" if m.memory_gb else "-"
        table.add_row(m.id, m.vendor, m.device, *ratings, mem)
    console.print(table)
    for unit in UNIT_TABLE.units:
        console.print(f"[bold]{unit.compute_class.value}[/]: {unit.symbol} = {unit.definition}")
