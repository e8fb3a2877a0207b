"""The chemistry envelope (ISSUE 11): protection settings the cell cannot take are rejected with the reason,
in a parameter file (the node exits 2 with that line, bms-replay too) and at runtime (the same validation);
only ``protection.allow_outside_envelope: true`` accepts them, and then every one is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bms_ros.config import load_config, read_params_file
from bms_ros.core.chemistry import CHEMISTRIES
from bms_ros.core.envelope import ENVELOPES, MAX_DELAY_S
from bms_ros.core.params import ConfigError


def params_file(tmp_path: Path, params: dict) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    return p


def rejected(tmp_path: Path, params: dict) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(read_params_file(params_file(tmp_path, params)))
    msg = str(e.value)
    assert len(msg.splitlines()) == 1, msg
    return msg


NMC_LIMITS = {
    "cell_overvoltage": {"threshold": 4.25, "release": 4.15},
    "cell_overvoltage_hard": {"threshold": 4.35, "release": 4.25},
    "cell_undervoltage": {"threshold": 2.8, "release": 3.0},
    "cell_undervoltage_deep": {"threshold": 2.5, "release": 2.8},
    "pack_overvoltage": {"threshold": 4.25, "release": 4.15},
}

# the unsafe files of the issue, one per class: (parameters, words the one-line reason must contain)
UNSAFE = {
    "nmc-ov-4.60-hard-4.70": (
        {
            "protection": {
                "cell_overvoltage": {"threshold": 4.6, "release": 4.5},
                "cell_overvoltage_hard": {"threshold": 4.7, "release": 4.6},
            }
        },
        ["protection.cell_overvoltage.threshold: 4.6 V", "nmc envelope", "4.35 V"],
    ),
    "nmc-hard-ov-4.70": (
        {"protection": {"cell_overvoltage_hard": {"threshold": 4.7}}},
        ["protection.cell_overvoltage_hard.threshold: 4.7 V", "nmc envelope", "2.5..4.35 V"],
    ),
    "nmc-deep-uv-1.0": (
        {"protection": {"cell_undervoltage_deep": {"threshold": 1.0}}},
        ["protection.cell_undervoltage_deep.threshold: 1 V", "nmc envelope", "2.5..4.35 V"],
    ),
    "lfp-pack-with-nmc-limits": (
        {"pack": {"chemistry": "lfp"}, "protection": NMC_LIMITS},
        ["protection.cell_overvoltage.threshold: 4.25 V", "lfp envelope", "2..3.8 V"],
    ),
    "trip-delay-300s": (
        {"protection": {"cell_overvoltage": {"delay": 300.0}}},
        ["protection.cell_overvoltage.delay: 300 s", "10 s"],
    ),
    "trip-delay-600s": (
        {"protection": {"charge_overtemperature": {"delay": 600.0}}},
        ["protection.charge_overtemperature.delay: 600 s", "60 s"],
    ),
    "flag-trip-delay-300s": (
        {"protection": {"short_circuit": {"delay": 300.0}}},
        ["protection.short_circuit.delay: 300 s", "10 s"],
    ),
    "stale-timeout-60s": ({"protection": {"stale_timeout": 60.0}}, ["protection.stale_timeout: 60 s", "5 s"]),
    "afe-flag-ignored-60s": (
        {"protection": {"afe_flag_clear_timeout": 60.0}},
        ["protection.afe_flag_clear_timeout: 60 s", "10 s"],
    ),
    "charging-from-minus-30": (
        {"protection": {"charge_undertemperature": {"threshold": -30.0, "release": -27.0}}},
        ["protection.charge_undertemperature.threshold: -30 degC", "charging temperature 0..50 degC"],
    ),
    "charging-to-80": (
        {"protection": {"charge_overtemperature": {"threshold": 80.0, "release": 75.0}}},
        ["protection.charge_overtemperature.threshold: 80 degC", "charging temperature 0..50 degC"],
    ),
    "charge-trip-1000A-on-10Ah": (
        {
            "pack": {"design_capacity_ah": 10.0},
            "protection": {"charge_overcurrent": {"threshold": 1000.0, "release": 800.0}},
        },
        ["protection.charge_overcurrent.threshold: 1000 A", "5C of pack.design_capacity_ah 10 Ah = 50 A"],
    ),
    "discharge-trip-25C": (
        {
            "pack": {"design_capacity_ah": 2.0},
            "protection": {"discharge_overcurrent": {"threshold": 50.0, "release": 40.0}},
        },
        ["protection.discharge_overcurrent.threshold: 50 A", "20C", "= 40 A"],
    ),
    "temperature-sensing-off-with-a-thermistor": (
        {"afe": {"thermistor_count": 1}, "protection": {"sensor_loss": {"min_thermistors": 0}}},
        ["protection.sensor_loss.min_thermistors: 0", "afe.thermistor_count is 1"],
    ),
}


@pytest.mark.parametrize("params, words", UNSAFE.values(), ids=UNSAFE.keys())
def test_an_unsafe_parameter_file_is_rejected_with_a_one_line_reason(tmp_path, params, words):
    msg = rejected(tmp_path, params)
    assert all(w in msg for w in words), msg
    assert "protection.allow_outside_envelope" in msg, "the reason says how to accept it deliberately"


@pytest.mark.parametrize(
    "cells, count, words",
    [
        (4, 3, ["afe.thermistor_count: 3", "bq76920", "1 TS input"]),
        (8, 3, ["afe.thermistor_count: 3", "bq76930", "2 TS input"]),
        (20, 1, ["pack.cell_count", "3..15"]),
    ],
)
@pytest.mark.parametrize("afe", ["bq769x0", "sim_bq769x0"])
def test_a_thermistor_count_or_cell_count_the_chip_cannot_have_is_rejected(tmp_path, afe, cells, count, words):
    msg = rejected(tmp_path, {"pack": {"cell_count": cells}, "afe": {"type": afe, "thermistor_count": count}})
    assert all(w in msg for w in words), msg


def test_the_chips_own_thermistor_counts_are_accepted():
    for cells, count in ((5, 1), (10, 2), (15, 3), (4, 0)):
        load_config(
            {
                "pack.cell_count": cells,
                "afe.type": "sim_bq769x0",
                "afe.thermistor_count": count,
                "protection.sensor_loss.min_thermistors": min(count, 1),
            }
        )


def test_allow_outside_envelope_accepts_and_reports_every_violation(tmp_path):
    params = {
        "protection": {
            "allow_outside_envelope": True,
            "stale_timeout": 60.0,
            "cell_overvoltage_hard": {"threshold": 4.5},
        }
    }
    cfg = load_config(read_params_file(params_file(tmp_path, params)))
    assert cfg.protection.cell_overvoltage_hard.threshold == 4.5
    v = cfg.envelope_violations()
    assert (
        len(v) == 2
        and v[0].startswith("protection.cell_overvoltage_hard.threshold: 4.5 V")
        and v[1].startswith("protection.stale_timeout: 60 s")
    ), v


@pytest.mark.parametrize("chem", sorted(CHEMISTRIES))
@pytest.mark.parametrize("capacity", [0.1, 1.0, 2.5, 10.0, 500.0])
def test_the_defaults_lie_inside_the_envelope(chem, capacity):
    cfg = load_config({"pack.chemistry": chem, "pack.design_capacity_ah": capacity})
    assert cfg.envelope_violations() == []


def test_current_trip_defaults_shrink_with_a_small_pack_and_explicit_values_are_checked_not_changed():
    small = load_config({"pack.design_capacity_ah": 1.0}).protection
    assert small.charge_overcurrent.threshold == pytest.approx(5.0)  # 5C, was 15 A
    assert small.discharge_overcurrent.threshold == pytest.approx(20.0)  # 20C, was 35 A
    assert small.discharge_overcurrent_sustained.threshold < small.discharge_overcurrent.threshold
    big = load_config({"pack.design_capacity_ah": 10.0}).protection
    assert (big.charge_overcurrent.threshold, big.discharge_overcurrent.threshold) == (15.0, 35.0)
    with pytest.raises(ConfigError, match=r"charge_overcurrent\.threshold: 15 A"):
        load_config({"pack.design_capacity_ah": 1.0, "protection.charge_overcurrent.threshold": 15.0})


def test_every_envelope_and_delay_limit_is_documented():
    import bms_ros.core.envelope as envelope

    assert set(ENVELOPES) == set(CHEMISTRIES)
    for name, env in ENVELOPES.items():
        assert env.source and name.upper() in env.source.upper()
        assert env.cell_voltage_min < env.cell_voltage_max
        assert env.charge_temperature_min < env.charge_temperature_max
    assert all(f'"{name}"' in Path(envelope.__file__).read_text() for name in MAX_DELAY_S)


# --- a user chemistry table declares its own envelope ---------------------------------------------------------
def table(tmp_path: Path, envelope: object) -> str:
    p = tmp_path / "cell.yaml"
    p.write_text(yaml.safe_dump({"name": "hv-nmc", "envelope": envelope}))
    return str(p)


HV = {
    "protection.cell_overvoltage.threshold": 4.35,
    "protection.cell_overvoltage.release": 4.25,
    "protection.cell_overvoltage_hard.threshold": 4.45,
    "protection.pack_overvoltage.threshold": 4.35,
    "protection.pack_overvoltage.release": 4.25,
}


def test_a_chemistry_table_may_declare_its_own_envelope(tmp_path):
    from bms_ros.core.bms import Bms

    with pytest.raises(ConfigError, match=r"protection\.cell_overvoltage_hard\.threshold: 4\.45 V"):
        load_config(HV)
    path = table(tmp_path, {"cell_voltage_max": 4.50, "source": "HV cell datasheet rev 3: 4.40 V charge"})
    cfg = load_config({**HV, "estimation.chemistry_table": path})
    assert cfg.envelope_violations() == []
    Bms(cfg)  # the estimator reads the same table (envelope key allowed)
    lower = table(tmp_path, {"charge_temperature_max": 40.0})
    with pytest.raises(ConfigError, match=r"charge_overtemperature.threshold: 45 degC .* 0\.\.40 degC"):
        load_config({"estimation.chemistry_table": lower})


@pytest.mark.parametrize(
    "envelope, words",
    [
        ({"cell_voltage_max": 9.0}, ["envelope.cell_voltage_max: 9.0", "not plausible"]),
        ({"cell_voltage_min": 4.0, "cell_voltage_max": 3.0}, ["envelope.cell_voltage_min (4.0) must be below"]),
        ({"cell_voltage_max": "4.5"}, ["envelope.cell_voltage_max: expected a finite number"]),
        ({"max_volts": 4.5}, ["envelope: unknown keys ['max_volts']"]),
        ([4.5], ["envelope must be a mapping"]),
    ],
)
def test_a_bad_declared_envelope_is_a_one_line_reason(tmp_path, envelope, words):
    with pytest.raises(ConfigError) as e:
        load_config({"estimation.chemistry_table": table(tmp_path, envelope)})
    msg = str(e.value)
    assert (
        len(msg.splitlines()) == 1 and msg.startswith("estimation.chemistry_table:") and all(w in msg for w in words)
    ), msg


def test_bms_replay_rejects_an_unsafe_file_with_exit_code_2(tmp_path, capsys):
    from bms_ros.tools.replay import main

    src = tmp_path / "in.csv"
    src.write_text(
        "t,current,cell_voltage_1,cell_voltage_2,cell_voltage_3,cell_voltage_4,temperature_1\n"
        "0.0,0.0,3.7,3.7,3.7,3.7,25.0\n"
    )
    cfg = params_file(tmp_path, UNSAFE["nmc-deep-uv-1.0"][0])
    assert main([str(src), "-c", str(cfg), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "protection.cell_undervoltage_deep.threshold: 1 V" in err[0], err
