"""Power model: what a unit of work draws at the server, at the facility, and on the network.

* **CPU** (Cloud Carbon Footprint's linear model): watts per vCPU
  ``= min + u x (max - min)`` from the per-micro-architecture coefficients in
  :data:`~suanwang.core.energy.builtin_tables.CCF_VCPU_WATTS`. Our CPU devices are physical
  cores, so a core counts as ``vcpus_per_core`` vCPUs (2 with SMT, 1 for Arm cores).
* **Accelerators**: ``TDP x (idle + (1 - idle) x u)``; with the default ``idle_fraction = 0``
  this is TDP x utilisation, as the issue asks. The TDPs are vendors' board/module figures.
* **Memory**: CCF's 0.392 W per GB of memory the task holds.
* **Facility**: IT power x PUE; PUE may rise linearly with outdoor temperature above a
  reference (:class:`PueModel`).
* **Network**: ``kwh_per_gb`` (CCF's 0.001 kWh/GB by default) per GB moved.

Contracts: pure; all powers are watts, energies kWh; ``utilisation`` is in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.energy.builtin_tables import CCF_VCPU_WATTS
from suanwang.core.errors import SuanwangError


class DevicePower(Frozen):
    """How one device of a hardware model draws power.

    Either a CPU core mapped onto a CCF micro-architecture (``ccf_architecture`` with
    ``vcpus_per_core``) or an accelerator with a ``tdp_watts``. ``proxy`` is true when the
    architecture is a stand-in for one CCF does not list.
    """

    model: str
    ccf_architecture: str | None = None
    vcpus_per_core: int = Field(default=2, ge=1, le=8)
    tdp_watts: float | None = Field(default=None, gt=0.0)
    idle_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    proxy: bool = False
    source: str = ""

    def watts(self, utilisation: float) -> float:
        """Power of one device at ``utilisation`` (0..1)."""
        if not 0.0 <= utilisation <= 1.0:
            raise SuanwangError(f"utilisation must be between 0 and 1, got {utilisation}")
        if self.tdp_watts is not None:
            return self.tdp_watts * (self.idle_fraction + (1.0 - self.idle_fraction) * utilisation)
        if self.ccf_architecture is None:
            raise SuanwangError(f"{self.model}: no TDP and no CCF architecture")
        low, high = CCF_VCPU_WATTS[self.ccf_architecture]
        return self.vcpus_per_core * (low + utilisation * (high - low))


def _cpu(model: str, arch: str, vcpus: int, proxy: bool, source: str) -> DevicePower:
    if arch not in CCF_VCPU_WATTS:
        raise ValueError(f"{model}: unknown CCF architecture {arch!r}")
    return DevicePower(
        model=model, ccf_architecture=arch, vcpus_per_core=vcpus, proxy=proxy, source=source
    )


def _accel(model: str, tdp: float, source: str) -> DevicePower:
    return DevicePower(model=model, tdp_watts=tdp, source=source)


DEVICE_POWER: dict[str, DevicePower] = {
    d.model: d
    for d in (
        _accel("nvidia-h200", 700.0, "NVIDIA H200 SXM datasheet: max TDP up to 700 W"),
        _accel("nvidia-h100", 700.0, "NVIDIA H100 SXM5 datasheet: max TDP up to 700 W"),
        _accel("nvidia-a100", 400.0, "NVIDIA A100 SXM4 80GB datasheet: max TDP 400 W"),
        _accel("nvidia-l40s", 350.0, "NVIDIA L40S datasheet: max power 350 W"),
        _accel("nvidia-v100", 300.0, "NVIDIA V100 SXM2 datasheet: 300 W"),
        _accel("nvidia-t4", 70.0, "NVIDIA T4 datasheet: 70 W"),
        _accel("nvidia-a10", 150.0, "NVIDIA A10 datasheet: 150 W"),
        _accel("amd-mi300x", 750.0, "AMD Instinct MI300X datasheet: 750 W peak board power"),
        _accel("amd-mi250x", 560.0, "AMD Instinct MI250X datasheet: 560 W peak board power"),
        _accel("huawei-ascend-910b", 400.0, "Huawei Ascend 910B module, about 400 W (approx.)"),
        _accel("cambricon-mlu370-x8", 250.0, "Cambricon MLU370-X8 datasheet: 250 W"),
        _accel("hygon-dcu-z100", 300.0, "Hygon DCU Z100, about 300 W (approx.)"),
        _cpu("intel-xeon-8480", "Cascade Lake", 2, True, "Sapphire Rapids; CCF proxy"),
        _cpu("intel-xeon-8380", "Cascade Lake", 2, True, "Ice Lake; CCF proxy"),
        _cpu("amd-epyc-9654", "EPYC 3rd Gen", 2, True, "Zen 4; CCF proxy"),
        _cpu("amd-epyc-7763", "EPYC 3rd Gen", 2, False, "Zen 3 = CCF EPYC 3rd Gen"),
        _cpu("huawei-kunpeng-920", "Graviton2", 1, True, "Arm v8.2 server core; CCF proxy"),
        _cpu("hygon-c86-7285", "EPYC 1st Gen", 2, False, "Zen 1 licensed core"),
        _cpu("ampere-altra-q80", "Graviton2", 1, True, "Neoverse N1, as Graviton2"),
        _cpu("fujitsu-a64fx", "Graviton2", 1, True, "Arm SVE HPC core; CCF proxy"),
    )
}
"""Power of every hardware model in the built-in unit table (tests check the coverage)."""

MEMORY_WATTS_PER_GB = 0.392
"""CCF memory coefficient: 0.000392 kWh per GB-hour."""

NETWORK_KWH_PER_GB = 0.001
"""CCF network coefficient: 0.001 kWh per GB transferred."""


class PueModel(Frozen):
    """PUE that may rise with outdoor temperature: ``base + per_degree x max(0, T - t_ref)``."""

    base: float = Field(ge=1.0, le=3.0)
    per_degree_c: float = Field(default=0.0, ge=0.0, le=0.1)
    t_ref_c: float = Field(default=20.0, ge=-40.0, le=50.0)

    def at(self, outdoor_c: npt.NDArray[np.float64] | None, hours: int) -> npt.NDArray[np.float64]:
        """PUE for ``hours`` hours, given outdoor temperatures (or ``None``: the base value)."""
        if outdoor_c is None or self.per_degree_c == 0.0:
            return np.full(hours, self.base)
        return self.base + self.per_degree_c * np.maximum(0.0, outdoor_c - self.t_ref_c)


class PowerModel(Frozen):
    """The parameters of the power model; the defaults are CCF's and the vendors'."""

    devices: dict[str, DevicePower] = Field(default_factory=lambda: dict(DEVICE_POWER))
    memory_watts_per_gb: float = Field(default=MEMORY_WATTS_PER_GB, ge=0.0)
    network_kwh_per_gb: float = Field(default=NETWORK_KWH_PER_GB, ge=0.0)

    def device(self, model: str) -> DevicePower:
        """The power entry for hardware ``model``.

        Raises:
            SuanwangError: no entry; the message lists the known models.
        """
        try:
            return self.devices[model]
        except KeyError:
            known = ", ".join(sorted(self.devices))
            raise SuanwangError(
                f"no power data for hardware model {model!r} (known: {known})"
            ) from None

    def it_watts(self, model: str, devices: float, utilisation: float, memory_gb: float) -> float:
        """IT power of ``devices`` (may be fractional) of ``model`` plus the memory held."""
        if devices < 0 or memory_gb < 0:
            raise SuanwangError("device count and memory must not be negative")
        return (
            devices * self.device(model).watts(utilisation) + memory_gb * self.memory_watts_per_gb
        )

    def network_kwh(self, gigabytes: float) -> float:
        """Energy to move ``gigabytes`` across the network."""
        return gigabytes * self.network_kwh_per_gb


def coverage(models: Mapping[str, object], power: PowerModel) -> tuple[str, ...]:
    """Hardware models in ``models`` that ``power`` has no entry for (empty when complete)."""
    return tuple(sorted(m for m in models if m not in power.devices))
