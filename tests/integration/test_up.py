"""`suanwang up`: one command brings up the platform; the first start prints an operator token
once; the API answers with it; Ctrl-C stops cleanly; the next start resumes with nothing
lost and prints no new token."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SUANWANG = str(Path(sys.executable).parent / "suanwang")
TOKEN = re.compile(r"sw_[0-9a-f]{16}\.[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data: Path, port: int, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [SUANWANG, "up", "--data-dir", str(data), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    banner = ""
    deadline = time.monotonic() + 60
    while "is up at" not in banner and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
    assert "is up at" in banner, banner + (proc.stderr.read() if proc.stderr else "")
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, banner


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    return out


def test_up_prints_a_token_once_serves_the_api_and_resumes(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    proc, banner = start(data, port, "--demo")
    try:
        tokens = TOKEN.findall(banner)
        assert len(tokens) == 1
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=30,
        )
        assert api.get("/v1/whoami").json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/tasks").status_code == 401
        deadline = time.monotonic() + 30
        listed: list[dict[str, object]] = []
        while time.monotonic() < deadline and not listed:  # the demo stream submits tasks
            listed = api.get("/v1/tasks").json()["tasks"]
            time.sleep(0.5)
        assert listed
        # a provider agent per site heartbeats through the API with its provider's token
        beating: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not beating:
            sites = api.get("/v1/sites").json()
            beating = [s for s in sites if s["heartbeat"] is not None]
            time.sleep(0.5)
        assert beating
        assert all(str(s["owner"]).startswith("demo-") for s in sites)
        one = api.get("/v1/sites/" + str(beating[0]["id"])).json()
        assert one["heartbeat"]["online"] == [p["count"] for p in one["pools"]]
    finally:
        out = stop(proc)
    assert "stopped" in out
    again, banner2 = start(data, port)
    try:
        assert TOKEN.findall(banner2) == []  # shown once only
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=30,
        )
        ids = {t["id"] for t in api.get("/v1/tasks", params={"limit": 1000}).json()["tasks"]}
        assert {t["id"] for t in listed} <= ids  # nothing lost
    finally:
        stop(again)
