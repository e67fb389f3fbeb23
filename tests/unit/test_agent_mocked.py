"""The provider agent (:mod:`suanwang.control.agent`) against ``httpx.MockTransport``: the
requests it sends (online per pool, metrics, the agent's name), registration and the 404
message, retries with capped exponential backoff, a refusal that stops it, stopping promptly;
the probes' parsing and the CLI's checks made before anything is sent."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from suanwang import __version__
from suanwang.cli.app import app
from suanwang.control.agent import (
    BACKOFF_MAX_S,
    PROBE_KINDS,
    Agent,
    AgentError,
    LocalProbe,
    Probe,
    RayProbe,
    Reading,
    SimProbe,
    SlurmProbe,
    backoff_s,
    make_probe,
)
from suanwang.core.errors import SuanwangError
from suanwang.world.onboard import SiteRegistration

SITE = "ke-acme-nairobi"
POOLS = [
    {"compute_class": "general", "model": "amd-epyc-9654", "count": 512},
    {"compute_class": "ai", "model": "nvidia-h100", "count": 8},
    {"compute_class": "ai", "model": "nvidia-a100", "count": 3},
]
REGISTRATION: dict[str, Any] = {
    "name": "Acme Nairobi DC1",
    "city": "Nairobi",
    "country": "KE",
    "lat": -1.29,
    "lon": 36.82,
    "pools": [
        {
            "compute_class": "general",
            "model": "amd-epyc-9654",
            "count": 512,
            "price_per_unit_hour_micros": 12_000,
        }
    ],
    "pue": 1.3,
    "grid_zone": "KE",
}


class FixedProbe:
    def __init__(self, fraction: float, metrics: dict[str, float] | None = None) -> None:
        self.reading = Reading(fraction, metrics or {"utilisation": 0.25})

    def read(self) -> Reading:
        return self.reading


class FakeApi:
    """A tiny stand-in for the sites routes; records every request."""

    def __init__(self, pools: list[dict[str, Any]] | None = None) -> None:
        self.pools = pools if pools is not None else [dict(p) for p in POOLS]
        self.known = True
        self.requests: list[httpx.Request] = []
        self.fail_next: list[Callable[[httpx.Request], httpx.Response]] = []
        self.every_s = 10.0

    def bodies(self, method: str = "POST") -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.method == method]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_next:
            return self.fail_next.pop(0)(request)
        path = request.url.path
        if request.method == "GET" and path == f"/v1/sites/{SITE}":
            if not self.known:
                return error(404, "not_found", f"unknown site {SITE!r}")
            return httpx.Response(200, json={"id": SITE, "pools": self.pools, "owner": "acme"})
        if request.method == "PUT" and path == f"/v1/sites/{SITE}":
            body = json.loads(request.content)
            self.pools = body["pools"]
            created = not self.known
            self.known = True
            site = {"id": SITE, "pools": self.pools, "owner": "acme"}
            return httpx.Response(
                201 if created else 200, json={"site": site, "created": created, "links": []}
            )
        if request.method == "POST" and path == f"/v1/sites/{SITE}/heartbeat":
            body = json.loads(request.content)
            if len(body["online"]) != len(self.pools):
                return error(422, "invalid", "counts do not match", "online")
            return httpx.Response(202, json={"accepted": True, "every_s": self.every_s})
        return error(404, "not_found", f"not found: {path}")


def error(status: int, code: str, message: str, field: str | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, "field": field}}
    )


def refused(_request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def agent_on(api: FakeApi, probe: Probe | None = None) -> Agent:
    client = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(api))
    return Agent(client, SITE, probe or FixedProbe(1.0))


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded; it sets itself after
    ``limit`` waits (so ``run`` ends without sleeping)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


# --- online per pool ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fraction", "online"),
    [
        (1.0, [512, 8, 3]),
        (0.5, [256, 4, 1]),
        (2 / 3, [341, 5, 2]),
        (0.0, [0, 0, 0]),
        (1.7, [512, 8, 3]),  # clamped to 1
        (-0.2, [0, 0, 0]),
        (math.nan, [0, 0, 0]),
    ],
)
def test_a_beat_sends_floor_of_count_times_the_share_online_for_each_pool(
    fraction: float, online: list[int]
) -> None:
    api = FakeApi()
    agent = agent_on(api, FixedProbe(fraction, {"utilisation": 0.25, "load1": 1.5}))
    agent.register()
    answer = agent.beat()
    (body,) = api.bodies("POST")
    assert body["online"] == online
    assert body["metrics"] == {"utilisation": 0.25, "load1": 1.5}
    assert body["agent"] == f"suanwang-agent/{__version__}"
    sent = api.requests[-1]
    assert sent.url.path == f"/v1/sites/{SITE}/heartbeat"
    assert sent.headers["user-agent"] == f"suanwang-agent/{__version__}"
    assert answer["accepted"] is True
    assert answer["every_s"] == 10.0
    assert answer["online"] == online
    assert answer["counts"] == [512, 8, 3]
    assert answer["site"] == SITE


def test_a_share_computed_as_a_ratio_is_not_rounded_down_by_float_error() -> None:
    # 7 of 10 nodes up: 90 * (7 / 10) is 62.99999999999999 in floating point, yet 63 are up
    api = FakeApi([{"count": 90}, {"count": 10}, {"count": 49}])
    agent_on(api, FixedProbe(7 / 10)).beat()
    assert api.bodies()[0]["online"] == [63, 7, 34]


def test_metrics_are_cleaned_to_what_the_api_accepts() -> None:
    metrics = {f"m{i:02d}": float(i) for i in range(40)}
    metrics.update({"a" * 61: 1.0})
    api = FakeApi()
    agent = agent_on(api, FixedProbe(1.0, {"nan": math.nan, "inf": math.inf, **metrics}))
    agent.beat()
    sent = api.bodies()[0]["metrics"]
    assert "nan" not in sent
    assert "inf" not in sent
    assert len(sent) == 32
    assert all(len(k) <= 60 for k in sent)


def test_a_custom_agent_name_is_sent() -> None:
    api = FakeApi()
    client = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(api))
    Agent(client, SITE, SimProbe(), name="demo-agent/1").beat()
    assert api.bodies()[0]["agent"] == "demo-agent/1"
    assert api.requests[-1].headers["user-agent"] == "demo-agent/1"


# --- registration ------------------------------------------------------------------------------
def test_register_puts_the_registration_and_remembers_the_pool_counts() -> None:
    api = FakeApi([])
    api.known = False
    agent = agent_on(api)
    reg = SiteRegistration.model_validate(REGISTRATION)
    site = agent.register(reg)
    assert site["id"] == SITE
    assert agent.created is True
    assert agent.counts == (512,)
    (put,) = api.bodies("PUT")
    assert put == reg.model_dump(mode="json")
    agent.beat()
    assert api.bodies()[0]["online"] == [512]
    assert agent.register(reg)["pools"][0]["count"] == 512
    assert agent.created is False


def test_register_without_a_registration_looks_the_site_up() -> None:
    api = FakeApi()
    agent = agent_on(api)
    site = agent.register()
    assert site["owner"] == "acme"
    assert agent.counts == (512, 8, 3)
    assert agent.created is None
    assert [r.method for r in api.requests] == ["GET"]


def test_an_unknown_site_without_a_registration_says_to_register_it() -> None:
    api = FakeApi()
    api.known = False
    with pytest.raises(AgentError) as caught:
        agent_on(api).register()
    exc = caught.value
    assert isinstance(exc, SuanwangError)
    assert exc.status == 404
    assert not exc.retryable
    assert SITE in str(exc)
    assert "--register" in str(exc)
    assert "http://api.test" in str(exc)


def test_a_beat_before_registering_looks_the_site_up_first() -> None:
    api = FakeApi()
    agent_on(api).beat()
    assert [r.method for r in api.requests] == ["GET", "POST"]


def test_a_beat_refused_for_a_changed_pool_count_counts_the_pools_again() -> None:
    api = FakeApi()
    agent = agent_on(api)
    agent.register()
    api.pools = [*api.pools, {"count": 4}]  # someone added a pool since
    answer = agent.beat()
    assert answer["online"] == [512, 8, 3, 4]
    assert [r.method for r in api.requests] == ["GET", "POST", "GET", "POST"]


def test_the_apis_error_message_and_field_reach_the_agent_error() -> None:
    api = FakeApi()
    api.fail_next = [lambda _r: error(403, "forbidden", f"site {SITE!r} is not yours")]
    with pytest.raises(AgentError) as caught:
        agent_on(api).register()
    assert caught.value.status == 403
    assert str(caught.value) == f"site {SITE!r} is not yours"
    api.fail_next = [lambda _r: error(422, "invalid", "bad pool", "pools.0.count")]
    with pytest.raises(AgentError, match=r"bad pool \(field: pools.0.count\)") as caught:
        agent_on(api).register()
    assert caught.value.field == "pools.0.count"
    api.fail_next = [lambda _r: httpx.Response(502, text="<html>Bad gateway</html>")]
    with pytest.raises(AgentError, match="HTTP 502 Bad Gateway") as caught:
        agent_on(api).register()
    assert caught.value.retryable


def test_an_unreachable_api_is_a_clear_retryable_error() -> None:
    api = FakeApi()
    api.fail_next = [refused]
    with pytest.raises(AgentError) as caught:
        agent_on(api).beat()
    assert caught.value.status is None
    assert caught.value.retryable
    assert (
        str(caught.value)
        == "cannot reach the API at http://api.test: [Errno 111] Connection refused"
    )


# --- run: backoff, refusals, stopping ------------------------------------------------------------
def test_backoff_doubles_from_one_second_and_is_capped() -> None:
    assert [backoff_s(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_s(10_000) == BACKOFF_MAX_S
    assert backoff_s(0) == 0


def test_run_retries_connection_errors_with_capped_backoff_and_recovers() -> None:
    api = FakeApi()
    api.fail_next = [refused] * 8
    errors: list[str] = []
    beats: list[dict[str, Any]] = []
    stop = RecordingStop(limit=11)
    sent = agent_on(api).run(stop, on_beat=beats.append, on_error=errors.append)
    # 8 failed lookups (1, 2, 4, ... 60, 60 s apart), then 3 beats at the server's pace
    assert stop.waits == [1, 2, 4, 8, 16, 32, 60, 60, 10.0, 10.0, 10.0]
    assert sent == 3
    assert len(beats) == 3
    assert len(errors) == 8
    assert errors[0] == (
        "cannot reach the API at http://api.test: [Errno 111] Connection refused "
        "(failure 1 in a row; retrying in 1 s)"
    )
    assert all("\n" not in e for e in errors)
    assert "retrying in 60 s" in errors[-1]


def test_a_failure_after_a_beat_starts_the_backoff_again() -> None:
    api = FakeApi()
    stop = RecordingStop(limit=5)
    agent = agent_on(api)
    original = api.__call__

    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] in (3, 4):  # the 2nd beat fails twice (503), then all is well
            api.requests.append(request)
            return error(503, "unavailable", "the store is busy")
        return original(request)

    agent.client = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(flaky))
    errors: list[str] = []
    assert agent.run(stop, every_s=0.5, on_error=errors.append) == 3
    assert stop.waits == [0.5, 1, 2, 0.5, 0.5]
    assert errors[0].startswith("the store is busy (failure 1 in a row")


def test_a_probe_failure_is_retried_like_an_outage() -> None:
    class Broken:
        def read(self) -> Reading:
            raise AgentError("cannot read Slurm: sinfo exited 1: slurmctld is down")

    stop = RecordingStop(limit=2)
    errors: list[str] = []
    assert agent_on(FakeApi(), Broken()).run(stop, on_error=errors.append) == 0
    assert stop.waits == [1, 2]
    assert errors[0].startswith("cannot read Slurm: sinfo exited 1: slurmctld is down (failure 1")


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_a_refusal_stops_the_run_with_the_apis_message(status: int) -> None:
    api = FakeApi()
    agent = agent_on(api)
    agent.register()
    api.fail_next = [lambda _r: error(status, "refused", f"refused with {status}")]
    stop = RecordingStop(limit=100)
    with pytest.raises(AgentError) as caught:
        agent.run(stop)
    assert caught.value.status == status
    assert not caught.value.retryable
    assert str(caught.value) == f"refused with {status}"
    assert stop.waits == []
    assert [r.method for r in api.requests] == ["GET", "POST"]


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_statuses_that_may_pass_are_retried(status: int) -> None:
    api = FakeApi()
    api.fail_next = [lambda _r: error(status, "busy", "try later")]
    stop = RecordingStop(limit=2)
    assert agent_on(api).run(stop, every_s=3.0) == 1
    assert stop.waits == [1, 3.0]


def test_run_beats_at_the_given_pace_else_the_servers() -> None:
    api = FakeApi()
    api.every_s = 7.5
    stop = RecordingStop(limit=2)
    agent_on(api).run(stop)
    assert stop.waits == [7.5, 7.5]
    stop = RecordingStop(limit=2)
    agent_on(api).run(stop, every_s=0.25)
    assert stop.waits == [0.25, 0.25]


def test_a_set_stop_ends_run_promptly_and_a_set_stop_sends_nothing() -> None:
    api = FakeApi()
    stop = threading.Event()
    beats: list[dict[str, Any]] = []
    result: list[int] = []

    def on_beat(answer: dict[str, Any]) -> None:
        beats.append(answer)
        stop.set()

    thread = threading.Thread(
        target=lambda: result.append(agent_on(api).run(stop, every_s=60.0, on_beat=on_beat))
    )
    started = time.monotonic()
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2
    assert result == [1]

    api2 = FakeApi()
    stop2 = threading.Event()
    stop2.set()
    assert agent_on(api2).run(stop2) == 0
    assert api2.requests == []


def test_a_stop_set_during_a_backoff_wait_ends_run_promptly() -> None:
    api = FakeApi()
    api.fail_next = [refused] * 100
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(agent_on(api).run(stop)))
    thread.start()
    time.sleep(0.3)  # in the first backoff wait (1 s)
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 0.5
    assert result == [0]


# --- probes --------------------------------------------------------------------------------------
def test_make_probe_knows_four_kinds_and_names_them_for_an_unknown_one() -> None:
    assert PROBE_KINDS == ("local", "slurm", "ray", "sim")
    assert isinstance(make_probe("local"), LocalProbe)
    assert isinstance(make_probe("slurm", partition="debug"), SlurmProbe)
    assert isinstance(make_probe("ray", address="http://127.0.0.1:1"), RayProbe)
    assert isinstance(make_probe("sim"), SimProbe)
    with pytest.raises(
        ValueError, match="unknown backend 'k8s'; choose one of local, slurm, ray, sim"
    ):
        make_probe("k8s")
    with pytest.raises(ValueError, match="address is for the ray backend"):
        make_probe("local", address="http://x")
    with pytest.raises(ValueError, match="partition is for the slurm backend"):
        make_probe("ray", partition="debug")


def test_the_sim_probe_is_fully_online_without_metrics_every_time() -> None:
    probe = make_probe("sim")
    assert [probe.read() for _ in range(3)] == [Reading(1.0, {})] * 3


def test_the_local_probe_reads_this_machine() -> None:
    reading = make_probe("local").read()
    assert reading.fraction_online == 1.0
    m = reading.metrics
    assert m["cpus_total"] == float(os.cpu_count() or 1)
    assert m["load1"] >= 0
    assert 0 <= m["utilisation"] <= 1
    assert m["utilisation"] == pytest.approx(min(1.0, m["load1"] / m["cpus_total"]), abs=1e-3)
    if Path("/proc/meminfo").is_file():
        assert 0 < m["mem_available_mb"] <= m["mem_total_mb"]


def test_the_local_probe_reads_meminfo_in_mib_and_goes_without_it(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       16384000 kB\nMemFree:         100 kB\nMemAvailable:    8192000 kB\n"
    )
    m = LocalProbe(meminfo).read().metrics
    assert (m["mem_total_mb"], m["mem_available_mb"]) == (16000.0, 8000.0)
    m = LocalProbe(tmp_path / "missing").read().metrics
    assert "mem_total_mb" not in m
    assert "cpus_total" in m


def test_the_slurm_probe_counts_each_node_once_and_down_cpus_as_offline() -> None:
    out = "n1 4/4/0/8\nn2 0/0/8/8\nn1 4/4/0/8\nn3 2/6/0/8\n"  # n1 is in two partitions
    reading = SlurmProbe().parse(out)
    assert reading.fraction_online == pytest.approx(16 / 24)
    m = reading.metrics
    assert (m["cpus_total"], m["cpus_allocated"], m["cpus_idle"], m["cpus_other"]) == (
        24,
        6,
        10,
        8,
    )
    assert m["nodes_total"] == 3
    assert m["utilisation"] == pytest.approx(6 / 24, abs=1e-4)


def test_the_slurm_probe_asks_for_the_partition_and_says_what_is_wrong() -> None:
    assert SlurmProbe("gpu").command("sinfo") == ["sinfo", "-h", "-N", "-o", "%N %C", "-p", "gpu"]
    assert SlurmProbe().command("sinfo") == ["sinfo", "-h", "-N", "-o", "%N %C"]
    with pytest.raises(AgentError, match="sinfo lists no nodes in partition 'gpu'"):
        SlurmProbe("gpu").parse("")
    with pytest.raises(AgentError, match="unexpected sinfo line 'n1 4/4/8'"):
        SlurmProbe().parse("n1 4/4/8\n")
    with pytest.raises(AgentError, match="no-such-sinfo-here is not on PATH"):
        SlurmProbe(sinfo="no-such-sinfo-here").read()


def test_a_slurm_probe_whose_sinfo_fails_says_why(tmp_path: Path) -> None:
    fake = tmp_path / "sinfo"
    fake.write_text(
        "#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(AgentError) as caught:
        SlurmProbe(sinfo=str(fake)).read()
    assert "sinfo exited 1: slurm_load_partitions: Unable to contact slurm controller" in str(
        caught.value
    )
    assert caught.value.retryable


def ray_dashboard(
    nodes: list[dict[str, Any]], usage: dict[str, list[float]] | None
) -> Callable[[httpx.Request], httpx.Response]:
    """The two dashboard routes the ray probe reads, shaped as Ray 2.x answers them."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v0/nodes":
            result = {"total": len(nodes), "result": nodes, "partial_failure_warning": ""}
            return httpx.Response(200, json={"result": True, "msg": "", "data": {"result": result}})
        if request.url.path == "/api/cluster_status":
            status = None if usage is None else {"loadMetricsReport": {"usage": usage}}
            data = {"autoscalingStatus": None, "clusterStatus": status}
            return httpx.Response(200, json={"result": True, "msg": "", "data": data})
        return httpx.Response(404, text="not found")

    return handle


