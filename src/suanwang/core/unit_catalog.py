"""The built-in normalized-unit table, version ``2026.1`` (data as code, so the core stays pure).

How the ratings were derived:

* **AI** - dense (no sparsity) FP16/BF16 tensor TFLOPS per accelerator from the vendor's
  datasheet. Vendors often print the 2:4-sparsity figure; we halve it.
* **HPC** - peak FP64 TFLOPS per device: the vendor's FP64 tensor/matrix peak for accelerators;
  for CPUs, per core = base clock (GHz) x double-precision FLOP per cycle / 1000 (the
  Rpeak convention), from the vendor's published clock and SIMD width.
* **General** - per-core integer throughput relative to one core of an Intel Xeon Platinum
  8380 (= 1.0), from published SPECrate2017_int_base results of two-socket servers divided by
  their core count. These are approximate (about +-15 %): replace with audited figures when a
  provider registers a pool with its own benchmark.

Changing a rating means a new table version; leases keep the version they were priced with.
"""

from __future__ import annotations

from suanwang.core.units import ClassUnit, ComputeClass, HardwareModel, UnitTable

G, AI, HPC = ComputeClass.GENERAL, ComputeClass.AI, ComputeClass.HPC


def _cpu_fp64_per_core(ghz: float, flop_per_cycle: int) -> float:
    """Peak FP64 TFLOPS of one core: clock x DP FLOP per cycle."""
    return round(ghz * flop_per_cycle / 1000.0, 4)


_UNITS = (
    ClassUnit(
        compute_class=G,
        symbol="GCU",
        definition="general compute unit: one core's integer throughput relative to an "
        "Intel Xeon Platinum 8380 core (SPECrate2017_int_base per core)",
    ),
    ClassUnit(
        compute_class=AI,
        symbol="TFLOPS-FP16",
        definition="dense FP16/BF16 tensor TFLOPS (no sparsity)",
    ),
    ClassUnit(
        compute_class=HPC,
        symbol="TFLOPS-FP64",
        definition="peak FP64 TFLOPS (tensor/matrix peak where the device has one)",
    ),
)

