"""The process that stands between :class:`~suanwang.control.backends.local.LocalBackend` and
one job: ``python -m suanwang.control.backends.local_runner <jobdir>``.

The backend starts the runner in a session of its own (``start_new_session=True``), so the runner
and its job live on when the control plane dies. The runner:

* writes ``pid`` (its own pid and process start time) at once, and leaves without running
  anything when ``exit.json`` already exists (the backend fenced the job before it started);
* reads ``spec.json`` (written by the backend), creates the checkpoint directory when one is
  given, and runs ``command`` with ``cwd`` = the job directory, ``stdout``/``stderr`` captured
  to files there, the runner's environment plus ``env`` plus ``SUANWANG_TASK``,
  ``SUANWANG_ATTEMPT``, ``SUANWANG_SITE`` and ``SUANWANG_CHECKPOINT_DIR`` (when given);
* puts the job in a process group of its own (recorded in ``job.pid``) and limits it in the
  child, never in itself: ``RLIMIT_AS`` = ``memory_mb`` and ``RLIMIT_CPU`` =
  ``ceil(time_limit_s * cpus)`` seconds per process (soft; the hard limit is a few seconds more);
* enforces the wall-clock ``time_limit_s`` and watches for a ``cancel`` marker: either sends
  SIGTERM to the job's process group and SIGKILL after :data:`KILL_GRACE_S`;
* reaps the job and, as a child subreaper (Linux), the job's orphaned descendants; kills
  whatever is left in the job's process group; and writes ``exit.json``
  atomically (temporary file + ``os.replace``): ``outcome`` (succeeded, failed or cancelled),
  ``exit_code``, ``signal``, ``cancelled`` and ``message``.

An empty command succeeds at once. The module uses the standard library only, so it starts
quickly; :mod:`suanwang.control.backends.local` reuses its file helpers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SPEC_FILE = "spec.json"
PID_FILE = "pid"
JOB_PID_FILE = "job.pid"
EXIT_FILE = "exit.json"
CANCEL_FILE = "cancel"
STDOUT_FILE = "stdout"
STDERR_FILE = "stderr"
RUNNER_LOG_FILE = "runner.log"
CHECKPOINT_FILE = "CHECKPOINT"

KILL_GRACE_S = 2.0
"""Seconds between SIGTERM and SIGKILL when the runner stops a job."""
TICK_S = 0.05
"""How often the runner looks at its job, the clock and the cancel marker."""
ORPHAN_PATIENCE_S = 1.0
"""How long the runner waits to reap what is left of a job's process group after the job."""
PR_SET_CHILD_SUBREAPER = 36
CPU_HARD_EXTRA_S = 5
"""The hard RLIMIT_CPU is this much above the soft one (SIGXCPU first, then SIGKILL)."""

_MEMORY_ERROR_MARKS = (
    b"MemoryError",
    b"Cannot allocate memory",
    b"std::bad_alloc",
    b"out of memory",
    b"Out of memory",
)
_STDERR_TAIL_BYTES = 8192


# --- file and process helpers (shared with the backend) ------------------------------------------


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing or not (yet) a JSON object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of ``pid`` from ``/proc``; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode("ascii", "replace"), int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux); None where unknown."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def process_alive(pid: int, start: int | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs.

    ``os.kill(pid, 0)`` says whether some process has the pid; the start time from ``/proc``
    tells ours from a later one that reused the pid, and a zombie counts as dead.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to someone else: only the start time can tell
    stat = _proc_stat(pid)
    if stat is None:
        # No /proc (not Linux) or the process just went: trust kill unless /proc exists.
        return not os.path.isdir("/proc/self")
    state, started = stat
    if state in ("Z", "X"):
        return False
    return start is None or started == start


