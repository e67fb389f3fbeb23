"""The provider agent (算力并网): registers a site's pools with the API and heartbeats the live
capacity of the backend that serves it.

A :class:`Probe` reads the backend (:func:`make_probe`): what share of its capacity is in
service now, and live metrics. :class:`Agent` turns that into the API's heartbeat: devices
online per pool = ``floor(count * fraction_online)`` for each of the site's pools, in the
site's pool order, plus the metrics.

Probes (each reads the real thing; none invents numbers):

* ``local``: this machine. ``os.cpu_count()``, ``os.getloadavg()`` and ``/proc/meminfo``
  (where there is one); always fully online.
* ``slurm``: ``sinfo -h -N -o "%N %C"`` (one line per node and partition, CPUs as
  allocated/idle/other/total; each node counted once), ``-p PARTITION`` with a partition.
  Online = (total - other) / total (other: down, drained, ...); utilisation = allocated /
  total.
* ``ray``: the Ray dashboard's REST API at ``address`` (default ``http://127.0.0.1:8265``).
  ``GET /api/v0/nodes`` (the state API: every node, alive or dead, with its state and
  ``resources_total``) gives online = CPUs of alive nodes / CPUs of all nodes; ``GET
  /api/cluster_status`` (the autoscaler's load report, ``usage.CPU = [used, total]``) gives
  the utilisation when the report is there (it is missing for a few seconds after the head
  starts).
* ``sim``: always fully online, no metrics (deterministic; ``suanwang up --demo``).

Errors: an :class:`AgentError` says what went wrong in one line (``status``: the API's HTTP
status, None when it was not reached or the probe failed; ``field``: the API's field).
:meth:`Agent.run` retries what may pass (unreachable API, 5xx, 408/429, a failing probe) with
capped exponential backoff (:func:`backoff_s`) and stops on a refusal (other 4xx: a refused
token, a site that is not the caller's, ...) by raising it.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from suanwang import __version__
from suanwang.core.errors import SuanwangError
from suanwang.world.onboard import SiteRegistration

PROBE_KINDS = ("local", "slurm", "ray", "sim")
DEFAULT_RAY_ADDRESS = "http://127.0.0.1:8265"
DEFAULT_EVERY_S = 10.0
"""Seconds between beats when neither the caller nor the server says otherwise."""
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_METRICS = 32
"""The API keeps at most this many metrics per heartbeat (names up to 60 characters)."""
PROBE_TIMEOUT_S = 10.0
RETRYABLE_STATUS = frozenset({408, 429})
"""4xx answers that may pass by themselves (retried like a 5xx)."""


class AgentError(SuanwangError):
    """The agent could not do something; the message says what, in one line.

    ``status`` is the API's HTTP status (None when the API was not reached, or a probe
    failed); ``field`` the field the API named, if any.
    """

    def __init__(self, message: str, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed: not reached, a failing probe, a 5xx,
        408 or 429. Any other 4xx is a refusal that repeating will not change."""
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUS

    def __str__(self) -> str:
        return self.message + (f" (field: {self.field})" if self.field else "")