_MODELS = (
    # --- NVIDIA ---------------------------------------------------------------------------
    HardwareModel(
        id="nvidia-h200",
        vendor="NVIDIA",
        name="H200 SXM 141GB",
        device="GPU",
        ratings={AI: 989.0, HPC: 67.0},
        memory_gb=141,
        source="https://www.nvidia.com/en-us/data-center/h200/ (BF16 1,979 TFLOPS sparse)",
    ),
    HardwareModel(
        id="nvidia-h100",
        vendor="NVIDIA",
        name="H100 SXM5 80GB",
        device="GPU",
        ratings={AI: 989.0, HPC: 67.0},
        memory_gb=80,
        source="https://www.nvidia.com/en-us/data-center/h100/ (BF16 1,979 TFLOPS sparse)",
    ),
    HardwareModel(
        id="nvidia-a100",
        vendor="NVIDIA",
        name="A100 SXM4 80GB",
        device="GPU",
        ratings={AI: 312.0, HPC: 19.5},
        memory_gb=80,
        source="https://www.nvidia.com/en-us/data-center/a100/",
    ),
    HardwareModel(
        id="nvidia-l40s",
        vendor="NVIDIA",
        name="L40S 48GB",
        device="GPU",
        ratings={AI: 362.0},
        memory_gb=48,
        source="https://www.nvidia.com/en-us/data-center/l40s/ (FP16 733 TFLOPS sparse)",
        note="no meaningful FP64 rate; not offered for HPC",
    ),
    HardwareModel(
        id="nvidia-v100",
        vendor="NVIDIA",
        name="V100 SXM2 32GB",
        device="GPU",
        ratings={AI: 125.0, HPC: 7.8},
        memory_gb=32,
        source="https://www.nvidia.com/en-us/data-center/v100/",
    ),
    HardwareModel(
        id="nvidia-t4",
        vendor="NVIDIA",
        name="T4 16GB",
        device="GPU",
        ratings={AI: 65.0},
        memory_gb=16,
        source="https://www.nvidia.com/en-us/data-center/tesla-t4/ (FP16 mixed precision)",
    ),
    HardwareModel(
        id="nvidia-a10",
        vendor="NVIDIA",
        name="A10 24GB",
        device="GPU",
        ratings={AI: 125.0},
        memory_gb=24,
        source="https://www.nvidia.com/en-us/data-center/products/a10-gpu/ (250 TFLOPS sparse)",
    ),
    # --- AMD ------------------------------------------------------------------------------
    HardwareModel(
        id="amd-mi300x",
        vendor="AMD",
        name="Instinct MI300X 192GB",
        device="GPU",
        ratings={AI: 1307.4, HPC: 163.4},
        memory_gb=192,
        source="https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
    ),
    HardwareModel(
        id="amd-mi250x",
        vendor="AMD",
        name="Instinct MI250X 128GB",
        device="GPU",
        ratings={AI: 383.0, HPC: 95.7},
        memory_gb=128,
        source="https://www.amd.com/en/products/accelerators/instinct/mi200/mi250x.html",
    ),
    # --- Chinese accelerators -------------------------------------------------------------
    HardwareModel(
        id="huawei-ascend-910b",
        vendor="Huawei",
        name="Ascend 910B",
        device="NPU",
        ratings={AI: 320.0},
        memory_gb=64,
        source="https://www.hiascend.com/hardware/product (Atlas 800T A2 / Ascend 910B)",
        note="FP16 dense; published figures for 910B variants range 280-376 TFLOPS: approximate",
    ),
    HardwareModel(
        id="cambricon-mlu370-x8",
        vendor="Cambricon",
        name="MLU370-X8",
        device="MLU",
        ratings={AI: 96.0},
        memory_gb=48,
        source="https://www.cambricon.com/index.php?m=content&c=index&a=lists&catid=360",
    ),
    HardwareModel(
        id="hygon-dcu-z100",
        vendor="Hygon",
        name="DCU Z100 (深算一号)",
        device="DCU",
        ratings={HPC: 10.1},
        memory_gb=32,
        source="Hygon DCU Z100 product brief (FP64 10.1 TFLOPS, 32 GB HBM2)",
    ),
    # --- CPUs (device = one core) ---------------------------------------------------------
    HardwareModel(
        id="intel-xeon-8480",
        vendor="Intel",
        name="Xeon Platinum 8480+ (56 cores)",
        device="CPU core",
        ratings={G: 1.14, HPC: _cpu_fp64_per_core(2.0, 32)},
        source="https://www.intel.com/content/www/us/en/products/sku/231746/ ; spec.org CPU2017",
        note="general rating approximate (SPECrate2017_int_base per core vs 8380)",
    ),
    HardwareModel(
        id="intel-xeon-8380",
        vendor="Intel",
        name="Xeon Platinum 8380 (40 cores)",
        device="CPU core",
        ratings={G: 1.0, HPC: _cpu_fp64_per_core(2.3, 32)},
        source="https://www.intel.com/content/www/us/en/products/sku/212287/ ; spec.org CPU2017",
        note="reference core of the general unit",
    ),
    HardwareModel(
        id="amd-epyc-9654",
        vendor="AMD",
        name="EPYC 9654 (96 cores, Zen 4)",
        device="CPU core",
        ratings={G: 1.27, HPC: _cpu_fp64_per_core(2.4, 16)},
        source="https://www.amd.com/en/products/processors/server/epyc/"
        "4th-generation-9004-and-8004-series/amd-epyc-9654.html ; spec.org CPU2017",
        note="general rating approximate",
    ),
    HardwareModel(
        id="amd-epyc-7763",
        vendor="AMD",
        name="EPYC 7763 (64 cores, Zen 3)",
        device="CPU core",
        ratings={G: 0.86, HPC: _cpu_fp64_per_core(2.45, 16)},
        source="https://www.amd.com/en/products/processors/server/epyc/7003-series/"
        "amd-epyc-7763.html ; spec.org CPU2017",
        note="general rating approximate",
    ),
    HardwareModel(
        id="huawei-kunpeng-920",
        vendor="Huawei",
        name="Kunpeng 920-7260 (64 cores)",
        device="CPU core",
        ratings={G: 0.45, HPC: _cpu_fp64_per_core(2.6, 8)},
        source="https://www.hikunpeng.com/ (Kunpeng 920 processor); spec.org CPU2017",
        note="general rating is an estimate (few audited SPEC results are public)",
    ),
    HardwareModel(
        id="hygon-c86-7285",
        vendor="Hygon",
        name="C86 7285 (32 cores)",
        device="CPU core",
        ratings={G: 0.55, HPC: _cpu_fp64_per_core(2.0, 8)},
        source="Hygon C86 7285 specification (32 cores, 2.0 GHz, Zen-derived); spec.org CPU2017",
        note="general rating is an estimate",
    ),
    HardwareModel(
        id="ampere-altra-q80",
        vendor="Ampere",
        name="Altra Q80-30 (80 cores)",
        device="CPU core",
        ratings={G: 0.6, HPC: _cpu_fp64_per_core(3.0, 8)},
        source="https://amperecomputing.com/briefs/ampere-altra-family-product-brief",
        note="general rating approximate",
    ),
    HardwareModel(
        id="fujitsu-a64fx",
        vendor="Fujitsu",
        name="A64FX (48 compute cores)",
        device="CPU core",
        ratings={HPC: _cpu_fp64_per_core(2.2, 32)},
        memory_gb=0.667,
        source="https://www.fujitsu.com/global/products/computing/servers/supercomputer/a64fx/",
        note="Fugaku's processor; 32 GB HBM2 shared by 48 cores",
    ),
)

UNIT_TABLE = UnitTable(version="2026.1", units=_UNITS, models=_MODELS)
"""The built-in table. Its ``version`` is recorded wherever units are priced or metered."""
