"""Build the configured backends (imports each kind lazily: Ray is optional)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from suanwang.control.backends.base import Backend
from suanwang.control.config import (
    BackendOptions,
    ControlConfig,
    LocalOptions,
    RayOptions,
    SimOptions,
    SlurmOptions,
)


def make_backend(
    name: str,
    options: BackendOptions,
    namespace: str,
    sites: Iterable[str],
    data_dir: Path,
    *,
    clock: Callable[[], float] | None = None,
) -> Backend:
    """One backend named ``name`` serving ``sites``; its files live under ``data_dir/jobs``."""
    workdir = data_dir / "jobs" / name
    workdir.mkdir(parents=True, exist_ok=True)
    limits = {
        k: v
        for k, v in (
            ("max_cpus", getattr(options, "max_cpus", None)),
            ("max_memory_mb", getattr(options, "max_memory_mb", None)),
        )
        if v is not None
    }
    if isinstance(options, LocalOptions):
        from suanwang.control.backends.local import LocalBackend

        return LocalBackend(name, namespace, sites, workdir=workdir, **limits)
    if isinstance(options, SimOptions):
        from suanwang.control.backends.sim import SimBackend

        extra = {"clock": clock} if clock is not None else {}
        return SimBackend(
            name,
            namespace,
            sites,
            workdir=workdir,
            time_scale=options.time_scale,
            start_delay_s=options.start_delay_s,
            **extra,  # type: ignore[arg-type]
        )
    if isinstance(options, SlurmOptions):
        from suanwang.control.backends.slurm import SlurmBackend

        return SlurmBackend(
            name,
            namespace,
            sites,
            workdir=workdir,
            partition=options.partition,
            **limits,
        )
    assert isinstance(options, RayOptions)
    from suanwang.control.backends.ray import RayBackend

    return RayBackend(name, namespace, sites, address=options.address, workdir=workdir, **limits)


def make_backends(
    config: ControlConfig,
    site_ids: Iterable[str],
    data_dir: Path,
    *,
    clock: Callable[[], float] | None = None,
) -> dict[str, Backend]:
    """Every configured backend that serves a site, each with the sites mapped to it."""
    served: dict[str, list[str]] = {name: [] for name in config.backends}
    for site in site_ids:
        served[config.backend_of(site)].append(site)
    return {
        name: make_backend(name, opts, config.namespace, served[name], data_dir, clock=clock)
        for name, opts in config.backends.items()
        if served[name]  # a backend no site maps to has nothing to run
    }
