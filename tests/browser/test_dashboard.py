"""The operations dashboard (issue 9) in a real browser against a live ``suanwang up --demo``:
sign-in, the map (sites, links, cables), a site's panel, the live task table and a task page,
a cable cut by an operator and its restore, a tenant's isolation, the language switch.

Screenshots go to ``tests/browser/artifacts/`` (no pixel assertions); ``metrics.json`` there
holds the page's transfer sizes and the time to the first map render.

The first tests need no browser: they check how ``install_dashboard`` serves the files.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from suanwang.api.app import ApiSettings, create_app
from suanwang.control.store import open_store
from suanwang.dashboard import STATIC_DIR, install_dashboard
from suanwang.world.builtin import load_builtin_world

Demo = Any  # conftest.Demo: url, operator and tenant tokens, tenant_principal, api()
Shot = Callable[..., Path]
SignIn = Callable[..., None]
ASSETS = ("app.js", "api.js", "dom.js", "i18n.js", "map.js", "panels.js", "tasks.js", "style.css")


# --- serving, without a browser ------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare() -> TestClient:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_dashboard(app)
    return TestClient(app)


def test_the_page_is_served_at_the_root_with_a_strict_policy(bare: TestClient) -> None:
    r = bare.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="ui/app.js">' in r.text
    assert "http://" not in r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in r.text  # no CDN
    head = bare.head("/")
    assert head.status_code == 200
    assert head.content == b""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("i18n.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("countries.json", "application/json"),
    ],
)
def test_assets_have_their_content_type_and_revalidate(
    bare: TestClient, name: str, kind: str
) -> None:
    r = bare.get(f"/ui/{name}", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"] == kind
    assert r.headers["cache-control"] == "no-cache"
    assert r.content == (STATIC_DIR / name).read_bytes()
    again = bare.get(f"/ui/{name}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_big_assets_are_gzipped_when_the_browser_accepts_it(bare: TestClient) -> None:
    r = bare.get("/ui/countries.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < (STATIC_DIR / "countries.json").stat().st_size / 2
    assert r.json()["countries"]  # httpx inflates it


@pytest.mark.parametrize(
    "path",
    ["/ui", "/ui/", "/ui/index.html", "/ui/missing.js", "/ui/..%2Fdashboard.py", "/ui/a/b.js"],
)
def test_no_listing_no_traversal_no_unknown_file(bare: TestClient, path: str) -> None:
    r = bare.get(path)
    assert r.status_code == 404


def test_every_asset_the_page_names_exists_and_nothing_is_remote() -> None:
    text = "\n".join((STATIC_DIR / n).read_text(encoding="utf-8") for n in ("index.html", *ASSETS))
    for name in ASSETS:
        assert (STATIC_DIR / name).is_file()
    for needle in ("cdn.", "unpkg", "jsdelivr", "googleapis", "innerHTML"):
        assert needle not in text, needle


def test_in_the_api_the_page_is_public_and_nothing_else_became_public(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sw.db'}")
    try:
        app = create_app(ApiSettings(store=store, world=load_builtin_world()))
        with TestClient(app) as client:
            assert client.get("/").status_code == 200
            assert client.get("/ui/app.js").status_code == 200
            assert client.get("/v1/whoami").status_code == 401
            assert client.get("/v1/map/network").status_code == 401
            assert client.get("/metrics").status_code == 401
            paths = client.get("/openapi.json").json()["paths"]
            assert "/" not in paths
            assert not any(p.startswith("/ui") for p in paths)
    finally:
        store.close()


# --- in the browser ------------------------------------------------------------------------------
TRANSFERRED = """() => {
  const out = {static: 0, api: 0, files: {}};
  const nav = performance.getEntriesByType('navigation')[0];
  out.static += nav.transferSize;
  out.files['/'] = nav.transferSize;
  for (const e of performance.getEntriesByType('resource')) {
    const path = new URL(e.name).pathname;
    const kind = path.startsWith('/ui/') ? 'static' : path.startsWith('/v1/') ? 'api' : '';
    if (!kind) continue;
    out[kind] += e.transferSize;
    out.files[path] = (out.files[path] || 0) + e.transferSize;
  }
  return out;
}"""
"""The bytes the page transferred so far: its own files and the API's answers."""


