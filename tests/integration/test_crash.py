"""Crash recovery: the control plane is killed with SIGKILL mid-run, under load, several
times; each restart rebuilds its state from the store and reconciles with the backends. In
the end no task is lost, none ran twice, and `suanwang ledger verify` passes.

This drives the real CLI (`suanwang control submit` / `run`) in subprocesses, with real
local subprocess jobs and simulated remote sites.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from suanwang.control.service import ControlService
from suanwang.control.store import default_url, open_store
from suanwang.control.store.schema import EventRow
from suanwang.core.engine import EventKind
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import RunSpec
from suanwang.world.builtin import load_builtin_world

SUANWANG = [str(Path(sys.executable).parent / "suanwang")]


def cli(*args: str, data: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SUANWANG, *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_tasks(path: Path, out: Path, n: int, seed: int) -> None:
    world = load_builtin_world()
    rng = np.random.default_rng(seed)
    lines = []
    for spec in generate_tasks(world, n, rng, start=datetime.now(UTC)):
        marker = out / f"{seed}-{spec.name}"
        code = (
            "import os, time; time.sleep(float(os.environ['NAP'])); "
            f"fd = os.open({str(marker)!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT); "
            "os.write(fd, (os.environ['SUANWANG_TASK'] + '\\n').encode())"
        )
        nap = f"{rng.uniform(0.3, 2.0):.2f}"
        spec = spec.model_copy(
            update={
                "duration_hours": float(rng.uniform(1.0, 4.0)),  # 1-4 s on the sim sites
                "deadline": None,
                "run": RunSpec(command=("env", f"NAP={nap}", sys.executable, "-c", code)),
            }
        )
        lines.append(spec.model_dump_json())
    path.write_text("\n".join(lines) + "\n")


def test_sigkill_under_load_loses_nothing_and_starts_nothing_twice(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    world = load_builtin_world()
    sites = sorted(s.id for s in world.sites)
    local = sites[::2]  # half the sites run real subprocesses, half are simulated
    config = data / "control.toml"
    config.write_text(
        "tick_s = 0.2\nheartbeat_grace_s = 60\nmeter_every_s = 1\ndefault_backend = 'sim'\n"
        "[backends.sim]\nkind = 'sim'\ntime_scale = 3600\n"
        "[backends.laptop]\nkind = 'local'\n"
        "[sites]\n" + "".join(f"{s} = 'laptop'\n" for s in local)
    )
    files = []
    for seed in (1, 2, 3):
        files.append(tmp_path / f"tasks-{seed}.jsonl")
        write_tasks(files[-1], out, 60, seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*SUANWANG, "control", "run", "--data-dir", str(data), "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    assert cli("control", "submit", str(files[0]), data=data).returncode == 0
    kills = 0
    in_flight: list[int] = []
    for wait, more in ((4.0, files[1]), (3.0, files[2]), (5.0, None)):
        proc = start()
        time.sleep(wait / 2)
        if more is not None:  # new work arrives while the runtime is busy
            assert cli("control", "submit", str(more), data=data).returncode == 0
        time.sleep(wait / 2)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        live = ControlService(open_store(default_url(data))).counts()
        in_flight.append(live["placed"] + live["dispatched"] + live["running"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        kills += 1
    final = cli("control", "run", "--until-idle", "--json", data=data, timeout=240)
    assert final.returncode == 0, final.stderr[-3000:]
    assert kills == 3
    assert sum(in_flight) > 0, "the kills must land while work is in flight"

    store = open_store(default_url(data))
    svc = ControlService(store)
    counts = svc.counts()
    assert counts["waiting"] == 0
    tasks = svc.tasks(limit=1000)
    assert len(tasks) == 180  # nothing lost
    for t in tasks:
        assert t.state in ("succeeded", "queued"), (t.id, t.state, t.reason)
        if t.state == "queued":  # never placeable: says why
            assert t.reason.startswith("waiting: ")
        else:
            assert t.attempt == 1, "a crash must not look like a lost attempt"
    succeeded = [t for t in tasks if t.state == "succeeded"]
    assert len(succeeded) >= 130  # the rest cannot be placed (budget, sovereignty)
    # nothing started twice: every local job wrote its marker exactly once, and every
    # simulated site holds one job per task
    by_name: dict[str, list[str]] = {}
    for marker in out.iterdir():
        by_name[marker.name] = marker.read_text().split()
    local_tasks = [t for t in succeeded if t.site in set(local)]
    assert local_tasks
    for task in local_tasks:
        seed = next(
            s
            for s in (1, 2, 3)
            if f"{s}-{task.name}" in by_name and task.id in by_name[f"{s}-{task.name}"]
        )
        assert by_name[f"{seed}-{task.name}"] == [task.id]
    sim_jobs = [
        p.name for p in (data / "jobs" / "sim").glob("*.json") if not p.name.startswith(".")
    ]
    sim_tasks = [t for t in succeeded if t.site not in set(local)]
    assert sorted(sim_jobs) == sorted(f"sw.{t.id}.1.json" for t in sim_tasks)
    # the engine placed each task once
    with store.sessions() as s:
        places = (
            s.execute(select(EventRow.body).where(EventRow.kind == EventKind.PLACE.value))
            .scalars()
            .all()
        )
    placed_tasks = [b["task"] for b in places]
    assert len(placed_tasks) == len(set(placed_tasks)) == len(succeeded)
    verify = cli("ledger", "verify", "--json", data=data)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert json.loads(verify.stdout)["ok"] is True
