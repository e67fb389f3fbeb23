"""`suanwang control run` as an operator runs it: a long-lived process that serves Prometheus
metrics on 127.0.0.1, stops cleanly on Ctrl-C (SIGINT) or SIGTERM, and resumes on the next
start with nothing lost; `control status` shows what the store holds."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SUANWANG = str(Path(sys.executable).parent / "suanwang")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SUANWANG, *args], capture_output=True, text=True, timeout=120)


def scrape(port: int, deadline_s: float = 60.0) -> str:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_runtime_serves_metrics_stops_cleanly_and_resumes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "control.toml").write_text(
        "tick_s = 0.1\n[backends.sim]\nkind = 'sim'\ntime_scale = 1.0\n"  # tasks run for hours
    )
    assert (
        cli("control", "submit", "--generate", "20", "--seed", "3", "--data-dir", data).returncode
        == 0
    )
    port = free_port()
    proc = subprocess.Popen(
        [SUANWANG, "control", "run", "--data-dir", data, "--metrics-port", str(port), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        text = scrape(port)
        while 'suanwang_tasks{state="running"} 0.0' in text and time.monotonic() < deadline:
            time.sleep(0.3)
            text = scrape(port)
        assert "suanwang_tick_seconds_count" in text
        assert 'suanwang_dispatches_total{backend="sim"}' in text
        running = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith('suanwang_tasks{state="running"}')
        )
        assert running > 0
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["tasks"]["running"] + report["tasks"]["queued"] == 20
    # the port is free again, and a new start picks up where the first left off
    with socket.socket() as s:  # as a restarted server binds it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    again = cli("control", "run", "--data-dir", data, "--max-ticks", "2", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["recovered"]["events"] > 0
    status = cli("control", "status", "--data-dir", data, "--json")
    assert status.returncode == 0
    state = json.loads(status.stdout)
    assert state["schema"] == "0003"
    assert sum(v for k, v in state["tasks"].items() if k != "waiting") == 20
    assert state["cuts"] == []
    assert state["sites_down"] == []