def _network(demo: Demo) -> dict[str, Any]:
    with demo.api() as api:
        return dict(api.get("/v1/map/network").json())


def test_a_wrong_token_shows_the_apis_message(page: Any, demo: Demo, shot: Shot) -> None:
    page.goto(demo.url + "/")
    page.get_by_test_id("login-submit").click()
    assert "token" in page.get_by_test_id("login-error").inner_text().lower()
    page.get_by_test_id("login-token").fill("sw_0123456789abcdef.not-a-real-secret")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    error.filter(has_text="refused").wait_for()
    text = error.inner_text()
    assert "unknown token" in text  # the API's own message
    assert page.get_by_test_id("dashboard").is_hidden()
    shot(page, "01-login-refused")


def test_the_map_draws_sites_links_and_cables(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn, artifacts: Path
) -> None:
    t0 = time.monotonic()
    sign_in(page, demo, demo.operator)
    wall_ms = (time.monotonic() - t0) * 1000
    # what the first (cold-cache) load transferred up to the drawn map
    sizes = page.evaluate(TRANSFERRED)
    net = _network(demo)
    sites = page.locator("circle[data-testid^=site-]")
    assert sites.count() == len(net["sites"])
    links = page.locator("path[data-testid^=link-]")
    assert links.count() == len(net["links"])
    submarine = [x for x in net["links"] if x["kind"] == "submarine"]
    assert submarine
    assert page.locator("path.link.kind-submarine[data-testid]").count() == len(submarine)
    tonga = [x for x in net["links"] if x["cable"] == "tonga-cable"]
    for link in tonga:  # a cable across the antimeridian is drawn on both sides of it
        assert page.get_by_test_id(f"link-{link['id']}").get_attribute("data-cut") == "false"
        assert page.locator(f"path[data-ghost='{link['id']}']").count() == 1
    assert page.locator("path.country").count() > 150
    assert page.get_by_test_id("legend").is_visible()
    stats = page.get_by_test_id("map-stats").inner_text()
    assert f"{len(net['sites'])} sites" in stats
    assert f"{len(net['links'])} links" in stats
    # the digital-divide layer shades the countries and explains its colours
    page.get_by_test_id("layer-select").select_option("latency")
    page.locator("path.country.shaded").first.wait_for()
    fills = set(
        page.locator("path.country.shaded").evaluate_all(
            "els => els.map(e => getComputedStyle(e).fill)"
        )
    )
    assert len(fills) >= 3  # several latency bins, not one land colour
    assert page.get_by_test_id("legend-layer").is_visible()
    shot(page, "02-map-latency-layer")
    page.get_by_test_id("layer-select").select_option("internet")
    page.locator("[data-testid=map][data-layer=internet]").wait_for()
    page.get_by_test_id("layer-select").select_option("none")
    shot(page, "03-map")
    # pan and zoom
    page.get_by_test_id("zoom-in").click()
    assert float(page.get_by_test_id("map").get_attribute("data-zoom")) > 1.5
    page.get_by_test_id("zoom-reset").click()
    assert page.get_by_test_id("map").get_attribute("data-zoom") == "1.00"

    first = page.evaluate("window.suanwang.metrics")
    # again, with the token already in this tab: time from navigation to the drawn map
    page.reload()
    page.locator("[data-testid=map][data-ready=true]").wait_for()
    again = page.evaluate("window.suanwang.metrics")
    metrics = {
        "map_ready_after_sign_in_ms": round(first["mapReadyAfterSignIn"]),
        "sign_in_to_map_ready_wall_ms": round(wall_ms),
        "map_ready_from_navigation_ms": round(again["mapReady"]),
        "transfer_bytes_static": sizes["static"],
        "transfer_bytes_api_first_render": sizes["api"],
        "transfer_bytes_by_path": sizes["files"],
        "note": "sizes: the first, cold-cache load up to the drawn map (bodies gzipped "
        "where the server does it); times: Chromium headless on this machine",
    }
    (artifacts / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print("dashboard metrics:", json.dumps(metrics))
    assert metrics["map_ready_from_navigation_ms"] < 15_000


def _clickable_site(page: Any, net: dict[str, Any]) -> dict[str, Any]:
    """The most isolated site whose centre is not under the legend or a button."""

    def nearest(site: dict[str, Any]) -> float:
        return min(
            math.hypot(site["lon"] - o["lon"], site["lat"] - o["lat"])
            for o in net["sites"]
            if o["id"] != site["id"]
        )

    for site in sorted(net["sites"], key=nearest, reverse=True):
        on_top = page.evaluate(
            """(id) => {
              const el = document.querySelector(`[data-testid="site-${id}"]`);
              const b = el.getBoundingClientRect();
              return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2) === el;
            }""",
            site["id"],
        )
        if on_top:
            return site
    raise AssertionError("no site can be clicked")


def test_a_click_opens_a_site_and_a_link(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn
) -> None:
    sign_in(page, demo, demo.operator)
    net = _network(demo)
    site = _clickable_site(page, net)
    circle = page.get_by_test_id(f"site-{site['id']}")
    circle.hover()
    tooltip = page.get_by_test_id("tooltip")
    tooltip.wait_for()
    assert site["name"] in tooltip.inner_text()
    circle.click()
    panel = page.get_by_test_id("site-panel")
    panel.wait_for()
    assert panel.get_attribute("data-site") == site["id"]
    text = panel.inner_text()
    assert site["name"] in text
    assert "PUE" in text
    assert "g CO₂/kWh" in text
    assert "$" in text
    assert page.locator("[data-testid=site-pools] tbody tr").count() == len(site["pools"])
    shot(page, "04-site-panel")
    # its latency circles: the rings list the sites within 1, 5 and 20 ms
    page.get_by_test_id("site-show-circles").click()
    page.get_by_test_id("ring-20").wait_for()
    with demo.api() as api:
        rings = api.get(f"/v1/network/circles/{site['id']}").json()["rings"]
    assert page.get_by_test_id("ring-20").get_attribute("data-count") == str(
        len(rings[-1]["sites"])
    )
    page.get_by_test_id("circle-mode-rtt").check()
    page.get_by_test_id("circle-result").filter(has_text="round trip").wait_for()
    shot(page, "05-latency-circles")
    # market and energy for that site's zone: prices per class and the 24 h strip
    page.get_by_test_id("site-show-energy").count()  # the details tab is not shown now
    page.get_by_test_id("tab-market").click()
    page.get_by_test_id("energy-site").select_option(site["id"])
    page.get_by_test_id("energy-strip").wait_for()
    assert page.locator("[data-testid=price-classes] tbody tr").count() >= 2
    assert page.locator("[data-testid=energy-strip] rect").count() >= 48
    shot(page, "06-market-energy")
    # a link: its latency, capacity and utilisation
    link = next(x for x in net["links"] if x["kind"] == "submarine")
    page.get_by_test_id(f"link-{link['id']}").dispatch_event("click")
    lp = page.get_by_test_id("link-panel")
    lp.wait_for()
    text = lp.inner_text()
    assert link["name"] in text
    assert "ms one-way" in text
    assert "Gbps" in text
    assert "%" in text


def _task_ids(page: Any, selector: str) -> set[str]:
    return set(
        page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.task)")  # type: ignore[arg-type]
    )


