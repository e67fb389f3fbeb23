"""The provider agent against a live API (uvicorn on 127.0.0.1 over a SQLite store): the real
``suanwang agent`` command run as a subprocess registers a site from a YAML file and its
heartbeat shows in ``GET /v1/sites/{id}``; another provider's token, a bad token, an unknown
site and an unreachable API end it with a clear message and the right exit status; SIGTERM
stops a running agent with exit 0. The slurm probe reads the real one-node Slurm cluster and
the ray probe a real private Ray head.

The developer's ``$SUANWANG_URL``, ``$SUANWANG_TOKEN`` and config file never leak in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.tokens import TokenStore
from suanwang.control.agent import Agent, AgentError, make_probe
from suanwang.control.store import Store, open_store
from suanwang.core.access import Role
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
SUANWANG = str(Path(sys.executable).parent / "suanwang")
SITE = "ke-acme-nairobi"

#: A new data centre in Nairobi: 512 CPU cores and 8 accelerators.
NAIROBI: dict[str, Any] = {
    "name": "Acme Nairobi DC1",
    "city": "Nairobi",
    "country": "KE",
    "lat": -1.29,
    "lon": 36.82,
    "kind": "region",
    "pools": [
        {
            "compute_class": "general",
            "model": "amd-epyc-9654",
            "count": 512,
            "price_per_unit_hour_micros": 12_000,
        },
        {
            "compute_class": "ai",
            "model": "nvidia-h100",
            "count": 8,
            "price_per_unit_hour_micros": 900_000,
        },
    ],
    "pue": 1.3,
    "grid_zone": "KE",
}


@dataclass
class Live:
    url: str
    store: Store
    tokens: dict[str, str]
    tmp: Path

    def client(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def site(self, site: str = SITE) -> dict[str, Any]:
        r = self.client("admin").get(f"/v1/sites/{site}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def site_file(self, name: str = "site.yaml", body: dict[str, Any] | None = None) -> str:
        path = self.tmp / name
        path.write_text(yaml.safe_dump(body or NAIROBI), encoding="utf-8")
        return str(path)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUANWANG_")}
        env.update(XDG_CONFIG_HOME=str(self.tmp / "config"), COLUMNS="200")
        return env

    def agent(
        self, who: str | None, *args: str, url: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``suanwang agent ARGS`` against this API with ``who``'s token."""
        token = self.tokens[who] if who else "sw_0000000000000000.nope"
        return subprocess.run(
            [SUANWANG, "agent", *args, "--url", url or self.url, "--token", token],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env(),
            check=False,
        )


@pytest.fixture
def live(tmp_path: Path, serve_app: Callable[[Any], str]) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'suanwang.db'}")
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "acme": ts.create("acme", Role.PROVIDER)[1],
        "globex": ts.create("globex", Role.PROVIDER)[1],
    }
    try:
        yield Live(
            serve_app(create_app(ApiSettings(store=store, world=WORLD))), store, tokens, tmp_path
        )
    finally:
        store.close()


