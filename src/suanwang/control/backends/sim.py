"""Simulated execution for the demo world's remote sites: jobs take time, nothing runs.

Contract (see :mod:`suanwang.control.backends.base` for the one every backend keeps):

* **State on disk**, so a new :class:`SimBackend` over the same ``workdir`` (after a crash of
  the control plane) sees everything an earlier one did: one JSON file per job,
  ``workdir/<key>.json``, created atomically and exclusively (written to a temporary file, then
  ``os.link``-ed to its name, which fails when the name exists: the idempotency, with no
  half-written file ever visible), and ``workdir/.sites.json`` for injected failures.
* **Time, not processes.** A job submitted at ``clock()`` = *t* is pending until
  *t* + ``start_delay_s``, then running for ``job.sim_seconds`` (real seconds, already scaled by
  the caller; ``time_scale`` only declares the scale in :class:`Capabilities`), then succeeded.
  ``JobStatus.checkpoint`` is ``"done_s=<seconds of simulated work done, 3 decimals>"`` once the
  job has started (the runtime gives a resumed attempt fewer ``sim_seconds``).
* :meth:`SimBackend.cancel` records ``cancelled_at`` in the job's file (atomic replace): the job
  is cancelled from then on, unless it had finished already (then nothing changes).
* Failure injection, deterministic (no randomness) and on disk, shared by every backend object
  over the same ``workdir``:

  - :meth:`SimBackend.silence` ``(site, until)``: until ``clock() >= until`` the site is left out
    of ``Poll.sites_alive`` **and its jobs are left out of** ``Poll.jobs`` (a silent site answers
    nothing); they keep their clock meanwhile, so they may come back finished. Submitting to a
    silent site raises :class:`BackendError`; a cancel is recorded all the same.
  - :meth:`SimBackend.fail_site` ``(site)``: every unfinished job at the site fails now with
    message ``site failed`` (recorded in each job's file, so it stays failed), and jobs submitted
    there fail at once, until :meth:`SimBackend.restore_site`. A failed site still answers: it
    stays in ``sites_alive`` (combine with ``silence`` for an outage that also goes quiet).
  - :meth:`SimBackend.restore_site` ``(site)``: ends the failure and any silence of the site.

Concurrent writers in several processes are not coordinated (last write wins); the demo runs
one control plane at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from suanwang.control.backends.base import (
    KEY_PATTERN,
    BackendError,
    Capabilities,
    JobSpec,
    JobState,
    JobStatus,
    Poll,
    served_sites,
)

SITES_FILE = ".sites.json"
SITE_FAILED = "site failed"


def _write_json(path: Path, data: dict[str, Any], *, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` atomically; with ``exclusive``, only if ``path`` is new.

    Returns False when ``exclusive`` and the file already existed. No fsync: a simulated
    site's state survives the death of any process, not a power cut of this machine.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        if not exclusive:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _optional(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class SimBackend:
    """Time-scaled simulated sites (see the module docstring for the contract)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        sites: Iterable[str],
        *,
        workdir: Path,
        clock: Callable[[], float] = time.time,
        time_scale: float = 3600.0,
        start_delay_s: float = 0.0,
        max_cpus: float = 4096.0,
        max_memory_mb: int = 16 * 1024 * 1024,
    ) -> None:
        served = served_sites(namespace, sites)
        if start_delay_s < 0:
            raise ValueError("start_delay_s must be >= 0")
        self.name = name
        self.namespace = namespace
        self.sites = served
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.start_delay_s = float(start_delay_s)
        self.capabilities = Capabilities(
            kind="sim",
            executes=False,
            resource_limits=False,
            cancel=True,
            checkpoint_dir=True,
            survives_control_plane=True,
            max_cpus=max_cpus,
            max_memory_mb=max_memory_mb,
            time_scale=time_scale,
        )
        self._finished: dict[str, tuple[JobStatus, str]] = {}  # final: (status, site)
        self._records: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    # --- the Backend protocol ----

    def submit(self, job: JobSpec) -> str:
        """Record ``job`` unless a job with its key exists; return its file's path."""
        if not self._owns(job.key):
            raise ValueError(f"key {job.key!r} is not in namespace {self.namespace!r}")
        if job.site not in self.sites:
            raise BackendError(f"{self.name}: site {job.site!r} is not served here")
        now = self.clock()
        site_state = self._site_states().get(job.site, {})
        if self._silent(site_state, now):
            raise BackendError(f"{self.name}: site {job.site!r} does not answer")
        path = self._path(job.key)
        record = {
            "key": job.key,
            "task": job.task,
            "attempt": job.attempt,
            "site": job.site,
            "namespace": self.namespace,
            "submitted_at": now,
            "start_delay_s": self.start_delay_s,
            "sim_seconds": job.sim_seconds,
            "checkpoint_dir": job.checkpoint_dir,
            "cancelled_at": None,
            "failed_at": now if site_state.get("failed_at") is not None else None,
        }
        try:
            _write_json(path, record, exclusive=True)
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot record {job.key}: {exc}") from exc
        return str(path)

    def poll(self) -> Poll:
        """Jobs of this namespace at sites that answer, and those sites."""
        now = self.clock()
        states = self._site_states()
        silent = {site for site, state in states.items() if self._silent(state, now)}
        jobs: dict[str, JobStatus] = {}
        for key, path in self._job_files():
            cached = self._finished.get(key)
            if cached is not None:
                status, site = cached
            else:
                record = self._record(key, path)
                if record is None:
                    continue
                status, site = self._status(key, record, now), str(record.get("site"))
                if status.state.finished:
                    self._finished[key] = (status, site)
            if site not in silent:
                jobs[key] = status
        return Poll(jobs=jobs, sites_alive=frozenset(self.sites - silent))

    def cancel(self, key: str) -> None:
        """Cancel ``key`` now unless it is unknown or finished."""
        if not self._owns(key):
            return
        path = self._path(key)
        record = _read_json(path)
        if record is None:
            return
        now = self.clock()
        if self._status(key, record, now).state.finished:
            return
        record["cancelled_at"] = now
        with contextlib.suppress(OSError):
            _write_json(path, record)

    def serve(self, site: str) -> None:
        """Serve ``site`` too (see :class:`Backend`)."""
        self.sites = self.sites | {site}

    def close(self) -> None:
        """Nothing to release: the state is on disk."""

    # --- failure injection ----

    def silence(self, site: str, until: float) -> None:
        """Leave ``site`` (and its jobs) out of :meth:`poll` until ``clock() >= until``."""
        self._known(site)
        self._update_site(site, silent_until=float(until))

    def fail_site(self, site: str) -> None:
        """Fail every unfinished job at ``site`` now, and new ones there until restored."""
        self._known(site)
        now = self.clock()
        self._update_site(site, failed_at=now)
        for key, path in self._all_job_files():
            record = _read_json(path)
            if record is None or record.get("site") != site:
                continue
            if self._status(key, record, now).state.finished:
                continue
            record["failed_at"] = now
            _write_json(path, record)

    def restore_site(self, site: str) -> None:
        """End the failure and the silence of ``site`` (failed jobs stay failed)."""
        self._known(site)
        self._update_site(site, failed_at=None, silent_until=None)

    # --- helpers ----

    def _owns(self, key: str) -> bool:
        return bool(KEY_PATTERN.match(key)) and key.startswith(self.namespace + ".")

    def _known(self, site: str) -> None:
        if site not in self.sites:
            raise ValueError(f"{self.name} does not serve site {site!r}")

    def _path(self, key: str) -> Path:
        return self.workdir / f"{key}.json"

    def _all_job_files(self) -> list[tuple[str, Path]]:
        try:
            names = sorted(os.listdir(self.workdir))
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot read {self.workdir}: {exc}") from exc
        return [
            (name[: -len(".json")], self.workdir / name)
            for name in names
            if name.endswith(".json") and not name.startswith(".")
        ]

    def _record(self, key: str, path: Path) -> dict[str, Any] | None:
        """A job's record, re-read only when its file changed (a cancel or a site failure
        by any process rewrites it, which changes its inode, mtime or size)."""
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._records.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        record = _read_json(path)
        if record is not None:
            self._records[key] = (stamp, record)
        return record

    def _job_files(self) -> list[tuple[str, Path]]:
        return [(key, path) for key, path in self._all_job_files() if self._owns(key)]

    def _site_states(self) -> dict[str, dict[str, Any]]:
        data = _read_json(self.workdir / SITES_FILE) or {}
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}

    def _update_site(self, site: str, **changes: float | None) -> None:
        states = self._site_states()
        state = states.setdefault(site, {})
        state.update(changes)
        try:
            _write_json(self.workdir / SITES_FILE, states)
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot record site state: {exc}") from exc

    @staticmethod
    def _silent(state: dict[str, Any], now: float) -> bool:
        until = _optional(state.get("silent_until"))
        return until is not None and now < until

    @staticmethod
    def _status(key: str, record: dict[str, Any], now: float) -> JobStatus:
        start = float(record["submitted_at"]) + float(record.get("start_delay_s", 0.0))
        run_s = float(record.get("sim_seconds", 0.0))
        end = start + run_s
        cancelled_at = _optional(record.get("cancelled_at"))
        failed_at = _optional(record.get("failed_at"))

        stop: tuple[float, JobState, str] | None = None
        for at, state, message in (
            (failed_at, JobState.FAILED, SITE_FAILED),
            (cancelled_at, JobState.CANCELLED, "cancelled"),
        ):
            # A stop counts if it came before the end (or at the start, for a job of no length
            # submitted to a failed site).
            if at is not None and (at < end or at <= start) and (stop is None or at < stop[0]):
                stop = (at, state, message)

        def checkpoint(upto: float) -> str | None:
            if upto < start:
                return None
            return f"done_s={min(max(upto - start, 0.0), run_s):.3f}"

        if stop is not None and now >= stop[0]:
            return JobStatus(
                key=key,
                state=stop[1],
                message=stop[2],
                checkpoint=checkpoint(stop[0]),
                lost=stop[2] == SITE_FAILED,
            )
        if now < start:
            return JobStatus(key=key, state=JobState.PENDING)
        if now < end:
            return JobStatus(key=key, state=JobState.RUNNING, checkpoint=checkpoint(now))
        return JobStatus(key=key, state=JobState.SUCCEEDED, exit_code=0, checkpoint=checkpoint(end))


__all__ = ["SITE_FAILED", "SimBackend"]