def test_a_task_appears_in_the_table_and_succeeds(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn
) -> None:
    sign_in(page, demo, demo.operator)
    page.locator("#task-rows tr").first.wait_for()
    watched: set[str] = set()
    done: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not done:
        # tasks seen placed or running (they hold a site), then seen succeeded
        watched |= _task_ids(
            page, "#task-rows tr[data-state=placed], #task-rows tr[data-state=running]"
        )
        done = watched & _task_ids(page, "#task-rows tr[data-state=succeeded]")
        page.wait_for_timeout(500)
    assert done, "no task went from placed/running to succeeded in the table within 90 s"
    task = sorted(done)[0]
    row = page.get_by_test_id(f"task-{task}")
    assert row.get_attribute("data-state") == "succeeded"
    cells = row.locator("td").all_inner_texts()
    assert any("$" in c for c in cells)
    assert any("CO₂e" in c for c in cells)
    shot(page, "07-task-table")
    row.locator("td").nth(2).click()
    page.get_by_test_id("task-page").wait_for()
    summary = page.get_by_test_id("task-summary")
    summary.wait_for()
    assert summary.get_attribute("data-state") == "succeeded"
    story = page.get_by_test_id("task-story")
    kinds = story.locator("[data-testid=story-event]").evaluate_all(
        "els => els.map(e => e.dataset.kind)"
    )
    assert kinds[0] == "submit"
    assert "place" in kinds
    assert kinds[-1] == "succeeded"
    page.get_by_test_id("explain-chosen").wait_for()
    assert page.locator("[data-testid=explain-ranking] tbody tr").count() >= 1
    with demo.api() as api:
        assert api.get(f"/v1/tasks/{task}").json()["state"] == "succeeded"
    shot(page, "08-task-page", full_page=True)
    page.get_by_test_id("task-back").click()
    page.get_by_test_id("dashboard").wait_for()


