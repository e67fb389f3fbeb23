"""Start and stop a private, loopback-only Ray head on this machine (tests, single-host use).

``start_local_ray(temp_dir)`` runs ``ray start --head --block`` as a child process in a new
session and returns a :class:`RayHead` once the Ray Job API answers. The head is private:

* **Loopback only.** Every Ray server listens on ``127.0.0.1``. ``--node-ip-address
  127.0.0.1`` alone is not enough (Ray replaces a loopback address by the machine's routable
  one), so the head also gets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which makes Ray use
  the loopback address as the node address, and the C++ servers then bind to it.
* **Its own ports.** Every port Ray would otherwise take from a fixed default (GCS 6379,
  dashboard 8265, client server 10001, dashboard agent 52365, metrics 44217 and 44227,
  workers 10002-19999, ...) is a free port picked at start, unless given, so a head can run
  beside another Ray instance or another test session.
* **Its own temp dir.** Logs, sockets and session files live under ``temp_dir``.
* **Stopped without ``ray stop``.** ``ray stop`` kills every Ray process of the machine, by
  name. :meth:`RayHead.stop` instead sends SIGTERM to its own ``ray start --block`` process
  (which drains and shuts its node down), then ends whatever is left of *this* head: the
  processes of the head's session and those that carry the head's marker in their
  environment (job entrypoints run in sessions of their own). Nothing else is touched.

The head runs in a session of its own, so it outlives the process that started it (the
point, for a user's head). It is described in ``temp_dir/suanwang-ray-head.json``, so
another process can stop it later: ``stop_local_ray(temp_dir)``. For tests,
``stop_with_parent=True`` adds a small watcher process that stops the head when the
starting process dies, however it dies (it waits for EOF on a pipe only the parent holds).

Drivers: jobs submitted through the Job API connect to the head by themselves (they inherit
its environment). A Python process that calls ``ray.init(address=head.address)`` from
outside must also set ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in its environment, or Ray
rewrites ``127.0.0.1`` to the machine's routable address and never reaches the head.

Ray must be installed (``pip install 'suanwang[ray]'``); this module imports nothing of Ray
and runs it as ``python -m ray.scripts.scripts`` with the current interpreter.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from suanwang.core.errors import SuanwangError

HEAD_FILE = "suanwang-ray-head.json"
MARKER_ENV = "SUANWANG_RAY_HEAD"
LOOPBACK = "127.0.0.1"

# Ray puts Unix sockets at <temp_dir>/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store;
# a Unix socket path holds at most 107 bytes on Linux, which leaves this much for temp_dir.
MAX_TEMP_DIR_CHARS = 107 - len("/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")


class RayClusterError(SuanwangError):
    """A local Ray head could not be started or stopped."""


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on the loopback address right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _environ_has(pid: int, marker: str) -> bool:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER_ENV}={marker}".encode() in raw.split(b"\0")


def _members(session: int, marker: str, *, by_session: bool = True) -> list[int]:
    """Live processes of this head (Linux /proc only; elsewhere none are found).

    A process belongs to the head when its environment carries the head's marker (every
    process the head starts inherits it, job entrypoints included) or, with ``by_session``,
    when it is in the head's session: Ray's processes that rename themselves
    (``ray::DashboardAgent``...) overwrite their environment block, so only the session
    finds them. Only pass ``by_session`` when the session is known to be the head's (see
    :meth:`RayHead._owns_session`).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    me = os.getpid()
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        try:
            in_session = by_session and os.getsid(pid) == session
        except OSError:
            continue
        if (in_session or _environ_has(pid, marker)) and _pid_alive(pid):
            found.append(pid)
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = [pid for pid in pids if _pid_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _pid_alive(pid)]
    return alive


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _job_api_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/jobs/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class RayHead:
    """A running local Ray head started by :func:`start_local_ray`."""

    temp_dir: Path
    pid: int  # the `ray start --block` process; it leads its own session and process group
    port: int
    dashboard_port: int
    marker: str
    start_seconds: float = 0.0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _watcher: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def address(self) -> str:
        """The GCS address (``ray.init(address=...)``, ``ray start --address``)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        """The Job API / dashboard URL (``RayBackend(address=...)``)."""
        return f"http://{LOOPBACK}:{self.dashboard_port}"

    @property
    def log_path(self) -> Path:
        return self.temp_dir / "ray-start.log"

    def alive(self) -> bool:
        """True while the head's ``ray start`` process runs."""
        if self._process is not None:
            return self._process.poll() is None
        return _pid_alive(self.pid) and self._is_leader(self.pid)

    def _is_leader(self, pid: int) -> bool:
        """Whether ``pid`` is this head's ``ray start`` (and not a process that reused it)."""
        if _proc():
            return _environ_has(pid, self.marker)
        try:  # no /proc (macOS): its command line names our temp dir
            command = subprocess.run(
                ["ps", "-p", str(pid), "-o", "command="],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return "ray.scripts.scripts" in command and str(self.temp_dir) in command

    def _owns_session(self) -> bool:
        """Whether session ``pid`` is still this head's, so that its members may be ended.

        True while our unreaped child leads it, or while a process with our marker is in it.
        (Linux keeps a session's id from being reused while any process is in it.)
        """
        if self._process is not None and self._process.returncode is None:
            return True
        if not _proc():
            return self.alive()
        for pid in _members(self.pid, self.marker, by_session=False):
            with contextlib.suppress(OSError):
                if os.getsid(pid) == self.pid:
                    return True
        return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Shut this head down and end every process it left; never touches other Ray.

        Idempotent: stopping a stopped head does nothing.
        """
        if self._watcher is not None:  # we stop the head ourselves: the watcher may go
            with contextlib.suppress(OSError):
                self._watcher.kill()
            self._watcher.wait()
            if self._watcher.stdin is not None:
                self._watcher.stdin.close()
            self._watcher = None
        ours = self._owns_session()  # decided before the leader goes
        if self.alive():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)  # ray start drains nothing and shuts down
            if self._process is not None:
                try:
                    self._process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(OSError):
                        os.killpg(self.pid, signal.SIGKILL)
                    self._process.wait(timeout=10)
            elif _wait_gone([self.pid], timeout_s):
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)
        # Leftovers: workers and agents of the session, job entrypoints (own sessions, but
        # they carry the marker; Ray also kills them within a second of their supervisor).
        for _ in range(3):
            left = _members(self.pid, self.marker, by_session=ours)
            if not left:
                break
            _signal_all(left, signal.SIGTERM)
            left = _wait_gone(left, 5.0)
            _signal_all(left, signal.SIGKILL)
            _wait_gone(left, 2.0)
        if ours and not _proc():  # no /proc to find members: end the head's process group
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            (self.temp_dir / HEAD_FILE).unlink()

    def __enter__(self) -> RayHead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def save(self) -> None:
        data = {
            "pid": self.pid,
            "port": self.port,
            "dashboard_port": self.dashboard_port,
            "marker": self.marker,
            "start_seconds": self.start_seconds,
        }
        (self.temp_dir / HEAD_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, temp_dir: Path) -> RayHead:
        """The head started in ``temp_dir`` (by this or another process)."""
        temp_dir = Path(temp_dir).resolve()
        path = temp_dir / HEAD_FILE
        try:
            data = json.loads(path.read_text())
            return cls(
                temp_dir=temp_dir,
                pid=int(data["pid"]),
                port=int(data["port"]),
                dashboard_port=int(data["dashboard_port"]),
                marker=str(data["marker"]),
                start_seconds=float(data.get("start_seconds", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RayClusterError(f"no local Ray head recorded in {path}: {exc}") from exc


def _proc() -> bool:
    return Path("/proc").is_dir()


def start_local_ray(
    temp_dir: Path,
    *,
    port: int | None = None,
    dashboard_port: int | None = None,
    num_cpus: int = 2,
    object_store_mb: int = 100,
    timeout_s: float = 90.0,
    stop_with_parent: bool = False,
) -> RayHead:
    """Start a loopback-only Ray head with its files under ``temp_dir``; wait for its Job API.

    ``port`` (GCS) and ``dashboard_port`` default to free ports (pass 6379 and 8265 for Ray's
    usual ones). Raises :class:`RayClusterError` if Ray is missing, ``temp_dir`` is too long
    for Ray's Unix sockets, or the Job API does not answer within ``timeout_s`` (the head is
    then stopped again). ``stop_with_parent`` stops the head when this process dies.
    """
    if importlib.util.find_spec("ray") is None:
        raise RayClusterError("Ray is not installed: pip install 'suanwang[ray]'")
    temp_dir = Path(temp_dir).resolve()
    if len(str(temp_dir)) > MAX_TEMP_DIR_CHARS:
        raise RayClusterError(
            f"Ray temp dir {temp_dir} is longer than {MAX_TEMP_DIR_CHARS} characters; Ray's "
            "Unix socket paths would not fit: use a shorter one (such as under /tmp)"
        )
    temp_dir.mkdir(parents=True, exist_ok=True)
    if (temp_dir / HEAD_FILE).exists():
        old = RayHead.load(temp_dir)
        if old.alive():
            raise RayClusterError(f"a Ray head already runs in {temp_dir} (pid {old.pid})")
    free = iter(_free_ports(11))
    gcs_port = port if port is not None else next(free)
    dash_port = dashboard_port if dashboard_port is not None else next(free)
    marker = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_ADDRESS")}
    env.update(
        {
            "TMPDIR": str(temp_dir),  # Python's temp files (multiprocessing's pymp-*)
            "RAY_USAGE_STATS_ENABLED": "0",
            # On SIGTERM, stop at once instead of draining the node for up to 30 s.
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node address = loopback, see above
            "AUTOSCALER_METRIC_PORT": str(next(free)),
            "DASHBOARD_METRIC_PORT": str(next(free)),
            MARKER_ENV: marker,
        }
    )
    argv = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--block",
        "--node-ip-address",
        LOOPBACK,
        "--dashboard-host",
        LOOPBACK,
        "--include-dashboard",
        "true",
        "--port",
        str(gcs_port),
        "--dashboard-port",
        str(dash_port),
        "--ray-client-server-port",
        str(next(free)),
        "--dashboard-agent-listen-port",
        str(next(free)),
        "--dashboard-agent-grpc-port",
        str(next(free)),
        "--runtime-env-agent-port",
        str(next(free)),
        "--metrics-export-port",
        str(next(free)),
        "--node-manager-port",
        str(next(free)),
        "--object-manager-port",
        str(next(free)),
        "--min-worker-port",
        "0",  # 0 and 0: the OS picks each worker's port
        "--max-worker-port",
        "0",
        "--num-cpus",
        str(num_cpus),
        "--num-gpus",
        "0",
        "--object-store-memory",
        str(object_store_mb * 2**20),
        "--temp-dir",
        str(temp_dir),
        "--disable-usage-stats",
        "--log-style",
        "record",
        "--log-color",
        "false",
    ]
    log_path = temp_dir / "ray-start.log"
    began = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=temp_dir,
            env=env,
            start_new_session=True,
        )
    head = RayHead(
        temp_dir=temp_dir,
        pid=process.pid,
        port=gcs_port,
        dashboard_port=dash_port,
        marker=marker,
        _process=process,
    )
    head.save()
    if stop_with_parent:
        head._watcher = _start_watcher(temp_dir, env)
    deadline = began + timeout_s
    while not _job_api_answers(head.dashboard_url):
        if process.poll() is not None:
            head.stop()
            raise RayClusterError(
                f"ray start exited with code {process.returncode}; log {log_path}:\n"
                + _log_tail(log_path)
            )
        if time.monotonic() > deadline:
            head.stop()
            raise RayClusterError(
                f"the Ray Job API at {head.dashboard_url} did not answer within {timeout_s:.0f}"
                f" s; log {log_path}:\n" + _log_tail(log_path)
            )
        time.sleep(0.2)
    head.start_seconds = time.monotonic() - began
    head.save()
    return head


_WATCHER = (
    "import sys\n"
    "sys.stdin.buffer.read()\n"  # EOF: the parent died (or closed the pipe)
    "from pathlib import Path\n"
    "from suanwang.control.raycluster import stop_local_ray\n"
    "stop_local_ray(Path(sys.argv[1]))\n"
)


def _start_watcher(temp_dir: Path, head_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process that stops the head in ``temp_dir`` once our end of its stdin closes."""
    env = {key: value for key, value in head_env.items() if key != MARKER_ENV}
    src = str(Path(__file__).resolve().parents[2])  # so that suanwang imports there too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    with (temp_dir / "watcher.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(temp_dir)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=temp_dir,
            env=env,
            start_new_session=True,
        )


def stop_local_ray(temp_dir: Path) -> None:
    """Stop the head recorded in ``temp_dir`` (see :meth:`RayHead.load`)."""
    RayHead.load(temp_dir).stop()