def clean_error(done: subprocess.CompletedProcess[str], code: int, *, quiet: bool = True) -> str:
    """A clean failure: exit ``code``, one ``error: ...`` on stderr, no traceback (and nothing
    on stdout when ``quiet``); the message with whitespace folded."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    if quiet:
        assert done.stdout == ""
    assert done.stderr.startswith("error: "), done.stderr
    return " ".join(done.stderr.split())


# --- the CLI against the live API ----------------------------------------------------------------
def test_the_agent_registers_a_site_and_its_heartbeat_shows_in_the_api(live: Live) -> None:
    done = live.agent(
        "acme",
        "--site",
        SITE,
        "--backend",
        "local",
        "--register",
        live.site_file(),
        "--once",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()  # one JSON line per beat
    beat = json.loads(line)
    assert beat["beat"] == 1
    assert beat["accepted"] is True
    assert beat["every_s"] > 0
    assert beat["online"] == [512, 8]  # the local probe: this machine is fully online
    assert beat["counts"] == [512, 8]
    assert beat["metrics"]["cpus_total"] == os.cpu_count()
    assert f"site {SITE} registered" in " ".join(done.stderr.split())

    site = live.site()
    assert site["owner"] == "acme"
    assert [p["count"] for p in site["pools"]] == [512, 8]
    hb = site["heartbeat"]
    assert hb is not None
    assert hb["online"] == [512, 8]
    assert hb["metrics"]["cpus_total"] == os.cpu_count()
    assert 0 <= hb["metrics"]["utilisation"] <= 1
    assert hb["agent"].startswith("suanwang-agent/")
    assert hb["age_s"] < 60

    # the site exists now: no --register needed; the default output is a line per beat
    again = live.agent("acme", "--site", SITE, "--backend", "sim", "--once")
    assert again.returncode == 0, again.stderr
    text = " ".join(again.stdout.split())
    assert f"site {SITE} found" in text
    assert "beat 1: online 520/520 devices (100%) [512/512, 8/8]" in text
    assert live.site()["heartbeat"]["metrics"] == {}


def test_an_unknown_site_without_register_says_to_register_it(live: Live) -> None:
    done = live.agent("acme", "--site", SITE, "--backend", "sim", "--once")
    message = clean_error(done, 2)
    assert f"site '{SITE}' is not on the grid at {live.url}" in message
    assert "--register site.yaml" in message


def test_a_token_for_someone_elses_site_is_exit_2_with_the_apis_message(live: Live) -> None:
    assert live.client("acme").put(f"/v1/sites/{SITE}", json=NAIROBI).status_code == 201
    for args in ((), ("--register", live.site_file())):
        done = live.agent("globex", "--site", SITE, "--backend", "sim", "--once", *args)
        # anyone may read the site; the beat (or the registration) is refused
        assert f"site '{SITE}' is not yours" in clean_error(done, 2, quiet=False)
        assert "beat" not in done.stdout
    # without --once a refusal ends the agent too (no retrying)
    done = live.agent("globex", "--site", SITE, "--backend", "sim", "--every", "0.1")
    assert "is not yours" in clean_error(done, 2, quiet=False)
    assert live.site()["heartbeat"] is None


def test_a_bad_token_is_exit_2_saying_where_the_token_came_from(live: Live) -> None:
    done = live.agent(None, "--site", SITE, "--backend", "sim", "--once")
    message = clean_error(done, 2)
    assert "the token came from --token" in message


def test_an_unreachable_api_with_once_is_exit_1_with_a_clear_message(live: Live) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    done = live.agent("acme", "--site", SITE, "--backend", "sim", "--once", url=url)
    message = clean_error(done, 1)
    assert f"cannot reach the API at {url}" in message
    assert "--url" in message
    assert len(done.stderr.strip().splitlines()) == 1


def test_sigterm_stops_a_running_agent_with_exit_0(live: Live) -> None:
    proc = subprocess.Popen(
        [
            SUANWANG,
            "agent",
            "--site",
            SITE,
            "--backend",
            "local",
            "--register",
            live.site_file(),
            "--every",
            "0.2",
            "--json",
            "--url",
            live.url,
            "--token",
            live.tokens["acme"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=live.env(),
    )
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        beats = [json.loads(proc.stdout.readline()) for _ in range(3)]
        assert [b["beat"] for b in beats] == [1, 2, 3]
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - sent
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert stopped_in < 5
    assert "Traceback" not in err
    assert "stopped after" in err
    assert all(json.loads(x)["online"] == [512, 8] for x in out.splitlines())
    assert live.site()["heartbeat"]["online"] == [512, 8]


def test_a_running_agent_retries_an_unreachable_api_with_one_line_per_failure(live: Live) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            SUANWANG,
            "agent",
            "--site",
            SITE,
            "--backend",
            "sim",
            "--url",
            f"http://127.0.0.1:{port}",
            "--token",
            live.tokens["acme"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=live.env(),
    )
    try:
        time.sleep(6)  # start-up (~2 s), then failures 1 s and 2 s apart
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    warnings = [ln for ln in err.splitlines() if "warning:" in ln]
    assert len(warnings) >= 2, err
    assert "cannot reach the API" in warnings[0]
    assert "retrying in 1 s" in warnings[0]
    assert "retrying in 2 s" in warnings[1]
    assert "Traceback" not in err
    assert "stopped after 0 beat(s)" in out


# --- the slurm probe against the real one-node cluster ------------------------------------------
def test_the_slurm_probe_reads_the_real_cluster(slurm_cluster: None, live: Live) -> None:
    reading = make_probe("slurm").read()
    assert reading.metrics["cpus_total"] > 0
    assert reading.metrics["nodes_total"] >= 1
    assert reading.fraction_online == 1.0
    assert 0 <= reading.metrics["utilisation"] <= 1

    listed = subprocess.run(
        ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, check=True, timeout=15
    )
    partition = listed.stdout.split()[0].rstrip("*")
    one = make_probe("slurm", partition=partition).read()
    assert 0 < one.metrics["cpus_total"] <= reading.metrics["cpus_total"]
    with pytest.raises(AgentError, match="sinfo lists no nodes in partition 'no-such-part'"):
        make_probe("slurm", partition="no-such-part").read()

    done = live.agent(
        "acme",
        "--site",
        SITE,
        "--backend",
        "slurm",
        "--partition",
        partition,
        "--register",
        live.site_file(),
        "--once",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["online"] == [512, 8]
    assert live.site()["heartbeat"]["metrics"]["cpus_total"] == one.metrics["cpus_total"]


# --- the ray probe against a real private Ray head ----------------------------------------------
@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'suanwang[ray]'")
    from suanwang.control.raycluster import MAX_TEMP_DIR_CHARS, start_local_ray

    temp_dir = tmp_path_factory.mktemp("ray")
    if len(str(temp_dir.resolve())) > MAX_TEMP_DIR_CHARS:
        temp_dir = Path(tempfile.mkdtemp(prefix="swagent-", dir="/tmp"))
    head = start_local_ray(temp_dir, num_cpus=2, stop_with_parent=True)
    try:
        yield head
    finally:
        head.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_the_ray_probe_reads_a_real_ray_head(ray_head: Any, live: Live) -> None:
    probe = make_probe("ray", address=ray_head.dashboard_url)
    deadline = time.monotonic() + 60
    reading = probe.read()
    # the node shows in the state API, and the autoscaler's load report, seconds after start
    while time.monotonic() < deadline and (
        reading.metrics["cpus_total"] == 0 or "utilisation" not in reading.metrics
    ):
        time.sleep(0.5)
        reading = probe.read()
    assert reading.metrics["cpus_total"] == 2
    assert reading.metrics["nodes_alive"] == 1
    assert reading.fraction_online == 1.0
    assert 0 <= reading.metrics["utilisation"] <= 1

    acme = live.client("acme")
    assert acme.put(f"/v1/sites/{SITE}", json=NAIROBI).status_code == 201
    beat = Agent(acme, SITE, probe).beat()
    assert beat["online"] == [512, 8]
    assert live.site()["heartbeat"]["metrics"]["cpus_total"] == 2