def test_an_operator_cuts_the_tonga_cable_and_the_red_sea_then_restores(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn
) -> None:
    net = _network(demo)
    tonga = [x["id"] for x in net["links"] if x["cable"] == "tonga-cable"]
    red_sea = [x["id"] for x in net["links"] if "red-sea" in x["corridors"]]
    assert tonga
    assert red_sea
    sign_in(page, demo, demo.operator)
    try:
        page.get_by_test_id("tab-whatif").click()
        page.get_by_test_id("whatif-cable-select").select_option("tonga-cable")
        page.get_by_test_id("whatif-cut-cable").click()
        for link in tonga:
            page.locator(f"[data-testid='link-{link}'][data-cut=true]").wait_for()
        page.get_by_test_id("whatif-cut").filter(has_text="Tonga Cable").wait_for()
        page.get_by_test_id("whatif-message").filter(has_text="in force").wait_for()
        assert int(page.get_by_test_id("map-stats").get_attribute("data-cut")) >= len(tonga)
        assert all(x["cut"] for x in _network(demo)["links"] if x["id"] in tonga)
        shot(page, "09-cut-tonga-cable")
        page.get_by_test_id("whatif-restore").click()
        for link in tonga:
            page.locator(f"[data-testid='link-{link}'][data-cut=false]").wait_for()
        page.get_by_test_id("whatif-none").wait_for()
        page.get_by_test_id("whatif-message").filter(has_text="Restored").wait_for()

        page.get_by_test_id("whatif-corridor-select").select_option("red-sea")
        page.get_by_test_id("whatif-cut-corridor").click()
        page.locator("[data-testid=map-stats]").and_(
            page.locator(f"[data-cut='{len(red_sea)}']")
        ).wait_for()
        assert page.locator("path.link.cut[data-testid]").count() == len(red_sea)
        shot(page, "10-cut-red-sea")
        page.get_by_test_id("whatif-restore").click()
        page.get_by_test_id("whatif-none").wait_for()
        page.locator("[data-testid=map-stats][data-cut='0']").wait_for()
    finally:
        with demo.api() as api:  # leave no cut behind for the other tests
            for cut in api.get("/v1/map/network").json()["cuts"]:
                api.delete(f"/v1/network/cuts/{cut['key']}")