def signal_group(pgid: int, start: int | None, signum: int) -> bool:
    """Send ``signum`` to the process group ``pgid`` unless its leader's pid was reused.

    A pid is not handed out again while a process group still carries it, so when the leader is
    gone the group (if any) is still the job's. Returns whether a signal was delivered.
    """
    if pgid <= 1:
        return False
    stat = _proc_stat(pgid)
    if stat is not None and start is not None and stat[1] != start:
        return False
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def exit_record(
    outcome: str,
    message: str,
    *,
    exit_code: int | None = None,
    signum: int | None = None,
    cancelled: bool = False,
    started_at: float | None = None,
) -> dict[str, Any]:
    """The content of ``exit.json``."""
    return {
        "outcome": outcome,
        "message": message,
        "exit_code": exit_code,
        "signal": signum,
        "cancelled": cancelled,
        "started_at": started_at,
        "ended_at": time.time(),
    }


# --- the runner ----


def _limits(memory_mb: int, cpu_seconds: int) -> Callable[[], None]:
    """A ``preexec_fn`` that lowers the child's address-space and CPU-time limits."""

    def lower(kind: int, soft: int, hard: int) -> None:
        _, old_hard = resource.getrlimit(kind)
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(kind, (soft, hard))

    def apply() -> None:
        memory = memory_mb * 1024 * 1024
        lower(resource.RLIMIT_AS, memory, memory)
        lower(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + CPU_HARD_EXTRA_S)

    return apply


