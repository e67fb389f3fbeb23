"""The shipped city table (Natural Earth populated places) and its build script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from suanwang.world.builtin import load_builtin_world
from suanwang.world.cities import load_cities

ROOT = Path(__file__).resolve().parents[2]


def test_the_city_table_is_up_to_date(shared_data: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/build_cities.py", "--shared", str(shared_data), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_shipped_cities_are_about_1200_places_largest_first() -> None:
    cities = load_cities()
    assert 1100 <= len(cities) <= 1300
    assert cities[0].name == "Tokyo"
    populations = [c.population for c in cities]
    assert populations == sorted(populations, reverse=True)
    assert "AQ" not in {c.country for c in cities}  # no research stations
    assert len({(c.name, c.country, c.lat, c.lon) for c in cities}) == len(cities)


def test_every_city_is_in_a_country_of_the_builtin_world() -> None:
    codes = {c.code for c in load_builtin_world().countries}
    assert {c.country for c in load_cities()} <= codes