def test_a_tenant_sees_only_its_own_tasks(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn
) -> None:
    other = None
    deadline = time.monotonic() + 60
    with demo.api() as api:
        while other is None and time.monotonic() < deadline:
            tasks = api.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
            other = next((t["id"] for t in tasks if t["tenant"] != demo.tenant_principal), None)
            time.sleep(0.5)
    assert other is not None
    sign_in(page, demo, demo.tenant)
    assert demo.tenant_principal in page.get_by_test_id("whoami").inner_text()
    assert page.get_by_test_id("tab-whatif").is_hidden()  # no cuts for tenants
    page.locator("#task-rows tr").first.wait_for(timeout=60_000)  # tenant-01 submits often
    tenants = set(
        page.locator("#task-rows tr").evaluate_all("els => els.map(e => e.dataset.tenant)")
    )
    assert tenants == {demo.tenant_principal}
    assert "only your own" in page.get_by_test_id("task-scope").inner_text()
    assert page.get_by_test_id(f"task-{other}").count() == 0
    shot(page, "11-tenant-table")
    page.goto(f"{demo.url}/#/task/{other}")
    missing = page.get_by_test_id("task-not-found")
    missing.wait_for()
    assert "not found" in missing.inner_text().lower()
    assert page.get_by_test_id("task-summary").count() == 0
    shot(page, "12-tenant-other-task-not-found")


def test_a_provider_sees_the_map_but_no_tasks(page: Any, demo: Demo, sign_in: SignIn) -> None:
    with demo.api() as api:
        made = api.post("/v1/tokens", json={"principal": "acme-provider", "role": "provider"})
        assert made.status_code == 201, made.text
    sign_in(page, demo, made.json()["token"])
    assert page.locator("circle[data-testid^=site-]").count() > 0
    page.get_by_test_id("task-empty").filter(has_text="cannot read tasks").wait_for()
    assert page.get_by_test_id("tab-whatif").is_hidden()
    page.get_by_test_id("tab-market").click()
    page.get_by_test_id("market-leases").filter(has_text="cannot read leases").wait_for()


def test_the_language_switch_changes_the_labels_to_chinese(
    page: Any, demo: Demo, shot: Shot, sign_in: SignIn
) -> None:
    sign_in(page, demo, demo.operator)
    assert page.get_by_test_id("tab-details").inner_text() == "Details"
    page.get_by_test_id("lang-zh").click()
    assert page.get_by_test_id("tab-details").inner_text() == "详情"
    assert page.locator("#map-title").inner_text() == "世界地图"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "运营看板" in page.title()
    assert "已登录" in page.get_by_test_id("whoami").inner_text()
    page.locator("#task-rows tr").first.wait_for()
    header = page.locator("[data-testid=task-table] thead").inner_text()
    assert "累计费用" in header
    assert "累计碳排" in header
    shot(page, "13-chinese")
    page.reload()  # remembered
    page.locator("[data-testid=map][data-ready=true]").wait_for()
    assert page.get_by_test_id("tab-details").inner_text() == "详情"
    page.get_by_test_id("lang-en").click()
    assert page.get_by_test_id("tab-details").inner_text() == "Details"


def test_signing_out_forgets_the_token(page: Any, demo: Demo, sign_in: SignIn) -> None:
    sign_in(page, demo, demo.operator)
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-panel").wait_for()
    assert page.evaluate("sessionStorage.getItem('suanwang.token')") is None
    page.reload()
    page.get_by_test_id("login-panel").wait_for()
    assert page.get_by_test_id("dashboard").is_hidden()


def test_the_demo_is_reachable(demo: Demo) -> None:
    """The fixture's platform answers (a failure here explains the others)."""
    assert httpx.get(f"{demo.url}/healthz", timeout=5).status_code == 200
