"""The control plane's configuration: backends, which site each serves, timings, money.

Read from a TOML file (``suanwang control run --config control.toml``) or built in code.
Every site not mapped in ``[sites]`` goes to ``default_backend``. Example::

    namespace = "sw"
    heartbeat_grace_s = 30
    default_backend = "sim"

    [backends.sim]
    kind = "sim"
    time_scale = 3600          # a task hour takes one real second

    [backends.laptop]
    kind = "local"

    [backends.hpc]
    kind = "slurm"

    [backends.cluster]
    kind = "ray"
    address = "http://127.0.0.1:8265"

    [sites]
    cn-zhongwei = "laptop"
    de-frankfurt = "hpc"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError


class LocalOptions(Frozen):
    kind: Literal["local"]
    max_cpus: float | None = Field(default=None, gt=0)
    max_memory_mb: int | None = Field(default=None, gt=0)


class SimOptions(Frozen):
    kind: Literal["sim"]
    time_scale: float = Field(default=3600.0, gt=0, description="task hours per real hour")
    start_delay_s: float = Field(default=0.0, ge=0)


class SlurmOptions(Frozen):
    kind: Literal["slurm"]
    partition: str | None = None
    max_cpus: float | None = Field(default=None, gt=0)
    max_memory_mb: int | None = Field(default=None, gt=0)


class RayOptions(Frozen):
    kind: Literal["ray"]
    address: str = "http://127.0.0.1:8265"
    max_cpus: float | None = Field(default=None, gt=0)
    max_memory_mb: int | None = Field(default=None, gt=0)


BackendOptions = Annotated[
    LocalOptions | SimOptions | SlurmOptions | RayOptions, Field(discriminator="kind")
]


def _default_backends() -> dict[str, BackendOptions]:
    return {"sim": SimOptions(kind="sim")}


class ControlConfig(Frozen):
    """See the module docstring; every field has a working default."""

    namespace: str = Field(default="sw", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    backends: dict[str, BackendOptions] = Field(default_factory=lambda: _default_backends())
    default_backend: str = "sim"
    sites: dict[str, str] = Field(default_factory=dict, description="site id -> backend name")
    tick_s: float = Field(default=1.0, gt=0)
    heartbeat_grace_s: float = Field(
        default=30.0, gt=0, description="silence a site may keep before its work is moved"
    )
    max_attempts: int = Field(default=5, ge=1)
    meter_every_s: int = Field(default=60, gt=0, description="usage heartbeat spacing")
    tenant_credit_micros: int = Field(
        default=10_000_000_000,
        ge=0,
        description="credit a tenant gets on its first submission (until accounts exist)",
    )
    tenant_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    platform_fee_bps: int = Field(default=500, ge=0, le=10_000)
    prepay_hours: float = Field(default=1.0, gt=0)
    scheduler_mode: str = "balanced"
    max_batch: int = Field(default=20_000, gt=0, description="queued tasks planned per tick")

    @model_validator(mode="after")
    def _names_resolve(self) -> ControlConfig:
        if self.default_backend not in self.backends:
            raise ValueError(
                f"default_backend {self.default_backend!r} is not among the backends "
                f"({', '.join(sorted(self.backends)) or 'none'})"
            )
        for site, name in self.sites.items():
            if name not in self.backends:
                raise ValueError(
                    f"sites.{site}: maps to unknown backend {name!r} "
                    f"(known: {', '.join(sorted(self.backends))})"
                )
        return self

    def backend_of(self, site: str) -> str:
        return self.sites.get(site, self.default_backend)

    @classmethod
    def load(cls, path: Path) -> ControlConfig:
        """Read a TOML file.

        Raises:
            SuanwangError: unreadable file, bad TOML or an invalid setting (named).
        """
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SuanwangError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SuanwangError(f"{path} is not valid TOML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise SuanwangError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}") from None
