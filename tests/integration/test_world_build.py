"""The packaged world.json is exactly what the fact files produce (it is never edited by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world import load_builtin_world
from suanwang.world.assemble import assemble_world
from suanwang.world.facts import FactsError, SitesFile, load_facts, load_facts_file

FACTS = Path(__file__).resolve().parents[2] / "scripts" / "world_facts"


def test_world_json_is_up_to_date_with_the_fact_files() -> None:
    shipped = load_builtin_world()
    sites, backbones, cables = load_facts(FACTS)
    rebuilt = assemble_world(
        version=shipped.version,
        sites=sites,
        backbones=backbones,
        cables=cables,
        countries=shipped.countries,
        table=UNIT_TABLE,
    )
    assert rebuilt == shipped, "world.json is stale: run `make world` and commit the result"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[site]\nid=", "not valid TOML"),
        ('[[site]]\nid = "Bad Id"\n', "site.0.id"),
    ],
)
def test_bad_fact_files_name_the_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(text)
    with pytest.raises(FactsError) as info:
        load_facts_file(path, SitesFile)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_missing_fact_file(tmp_path: Path) -> None:
    with pytest.raises(FactsError, match="cannot read"):
        load_facts(tmp_path)
