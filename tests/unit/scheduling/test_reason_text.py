"""Reasons people read: numbers written plainly, and the pool that explains a rejected site."""

from __future__ import annotations

import pytest

from suanwang.core.scheduling.explain import explain
from suanwang.core.scheduling.plugins import _num, _usd
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5"), (12, "12"), (999.5, "999.5"), (8_102_000, "8,102,000"), (1e9, "1,000,000,000")],
)
def test_quantities_are_written_without_exponents(value: float, text: str) -> None:
    assert _num(value) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.00"),
        (1_000, "0.001"),
        (10_000, "0.01"),
        (9_000_000, "9.00"),
        (1_234_567_890, "1,234.57"),
    ],
)
def test_money_below_a_cent_is_never_shown_as_zero(micros: float, text: str) -> None:
    assert _usd(micros) == text


def test_a_rejected_site_is_explained_by_its_pool_of_the_task_class() -> None:
    """ae-dubai lists a CPU pool before its H100 pool; a too-large H100 task must be told about
    the H100 pool's capacity, not that the CPU pool sells general compute."""
    world = load_builtin_world()
    site = next(s for s in world.sites if s.id == "ae-dubai")
    assert site.pools[0].compute_class.value == "general"
    h100 = next(p for p in site.pools if p.model == "nvidia-h100")
    task = TaskSpec.model_validate(
        {
            "name": "too-big",
            "tenant": "acme",
            "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": h100.count * 100},
            "duration_hours": 1,
            "origin": {"country": "AE", "lat": site.lat, "lon": site.lon},
        }
    )
    verdict = explain(task, Snapshot.build(world, UNIT_TABLE, 490_000)).verdict("ae-dubai")
    assert verdict is not None
    assert not verdict.feasible
    assert verdict.reason.startswith("resource-fit: needs ")
    assert "in nvidia-h100" in verdict.reason
    assert "sells general" not in verdict.reason
