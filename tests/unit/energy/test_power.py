"""The power model: CCF CPUs, accelerator TDPs, memory, PUE and network energy."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.core.energy.builtin_tables import CCF_VCPU_WATTS
from suanwang.core.energy.power import DEVICE_POWER, PowerModel, PueModel, coverage
from suanwang.core.errors import SuanwangError
from suanwang.core.unit_catalog import UNIT_TABLE


def test_every_hardware_model_in_the_unit_table_has_power_data() -> None:
    assert coverage({m.id: m for m in UNIT_TABLE.models}, PowerModel()) == ()


def test_every_cpu_maps_to_a_ccf_architecture_and_accelerators_have_a_tdp() -> None:
    for model in UNIT_TABLE.models:
        power = DEVICE_POWER[model.id]
        if model.device == "CPU core":
            assert power.ccf_architecture in CCF_VCPU_WATTS, model.id
        else:
            assert power.tdp_watts is not None, model.id


@pytest.mark.parametrize(
    ("model", "devices", "utilisation", "memory_gb", "watts"),
    [
        # accelerators: TDP x utilisation
        ("nvidia-h100", 8, 1.0, 0.0, 8 * 700.0),
        ("nvidia-a100", 1, 0.5, 0.0, 200.0),
        ("nvidia-t4", 0.5, 1.0, 0.0, 35.0),  # half a GPU draws half
        # CPUs: per core = 2 vCPU x (min + u (max - min)) with CCF's EPYC 3rd Gen means
        (
            "amd-epyc-7763",
            64,
            0.5,
            0.0,
            64
            * 2
            * (
                CCF_VCPU_WATTS["EPYC 3rd Gen"][0]
                + 0.5 * (CCF_VCPU_WATTS["EPYC 3rd Gen"][1] - CCF_VCPU_WATTS["EPYC 3rd Gen"][0])
            ),
        ),
        # Arm cores count one vCPU each; memory adds 0.392 W/GB
        ("ampere-altra-q80", 80, 0.0, 100.0, 80 * CCF_VCPU_WATTS["Graviton2"][0] + 39.2),
    ],
)
def test_it_power_hand_worked(
    model: str, devices: float, utilisation: float, memory_gb: float, watts: float
) -> None:
    assert PowerModel().it_watts(model, devices, utilisation, memory_gb) == pytest.approx(watts)


def test_unknown_models_and_bad_utilisation_are_clear_errors() -> None:
    with pytest.raises(SuanwangError, match="no power data for hardware model 'tpu-v9'"):
        PowerModel().it_watts("tpu-v9", 1, 1.0, 0.0)
    with pytest.raises(SuanwangError, match="utilisation must be between 0 and 1"):
        PowerModel().it_watts("nvidia-h100", 1, 1.5, 0.0)


def test_network_energy_is_configurable_and_defaults_to_ccf() -> None:
    assert PowerModel().network_kwh(1000.0) == pytest.approx(1.0)
    assert PowerModel(network_kwh_per_gb=0.005).network_kwh(100.0) == pytest.approx(0.5)


def test_pue_rises_only_above_the_reference_temperature() -> None:
    pue = PueModel(base=1.2, per_degree_c=0.01, t_ref_c=20.0)
    np.testing.assert_allclose(pue.at(np.array([10.0, 20.0, 30.0]), 3), [1.2, 1.2, 1.3])
    np.testing.assert_allclose(PueModel(base=1.3).at(None, 2), [1.3, 1.3])