def node(state: str, cpus: float, gpus: float = 0) -> dict[str, Any]:
    res = {"CPU": cpus, "memory": 1e9, **({"GPU": gpus} if gpus else {})}
    return {"node_id": f"n{cpus}{state}", "state": state, "resources_total": res}


def test_the_ray_probe_counts_the_cpus_of_alive_nodes_and_the_utilisation() -> None:
    nodes = [node("ALIVE", 8, gpus=2), node("ALIVE", 4), node("DEAD", 4)]
    usage = {"CPU": [3.0, 12.0], "memory": [2 * 2**30, 8 * 2**30]}
    probe = RayProbe("127.0.0.1:8265", transport=httpx.MockTransport(ray_dashboard(nodes, usage)))
    assert probe.address == "http://127.0.0.1:8265"
    reading = probe.read()
    assert reading.fraction_online == pytest.approx(12 / 16)
    m = reading.metrics
    assert (m["cpus_total"], m["cpus_alive"], m["nodes_total"], m["nodes_alive"]) == (16, 12, 3, 2)
    assert m["gpus_alive"] == 2
    assert m["utilisation"] == 0.25
    assert (m["mem_total_mb"], m["mem_available_mb"]) == (8192.0, 6144.0)


def test_the_ray_probe_goes_without_utilisation_until_the_autoscaler_reports() -> None:
    probe = RayProbe(transport=httpx.MockTransport(ray_dashboard([node("ALIVE", 2)], None)))
    reading = probe.read()
    assert reading.fraction_online == 1.0
    assert "utilisation" not in reading.metrics
    empty = RayProbe(transport=httpx.MockTransport(ray_dashboard([], None))).read()
    assert empty.fraction_online == 0.0
    assert empty.metrics["cpus_total"] == 0


