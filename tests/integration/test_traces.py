"""Public cluster traces as tasks: the Alibaba GPU 2023 pods and the GAIA job samples.

The mapping rules are checked on small hand-written files; the real traces (../shared/data,
research-use data that is never shipped) are loaded when present.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.units import ComputeClass
from suanwang.workloads import (
    TraceError,
    alibaba_gpu_2023,
    alibaba_gpu_2023_arrivals,
    gaia,
    gaia_arrivals,
)
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
START = datetime(2026, 5, 1, tzinfo=UTC)
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def pod_file(tmp_path: Path, *rows: str) -> Path:
    (tmp_path / "openb_pod_list_default.csv").write_text(POD_HEADER + "".join(rows))
    return tmp_path


def test_a_shared_gpu_pod_asks_for_its_share_of_the_reference_gpu(tmp_path: Path) -> None:
    folder = pod_file(tmp_path, "p-1,6000,12288,1,460,,LS,Running,0,1800,0\n")
    [arrival] = alibaba_gpu_2023_arrivals(folder, WORLD, start=START)
    task = arrival.task
    assert task.name == "p-1"
    assert task.demand.compute_class is ComputeClass.AI
    assert task.demand.units == pytest.approx(0.46 * 65.0)  # 46 % of a T4
    assert task.duration_hours == 0.5
    assert arrival.at == START
    assert task.latency_sla is not None
    assert task.latency_sla.mode is LatencyMode.ROUND_TRIP
    assert task.latency_sla.max_ms in {20, 50, 100, 150}
    assert not task.deferrable


def test_a_gpu_spec_naming_one_model_the_world_sells_becomes_a_hardware_constraint(
    tmp_path: Path,
) -> None:
    folder = pod_file(
        tmp_path,
        "a,8000,1024,1,500,T4,BE,Running,3600,5400,3600\n",
        "b,8000,1024,1,500,V100M16|V100M32,BE,Running,3600,5400,3600\n",
        "c,8000,1024,2,0,T4|V100M16,BE,Running,3600,5400,3600\n",
        "d,8000,1024,8,0,G2,BE,Running,3600,5400,3600\n",
    )
    a, b, c, d = alibaba_gpu_2023_arrivals(folder, WORLD, start=START, max_wait_hours=6)
    assert (a.task.demand.model, a.task.demand.count) == ("nvidia-t4", 0.5)
    assert b.task.demand.units == pytest.approx(0.5 * 125.0)  # no V100 pool: V100 units
    assert c.task.demand.units == pytest.approx(2 * 65.0)  # either model will do: the slower
    assert d.task.demand.units == pytest.approx(8 * 65.0)  # undisclosed model: T4 units
    assert a.at == START + timedelta(hours=1)
    assert a.task.deferrable
    assert a.task.deadline == a.at + timedelta(hours=0.5 + 6)


def test_a_cpu_pod_asks_for_general_units_and_burstable_gets_no_sla(tmp_path: Path) -> None:
    folder = pod_file(tmp_path, "cpu,3152,5600,0,0,,Burstable,Running,0,,0\n")
    [task] = alibaba_gpu_2023(folder, WORLD)
    assert task.demand.compute_class is ComputeClass.GENERAL
    assert task.demand.units == pytest.approx(3.152)
    assert task.latency_sla is None
    assert not task.deferrable
    assert task.duration_hours == 0.25  # no deletion time: lasts to the end of the file


def test_broken_trace_files_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        alibaba_gpu_2023(tmp_path, WORLD)
    folder = pod_file(tmp_path, "x,abc,1,0,0,,LS,Running,0,1,0\n")
    with pytest.raises(TraceError, match=r"line 2: cpu_milli 'abc'"):
        alibaba_gpu_2023(folder, WORLD)
    with pytest.raises(TraceError, match="unknown Alibaba GPU 2023 variant"):
        alibaba_gpu_2023(folder, WORLD, variant="multigpu50")
    bad = tmp_path / "jobs.csv"
    bad.write_text("arrival_time,length\n0,1\n")
    with pytest.raises(TraceError, match="missing column"):
        gaia(bad, WORLD)


def test_a_gaia_job_is_a_deferrable_general_task(tmp_path: Path) -> None:
    path = tmp_path / "azure-100k.csv"
    path.write_text("arrival_time,length,cpus\n0.0,0.75,4\n2.5,19.08,2\n")
    first, second = gaia_arrivals(path, WORLD, start=START)
    assert [first.task.name, second.task.name] == ["azure-100k-000001", "azure-100k-000002"]
    assert first.task.tenant == "gaia-azure"
    assert first.task.demand.units == 4.0
    assert second.task.duration_hours == 19.25
    assert second.at == START + timedelta(hours=2.5)
    assert second.task.deferrable
    assert second.task.deadline == second.at + timedelta(hours=19.25 + 24)


# --- the real traces --------------------------------------------------------------------------


def _sound(tasks: list[TaskSpec]) -> None:
    assert len({t.name for t in tasks}) == len(tasks)
    for task in tasks:
        assert TaskSpec.model_validate(task.model_dump()) == task
        assert task.origin.site is None


def test_alibaba_gpu_2023_pods_load_as_tasks(shared_data: Path) -> None:
    folder = shared_data / "traces" / "alibaba-gpu-v2023"
    tasks = alibaba_gpu_2023(folder, WORLD, n=1000, seed=3)
    assert len(tasks) == 1000
    _sound(tasks)
    kinds = Counter(
        (t.demand.compute_class, t.latency_sla is not None, t.deferrable) for t in tasks
    )
    assert kinds[(ComputeClass.AI, True, False)] > 0  # latency-sensitive GPU pods
    assert kinds[(ComputeClass.AI, False, True)] > 0  # best-effort GPU pods
    assert kinds[(ComputeClass.GENERAL, True, False)] > 0  # CPU-only pods
    assert any(t.demand.units is not None and t.demand.units < 65.0 for t in tasks)  # sharing
    assert tasks == alibaba_gpu_2023(folder, WORLD, n=1000, seed=3)
    assert tasks != alibaba_gpu_2023(folder, WORLD, n=1000, seed=4)  # other origins
    assert len(alibaba_gpu_2023(folder, WORLD)) == 8152


def test_the_gpu_sharing_variant_shares_every_single_gpu(shared_data: Path) -> None:
    folder = shared_data / "traces" / "alibaba-gpu-v2023"
    tasks = alibaba_gpu_2023(folder, WORLD, variant="gpushare100")
    _sound(tasks)
    gpu = [t.demand.units for t in tasks if t.demand.compute_class is ComputeClass.AI]
    assert gpu
    assert all(u is not None and u < 65.0 for u in gpu)


@pytest.mark.parametrize(("name", "cpus"), [("azure", {2, 4, 8, 24, 30}), ("pai", None)])
def test_gaia_jobs_load_as_tasks(shared_data: Path, name: str, cpus: set[int] | None) -> None:
    tasks = gaia(shared_data / "traces" / "gaia" / f"{name}-100k.csv", WORLD, n=2000)
    assert len(tasks) == 2000
    _sound(tasks)
    assert {t.tenant for t in tasks} == {f"gaia-{name}"}
    assert all(t.demand.compute_class is ComputeClass.GENERAL for t in tasks)
    assert all(t.duration_hours * 4 == int(t.duration_hours * 4) for t in tasks)
    if cpus is not None:
        assert {t.demand.units for t in tasks} <= cpus
    shapes = Counter(t.model_dump_json(exclude={"name", "deadline"}) for t in tasks)
    assert len(shapes) < len(tasks)  # quantised: shapes recur