def backoff_s(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: 1, 2, 4, ... capped at 60."""
    if failures <= 0:
        return 0.0
    return float(min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** min(failures - 1, 16)))


# --- probes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """What a probe reads now."""

    fraction_online: float
    """Share of the backend's capacity in service now, 0..1."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Live metrics (utilisation, cpus_total, load1, mem_available_mb, ...)."""


class Probe(Protocol):
    """Reads a backend's live capacity."""

    def read(self) -> Reading: ...


def _fraction(part: float, whole: float) -> float:
    """``part / whole`` within 0..1 (0 when there is nothing)."""
    if whole <= 0:
        return 0.0
    return min(1.0, max(0.0, part / whole))


class SimProbe:
    """The simulated backend: always fully online, no metrics."""

    def read(self) -> Reading:
        return Reading(1.0, {})

    def __repr__(self) -> str:
        return "SimProbe()"


class LocalProbe:
    """This machine: CPUs, load and memory (``/proc/meminfo`` where there is one)."""

    def __init__(self, meminfo: Path = Path("/proc/meminfo")) -> None:
        self.meminfo = meminfo

    def read(self) -> Reading:
        cpus = os.cpu_count() or 1
        try:
            load1 = os.getloadavg()[0]
        except OSError as exc:
            raise AgentError(f"cannot read this machine's load average: {exc}") from None
        metrics: dict[str, float] = {
            "cpus_total": float(cpus),
            "load1": round(load1, 3),
            "utilisation": round(min(1.0, load1 / cpus), 4),
        }
        metrics.update(self._memory())
        return Reading(1.0, metrics)

    def _memory(self) -> dict[str, float]:
        try:
            text = self.meminfo.read_text(encoding="ascii", errors="replace")
        except OSError:
            return {}  # no /proc (macOS, ...): no memory metrics
        kib: dict[str, int] = {}
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                kib[name.strip()] = int(parts[0])
        out: dict[str, float] = {}
        if "MemTotal" in kib:
            out["mem_total_mb"] = round(kib["MemTotal"] / 1024, 1)
        if "MemAvailable" in kib:
            out["mem_available_mb"] = round(kib["MemAvailable"] / 1024, 1)
        return out

    def __repr__(self) -> str:
        return "LocalProbe()"


class SlurmProbe:
    """A Slurm cluster through ``sinfo`` (optionally one partition)."""

    def __init__(self, partition: str | None = None, *, sinfo: str = "sinfo") -> None:
        self.partition = partition
        self.sinfo = sinfo

    def command(self, exe: str) -> list[str]:
        cmd = [exe, "-h", "-N", "-o", "%N %C"]
        if self.partition:
            cmd += ["-p", self.partition]
        return cmd

    def read(self) -> Reading:
        exe = shutil.which(self.sinfo)
        if exe is None:
            raise AgentError(
                f"cannot read Slurm: {self.sinfo} is not on PATH (is Slurm installed here? "
                "the agent must run where sinfo works)"
            )
        try:
            done = subprocess.run(
                self.command(exe),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AgentError(
                f"cannot read Slurm: sinfo did not answer in {PROBE_TIMEOUT_S:g} s"
            ) from None
        except OSError as exc:
            raise AgentError(f"cannot read Slurm: sinfo failed to start ({exc})") from None
        if done.returncode != 0:
            why = " ".join((done.stderr or done.stdout).split())[:300] or "no output"
            raise AgentError(f"cannot read Slurm: sinfo exited {done.returncode}: {why}")
        return self.parse(done.stdout)

    def parse(self, text: str) -> Reading:
        """A reading from ``sinfo -h -N -o "%N %C"`` output (a node in several partitions
        is listed once per partition and counted once)."""
        nodes: dict[str, tuple[int, int, int, int]] = {}
        for line in text.splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                name, cpus = parts
                alloc, idle, other, total = (int(x) for x in cpus.split("/"))
            except ValueError:
                raise AgentError(
                    f"cannot read Slurm: unexpected sinfo line {line.strip()!r} "
                    "(expected NODE A/I/O/T)"
                ) from None
            nodes[name] = (alloc, idle, other, total)
        where = f"partition {self.partition!r}" if self.partition else "the cluster"
        if not nodes:
            raise AgentError(f"cannot read Slurm: sinfo lists no nodes in {where}")
        alloc, idle, other, total = (sum(n[i] for n in nodes.values()) for i in range(4))
        metrics = {
            "nodes_total": float(len(nodes)),
            "cpus_total": float(total),
            "cpus_allocated": float(alloc),
            "cpus_idle": float(idle),
            "cpus_other": float(other),
            "utilisation": round(_fraction(alloc, total), 4),
        }
        return Reading(_fraction(total - other, total), metrics)

    def __repr__(self) -> str:
        return f"SlurmProbe(partition={self.partition!r})"


class RayProbe:
    """A Ray cluster through its dashboard's REST API (the state API and the autoscaler's
    cluster status)."""

    def __init__(
        self,
        address: str = DEFAULT_RAY_ADDRESS,
        *,
        timeout: float = PROBE_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        address = address.strip().rstrip("/")
        if "://" not in address:
            address = f"http://{address}"
        self.address = address
        self._http = httpx.Client(base_url=address, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise AgentError(
                f"cannot reach the Ray dashboard at {self.address}: {reason} (is Ray running "
                "there? set it with --address)"
            ) from None
        if response.status_code >= 400:
            raise AgentError(
                f"the Ray dashboard at {self.address} answered HTTP {response.status_code} "
                f"for {path}"
            )
        try:
            body = response.json()
        except ValueError:
            raise AgentError(
                f"the server at {self.address} did not answer JSON for {path} "
                "(is that a Ray dashboard?)"
            ) from None
        if not isinstance(body, dict) or body.get("result") is False:
            msg = body.get("msg") if isinstance(body, dict) else None
            raise AgentError(f"the Ray dashboard at {self.address} failed {path}: {msg or body}")
        return body.get("data")

    def read(self) -> Reading:
        data = self._get("/api/v0/nodes", {"limit": "10000"})
        try:
            nodes = data["result"]["result"]
            rows = [(str(n["state"]), dict(n.get("resources_total") or {})) for n in nodes]
        except (KeyError, TypeError, ValueError):
            raise AgentError(
                f"the Ray dashboard at {self.address} answered an unexpected node list "
                "for /api/v0/nodes"
            ) from None
        cpus_all = sum(float(res.get("CPU", 0.0)) for _, res in rows)
        cpus_alive = sum(float(res.get("CPU", 0.0)) for st, res in rows if st == "ALIVE")
        gpus_alive = sum(float(res.get("GPU", 0.0)) for st, res in rows if st == "ALIVE")
        metrics: dict[str, float] = {
            "nodes_total": float(len(rows)),
            "nodes_alive": float(sum(st == "ALIVE" for st, _ in rows)),
            "cpus_total": cpus_all,
            "cpus_alive": cpus_alive,
        }
        if gpus_alive:
            metrics["gpus_alive"] = gpus_alive
        metrics.update(self._usage())
        return Reading(_fraction(cpus_alive, cpus_all), metrics)

    def _usage(self) -> dict[str, float]:
        """Utilisation from the autoscaler's load report ({} while there is none yet)."""
        try:
            data = self._get("/api/cluster_status")
            usage = data["clusterStatus"]["loadMetricsReport"]["usage"]
        except (AgentError, KeyError, TypeError):
            return {}
        out: dict[str, float] = {}
        try:
            used, total = (float(x) for x in usage["CPU"])
            out["cpus_used"] = used
            out["utilisation"] = round(_fraction(used, total), 4)
        except (KeyError, TypeError, ValueError):
            pass
        try:
            used, total = (float(x) for x in usage["memory"])
            out["mem_total_mb"] = round(total / 2**20, 1)
            out["mem_available_mb"] = round(max(0.0, total - used) / 2**20, 1)
        except (KeyError, TypeError, ValueError):
            pass
        return out

    def __repr__(self) -> str:
        return f"RayProbe(address={self.address!r})"


def make_probe(kind: str, *, address: str | None = None, partition: str | None = None) -> Probe:
    """The probe of backend ``kind`` (one of :data:`PROBE_KINDS`).

    ``address`` is the Ray dashboard (``ray`` only; default ``http://127.0.0.1:8265``),
    ``partition`` the Slurm partition (``slurm`` only; default every partition).

    Raises:
        ValueError: an unknown kind, or an option the kind does not take.
    """
    if kind not in PROBE_KINDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(PROBE_KINDS)}")
    if address is not None and kind != "ray":
        raise ValueError(f"an address is for the ray backend, not {kind}")
    if partition is not None and kind != "slurm":
        raise ValueError(f"a partition is for the slurm backend, not {kind}")
    if kind == "local":
        return LocalProbe()
    if kind == "slurm":
        return SlurmProbe(partition or None)
    if kind == "ray":
        return RayProbe(address or DEFAULT_RAY_ADDRESS)
    return SimProbe()


# --- the agent ----------------------------------------------------------------------------------
def _clean_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics the API accepts: finite numbers, names up to 60 characters, at most 32."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if len(out) >= MAX_METRICS:
            break
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number) and 0 < len(name) <= 60:
            out[name] = number
    return out


class Agent:
    """Registers one site and heartbeats its live capacity through the API.

    ``client`` is an :class:`httpx.Client` whose ``base_url`` is the API and whose headers
    carry the provider's (or an admin's) token; the agent never closes it.
    """

    def __init__(
        self,
        client: httpx.Client,
        site: str,
        probe: Probe,
        *,
        name: str = f"suanwang-agent/{__version__}",
    ) -> None:
        self.client = client
        self.site = site
        self.probe = probe
        self.name = name
        self.counts: tuple[int, ...] | None = None
        """Devices per pool, in the site's pool order (known once registered)."""
        self.created: bool | None = None
        """Whether :meth:`register` created the site (None: not registered by this agent)."""

    @property
    def _path(self) -> str:
        return f"/v1/sites/{quote(self.site, safe='')}"

    @property
    def _url(self) -> str:
        return str(self.client.base_url).rstrip("/") or "the API"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """``method path`` on the API; the JSON answer, or an :class:`AgentError`."""
        try:
            response = self.client.request(
                method, path, json=body, headers={"User-Agent": self.name}
            )
        except httpx.TimeoutException:
            raise AgentError(f"the API at {self._url} did not answer in time") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise AgentError(f"cannot reach the API at {self._url}: {reason}") from None
        if response.status_code >= 400:
            raise _error_of(response)
        try:
            return response.json()
        except ValueError:
            raise AgentError(
                f"the server at {self._url} did not answer JSON for {method} {path} "
                "(is that a Suanwang API?)",
                response.status_code,
            ) from None

    def register(self, registration: SiteRegistration | None = None) -> dict[str, Any]:
        """Register (or re-describe) the site with ``registration`` (``PUT``), or, without
        one, look it up (``GET``); the site as the API shows it. Remembers the pool counts.

        Raises:
            AgentError: the API refused or could not be reached; an unknown site without a
                registration says to register it.
        """
        if registration is not None:
            answer = self._call("PUT", self._path, registration.model_dump(mode="json"))
            site = answer.get("site") if isinstance(answer, dict) else None
            self.created = bool(answer.get("created")) if isinstance(answer, dict) else None
        else:
            try:
                site = self._call("GET", self._path)
            except AgentError as exc:
                if exc.status == 404:
                    raise AgentError(
                        f"site {self.site!r} is not on the grid at {self._url}: register it "
                        "first (suanwang agent --register site.yaml, or PUT "
                        f"/v1/sites/{self.site})",
                        404,
                    ) from None
                raise
        if not isinstance(site, dict):
            raise AgentError(f"the API at {self._url} answered no site for {self._path}")
        try:
            self.counts = tuple(int(p["count"]) for p in site["pools"])
        except (KeyError, TypeError, ValueError):
            raise AgentError(
                f"the API at {self._url} answered a site without pool counts for {self.site!r}"
            ) from None
        return site

    def beat(self) -> dict[str, Any]:
        """Send one heartbeat: online per pool = ``floor(count * fraction_online)``, and the
        probe's metrics (looking the site up first if it is not registered yet).

        Returns the API's answer (``accepted``, ``every_s``) with what was sent: ``site``,
        ``online``, ``counts``, ``fraction_online`` and ``metrics``.

        Raises:
            AgentError: the probe failed, or the API refused or could not be reached.
        """
        reading = self.probe.read()
        if self.counts is None:
            self.register()
        try:
            return self._send(reading)
        except AgentError as exc:
            if exc.status != 422 or not (exc.field or "").startswith("online"):
                raise
            self.register()  # the site's pools changed since: count them again
            return self._send(reading)

    def _send(self, reading: Reading) -> dict[str, Any]:
        assert self.counts is not None
        share = min(1.0, max(0.0, float(reading.fraction_online)))
        if not math.isfinite(share):
            share = 0.0
        online = [min(c, math.floor(c * share + 1e-9)) for c in self.counts]
        metrics = _clean_metrics(reading.metrics)
        body = {"online": online, "metrics": metrics, "agent": self.name}
        answer = self._call("POST", f"{self._path}/heartbeat", body)
        out: dict[str, Any] = dict(answer) if isinstance(answer, dict) else {}
        out.update(
            site=self.site,
            online=online,
            counts=list(self.counts),
            fraction_online=share,
            metrics=metrics,
        )
        return out

    def run(
        self,
        stop: threading.Event,
        *,
        every_s: float | None = None,
        on_beat: Callable[[dict[str, Any]], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Heartbeat until ``stop`` is set; the number of beats sent.

        Beats every ``every_s`` seconds, else as often as the server's answer says (else
        every 10 s). A failure that may pass (see :attr:`AgentError.retryable`) is reported
        to ``on_error`` in one line and retried after 1, 2, 4, ... up to 60 s; waits are
        ``stop.wait()``, so setting ``stop`` ends the loop at once (a request in flight
        finishes first, within the client's timeout).

        Raises:
            AgentError: a refusal (a 4xx other than 408/429: a refused token, a site that is
                not the caller's, ...), which trying again would not change.
        """
        beats = 0
        failures = 0
        while not stop.is_set():
            try:
                answer = self.beat()
            except AgentError as exc:
                if not exc.retryable:
                    raise
                failures += 1
                delay = backoff_s(failures)
                if on_error is not None:
                    on_error(f"{exc} (failure {failures} in a row; retrying in {delay:g} s)")
                stop.wait(delay)
                continue
            beats += 1
            failures = 0
            if on_beat is not None:
                on_beat(answer)
            wait = every_s
            if wait is None:
                told = answer.get("every_s")
                wait = float(told) if isinstance(told, int | float) and told > 0 else None
            stop.wait(wait if wait is not None else DEFAULT_EVERY_S)
        return beats

    def __repr__(self) -> str:
        return f"Agent(site={self.site!r}, probe={self.probe!r}, api={self._url!r})"


def _error_of(response: httpx.Response) -> AgentError:
    """The API's ``{"error": {code, message, field}}`` answer as an :class:`AgentError`."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        fld = err.get("field")
        return AgentError(err["message"], status, fld if isinstance(fld, str) and fld else None)
    text = " ".join(response.text.split())[:200]
    phrase = response.reason_phrase or "error"
    return AgentError(f"HTTP {status} {phrase}" + (f": {text}" if text else ""), status)