def _stderr_says_memory(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _STDERR_TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return False
    return any(mark in tail for mark in _MEMORY_ERROR_MARKS)


class _Stop:
    """Why the runner is stopping the job, and when it escalates to SIGKILL."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.kill_at = 0.0
        self.killed = False
        self.terminated_by: int | None = None

    def on_signal(self, signum: int, _frame: object) -> None:
        self.terminated_by = signum


def _job_env(spec: Mapping[str, Any], checkpoint_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    original_pythonpath = spec.get("runner", {}).get("pythonpath")
    if original_pythonpath is None:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(original_pythonpath)
    env.update({str(k): str(v) for k, v in dict(spec.get("env", {})).items()})
    env["SUANWANG_TASK"] = str(spec["task"])
    env["SUANWANG_ATTEMPT"] = str(spec["attempt"])
    env["SUANWANG_SITE"] = str(spec["site"])
    if checkpoint_dir:
        env["SUANWANG_CHECKPOINT_DIR"] = checkpoint_dir
    else:
        env.pop("SUANWANG_CHECKPOINT_DIR", None)
    return env


def run(jobdir: Path) -> dict[str, Any]:
    """Run the job in ``jobdir`` to its end; returns what it wrote to ``exit.json``."""
    exit_path = jobdir / EXIT_FILE
    existing = read_json(exit_path)
    if existing is not None:
        return existing
    write_json_atomic(
        jobdir / PID_FILE, {"pid": os.getpid(), "start": process_start_time(os.getpid())}
    )

    _become_subreaper()
    stop = _Stop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop.on_signal)

    record = _run_job(jobdir, stop)
    if not exit_path.exists():  # the backend may have fenced us meanwhile; keep its word
        write_json_atomic(exit_path, record)
    return record


def _become_subreaper() -> None:
    """Adopt the job's orphaned descendants (Linux), so that the runner reaps them too."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans(leader: int | None, *, patience_s: float = 0.0) -> None:
    """Reap exited children other than ``leader`` (descendants adopted as a subreaper).

    With ``patience_s``, keep at it that long while children remain (after the group's SIGKILL
    they die within moments; any that escaped the group are left to init).
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            # WNOWAIT: look first, so that the leader is never reaped here.
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            if time.monotonic() >= deadline:
                return
            time.sleep(TICK_S / 5)
            continue
        if info.si_pid == leader:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.si_pid, 0)


def _run_job(jobdir: Path, stop: _Stop) -> dict[str, Any]:
    started_at = time.time()
    spec = read_json(jobdir / SPEC_FILE)
    if spec is None:
        return exit_record("failed", "unreadable spec.json", started_at=started_at)
    if (jobdir / CANCEL_FILE).exists():
        return exit_record("cancelled", "cancelled", cancelled=True, started_at=started_at)
    command = [str(part) for part in spec.get("command", [])]
    if not command:
        return exit_record("succeeded", "", exit_code=0, started_at=started_at)

    checkpoint_dir = spec.get("checkpoint_dir_abs")
    if checkpoint_dir:
        try:
            os.makedirs(checkpoint_dir, exist_ok=True)
        except OSError as exc:
            return exit_record(
                "failed", f"cannot create checkpoint dir: {exc}", started_at=started_at
            )

    time_limit = float(spec["time_limit_s"])
    cpu_seconds = max(1, math.ceil(time_limit * float(spec["cpus"])))
    stderr_path = jobdir / STDERR_FILE
    try:
        with open(jobdir / STDOUT_FILE, "ab") as out, open(stderr_path, "ab") as err:
            proc = subprocess.Popen(
                command,
                cwd=jobdir,
                env=_job_env(spec, checkpoint_dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                process_group=0,
                preexec_fn=_limits(int(spec["memory_mb"]), cpu_seconds),
                close_fds=True,
            )
    except FileNotFoundError:
        return exit_record(
            "failed", f"command not found: {command[0]}", exit_code=127, started_at=started_at
        )
    except PermissionError:
        return exit_record(
            "failed", f"permission denied: {command[0]}", exit_code=126, started_at=started_at
        )
    except OSError as exc:
        return exit_record("failed", f"cannot start: {exc}", started_at=started_at)

    pgid = proc.pid
    job_start = process_start_time(pgid)
    write_json_atomic(jobdir / JOB_PID_FILE, {"pgid": pgid, "start": job_start})
    deadline = time.monotonic() + time_limit

    while True:
        # WNOWAIT leaves the job a zombie, so its pid (= the group id) stays ours while we
        # clean up the group below.
        done = os.waitid(os.P_PID, pgid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if done is not None:
            break
        now = time.monotonic()
        if stop.reason is None:
            if (jobdir / CANCEL_FILE).exists():
                stop.reason = "cancelled"
            elif stop.terminated_by is not None:
                stop.reason = f"runner stopped by signal {stop.terminated_by}"
            elif now >= deadline:
                stop.reason = "time limit"
            if stop.reason is not None:
                signal_group(pgid, job_start, signal.SIGTERM)
                stop.kill_at = now + KILL_GRACE_S
        elif not stop.killed and now >= stop.kill_at:
            signal_group(pgid, job_start, signal.SIGKILL)
            stop.killed = True
        _reap_orphans(pgid)
        time.sleep(TICK_S)

    signal_group(pgid, None, signal.SIGKILL)  # whatever the job left behind in its group
    returncode = proc.wait()
    _reap_orphans(None, patience_s=ORPHAN_PATIENCE_S)
    if stop.reason is None and (jobdir / CANCEL_FILE).exists():
        stop.reason = "cancelled"  # the backend's SIGTERM got there before we looked
    if stop.reason == "cancelled":
        return exit_record("cancelled", "cancelled", cancelled=True, started_at=started_at)
    if stop.reason is not None:
        return exit_record("failed", stop.reason, started_at=started_at)
    if returncode == 0:
        return exit_record("succeeded", "", exit_code=0, started_at=started_at)
    if returncode < 0:
        signum = -returncode
        message = "cpu time limit" if signum == signal.SIGXCPU else f"killed by signal {signum}"
        return exit_record("failed", message, signum=signum, started_at=started_at)
    message = "memory limit" if _stderr_says_memory(stderr_path) else f"exit {returncode}"
    return exit_record("failed", message, exit_code=returncode, started_at=started_at)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m suanwang.control.backends.local_runner <jobdir>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m suanwang.control.backends.local_runner <jobdir>", file=sys.stderr)
        return 2
    jobdir = Path(args[0]).resolve()
    try:
        run(jobdir)
    except Exception as exc:  # leave a verdict behind whatever happened
        with contextlib.suppress(OSError):
            if not (jobdir / EXIT_FILE).exists():
                write_json_atomic(jobdir / EXIT_FILE, exit_record("failed", f"runner error: {exc}"))
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
