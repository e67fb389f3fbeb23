"""Tasks submitted through the service layer run to completion on the real engines: the
one-node Slurm cluster (`scripts/slurm-up.sh`) and a private local Ray head."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from suanwang.control.backends.registry import make_backends
from suanwang.control.config import BackendOptions, ControlConfig, RayOptions, SlurmOptions
from suanwang.control.raycluster import MAX_TEMP_DIR_CHARS, RayHead, start_local_ray
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.control.store.schema import LedgerRow
from suanwang.core.market.leases import CloseReason
from suanwang.core.market.verify import verify
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import RunSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    temp = tmp_path_factory.mktemp("ray")
    if len(str(temp.resolve())) > MAX_TEMP_DIR_CHARS:
        temp = Path(tempfile.mkdtemp(prefix="swray-", dir="/tmp"))
    head = start_local_ray(temp, num_cpus=2, stop_with_parent=True)
    try:
        yield head
    finally:
        head.stop()


def run_on(options: BackendOptions, tmp_path: Path) -> None:
    """Three tasks (two succeed, one fails with exit 4) on ``options``, all sites mapped to
    it; checks states, outputs, leases and the ledger."""
    world = load_builtin_world()
    cfg = ControlConfig(
        namespace=f"e{int(time.time() * 1000) % 10**9}",
        backends={"engine": options},
        default_backend="engine",
        tick_s=0.2,
    )
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    rt = Runtime(
        store,
        cfg,
        world,
        UNIT_TABLE,
        make_backends(cfg, [s.id for s in world.sites], tmp_path),
        data_dir=tmp_path,
    )
    rt.recover()
    svc = ControlService(store)
    out = tmp_path / "out"
    out.mkdir()
    base = generate_tasks(world, 3, np.random.default_rng(4), start=datetime.now(UTC))
    py = sys.executable
    specs = [
        base[i].model_copy(
            update={
                "run": RunSpec(
                    command=(
                        py,
                        "-c",
                        "import os; open(os.path.join("
                        f"{str(out)!r}, os.environ['SUANWANG_TASK']), 'w').write('done')",
                    ),
                    memory_mb=256,
                    time_limit_s=120,
                )
            }
        )
        for i in range(2)
    ]
    specs.append(
        base[2].model_copy(
            update={"run": RunSpec(command=(py, "-c", "raise SystemExit(4)"), memory_mb=256)}
        )
    )
    ids = svc.submit_many(specs)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not rt.idle():
        rt.tick()
        time.sleep(0.3)
    assert rt.idle(), svc.counts()
    assert [svc.get(t).state for t in ids] == ["succeeded", "succeeded", "failed"]
    for t in ids[:2]:
        assert (out / t).read_text() == "done"
    market = rt.journal.market
    for t in ids:
        assert market.leases[f"{t}.1"].close_reason is CloseReason.COMPLETED
    with store.sessions() as s:
        records = [dict(b) for b in s.execute(select(LedgerRow.body)).scalars()]
    assert verify(records) == []


@pytest.mark.usefixtures("slurm_cluster")
def test_tasks_run_to_completion_on_slurm(tmp_path: Path) -> None:
    run_on(SlurmOptions(kind="slurm"), tmp_path)


def test_tasks_run_to_completion_on_ray(ray_head: RayHead, tmp_path: Path) -> None:
    run_on(RayOptions(kind="ray", address=ray_head.dashboard_url), tmp_path)