def test_the_ray_probe_says_when_the_dashboard_is_unreachable_or_not_ray() -> None:
    with pytest.raises(AgentError, match=r"cannot reach the Ray dashboard at http://127.0.0.1:1"):
        RayProbe("http://127.0.0.1:1", timeout=2).read()
    not_ray = httpx.MockTransport(lambda _r: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(AgentError, match=r"did not answer JSON .* Ray dashboard"):
        RayProbe(transport=not_ray).read()
    failing = httpx.MockTransport(
        lambda _r: httpx.Response(200, json={"result": False, "msg": "GCS is down", "data": {}})
    )
    with pytest.raises(AgentError, match="GCS is down"):
        RayProbe(transport=failing).read()


# --- the CLI's checks before anything is sent ---------------------------------------------------
runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SUANWANG_URL", "SUANWANG_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def cli(*args: str) -> Any:
    return runner.invoke(
        app,
        ["agent", *args, "--url", "http://127.0.0.1:1", "--token", "sw_x.y"],
        env={"COLUMNS": "200"},
    )


def test_the_help_shows_an_example() -> None:
    result = runner.invoke(app, ["agent", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "--register site.yaml" in result.stdout
    for kind in PROBE_KINDS:
        assert kind in result.stdout


def test_a_bad_registration_file_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("name: Acme\ncity: Nairobi\ncountry: KE\nlat: 123\nlon: 36.8\npue: 1.3\n")
    result = cli("--site", SITE, "--backend", "sim", "--register", str(bad), "--once")
    assert result.exit_code == 2, result.output
    assert "site.yaml:" in result.stderr
    assert "lat:" in result.stderr
    assert "pools:" in result.stderr
    assert "nothing was sent" in result.stderr
    assert "Traceback" not in result.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ')
    result = cli("--site", SITE, "--backend", "sim", "--register", str(broken), "--once")
    assert result.exit_code == 2
    assert "not valid YAML or JSON" in result.stderr
    result = cli("--site", SITE, "--backend", "sim", "--register", str(tmp_path / "no.yaml"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_bad_options_are_exit_2_before_anything_is_sent() -> None:
    result = cli("--site", "Bad_Site", "--backend", "sim", "--once")
    assert result.exit_code == 2
    assert "--site 'Bad_Site'" in result.stderr
    result = cli("--site", SITE, "--backend", "local", "--address", "http://x", "--once")
    assert result.exit_code == 2
    assert "address is for the ray backend" in result.stderr
    result = cli("--site", SITE, "--backend", "k8s", "--once")
    assert result.exit_code == 2


def test_a_backend_that_cannot_be_read_at_start_is_exit_2() -> None:
    result = cli("--site", SITE, "--backend", "ray", "--address", "http://127.0.0.1:1", "--once")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: the ray backend cannot be read: cannot reach the Ray")


def test_no_token_is_exit_2_with_how_to_set_one() -> None:
    result = runner.invoke(
        app, ["agent", "--site", SITE, "--backend", "sim", "--once", "--url", "http://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "no API token" in result.stderr
