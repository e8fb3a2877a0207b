"""Configuration: every bad value is rejected with a reason that names it; good files load."""

from pathlib import Path

import pytest

from bms_ros.config import ALL_SPECS, load_config, read_params_file, resolve
from bms_ros.core.params import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


@pytest.mark.parametrize(
    "values, words",
    [
        ({"pack.cell_count": 0}, ["pack.cell_count", "minimum"]),
        ({"pack.cell_count": "4"}, ["pack.cell_count", "integer"]),
        ({"pack.cell_count": 4.0}, ["pack.cell_count", "integer"]),
        ({"pack.chemistry": "lead"}, ["pack.chemistry", "nmc"]),
        ({"rate_hz": 0.0}, ["rate_hz", "minimum"]),
        ({"rate_hz": True}, ["rate_hz", "number"]),
        ({"pack.cell_cont": 4}, ["pack.cell_cont", "unknown"]),
        ({"afe.type": "bq76952"}, ["afe.type"]),
    ],
)
def test_bad_values_are_rejected_with_the_parameter_named(values, words):
    with pytest.raises(ConfigError) as e:
        load_config(values)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert "\n" not in str(e.value)


def test_chemistry_sets_defaults_and_explicit_values_win():
    lfp = load_config({"pack.chemistry": "lfp"})
    nmc = load_config({})
    assert lfp.protection != nmc.protection
    name, spec = next((n, s) for n, s in ALL_SPECS.items() if n.startswith("protection.") and s.type is float)
    explicit = resolve({"pack.chemistry": "lfp", name: spec.max if spec.max is not None else 1.0})
    assert explicit[name] == (spec.max if spec.max is not None else 1.0)


def test_integers_are_accepted_for_real_valued_parameters():
    assert load_config({"rate_hz": 5}).rate_hz == 5.0


def test_ros_owned_parameters_are_not_ours_to_reject():
    load_config({"use_sim_time": True, "diagnostic_updater.period": 2.0, "qos_overrides./x.depth": 3})


def test_every_parameter_has_a_description_and_a_valid_default():
    for name, spec in ALL_SPECS.items():
        assert spec.description, name
    resolve({})


NODE_PARAMETER_FILES = sorted(p for p in CONFIG_DIR.glob("*.yaml") if p.name != "diagnostics_analyzers.yaml")


@pytest.mark.parametrize("path", NODE_PARAMETER_FILES, ids=lambda p: p.name)
def test_shipped_parameter_files_load(path):
    load_config(read_params_file(path))


def test_parameter_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  parameters: {}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        read_params_file(bad)
