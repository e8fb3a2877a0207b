"""Chemistry data: OCV tables, temperature dependence, ECM parameters, user tables."""

from __future__ import annotations

import numpy as np
import pytest

from bms_ros.config import load_config
from bms_ros.core.chemistry import CHEMISTRIES, ChemistryTableError, get_chemistry, load_chemistry_table
from bms_ros.core.estimator import resolve_chemistry
from bms_ros.core.params import ConfigError

TEMPS = (-30.0, -10.0, 0.0, 25.0, 45.0, 60.0)


def test_required_chemistries_exist():
    assert {"nmc", "lfp", "lto", "lco", "nca"} <= set(CHEMISTRIES)


@pytest.mark.parametrize("name", sorted(CHEMISTRIES))
@pytest.mark.parametrize("temp", TEMPS)
def test_ocv_strictly_increasing_at_every_temperature(name, temp):
    chem = get_chemistry(name)
    soc = np.linspace(0.0, 1.0, 501)
    v = chem.ocv(soc, temp)
    assert np.all(np.diff(v) > 0), f"{name} at {temp} degC"
    assert np.all(np.diff(chem.ocv_table_at(temp)) > 0)


@pytest.mark.parametrize("name", sorted(CHEMISTRIES))
def test_soc_from_ocv_inverts_ocv(name):
    chem = get_chemistry(name)
    soc = np.linspace(0.0, 1.0, 97)
    for temp in (0.0, 25.0, 45.0):
        np.testing.assert_allclose(chem.soc_from_ocv(chem.ocv(soc, temp), temp), soc, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CHEMISTRIES))
def test_limits_bracket_the_curve(name):
    c = get_chemistry(name)
    assert c.ocv(0.0) == pytest.approx(c.empty_v)
    assert c.ocv(1.0) == pytest.approx(c.full_v)
    assert c.cell_uv < c.empty_v < c.nominal_v < c.full_v < c.cell_ov


def test_default_call_keeps_the_25c_curve():
    c = get_chemistry("nmc")
    soc = np.array([0.0, 0.33, 0.5, 0.9])
    np.testing.assert_allclose(c.ocv(soc), np.interp(soc, c.ocv_soc, c.ocv_v))


def test_temperature_shift_follows_entropic_coefficient():
    c = get_chemistry("nmc")
    soc = 0.05  # breakpoint 1: -0.30 mV/K
    assert c.ocv(soc, 5.0) - c.ocv(soc, 25.0) == pytest.approx(-0.30e-3 * (5.0 - 25.0), abs=1e-9)
    # clamped outside the tabulated temperatures
    assert c.ocv(soc, -80.0) == pytest.approx(c.ocv(soc, -20.0))


def test_ocv_slope_positive_everywhere():
    for c in CHEMISTRIES.values():
        assert np.all(c.docv_dsoc(np.linspace(-0.1, 1.1, 50)) > 0)


def test_resistance_rises_in_the_cold():
    c = get_chemistry("lfp")
    r25 = c.ecm(0.5, 25.0)
    r0c = c.ecm(0.5, 0.0)
    for warm, cold in zip(r25, r0c, strict=True):
        assert cold > 1.5 * warm
    assert c.ecm(0.5)[0] == pytest.approx(c.r0_ohm_per_ah)


def test_user_csv_table(tmp_path):
    p = tmp_path / "cell.csv"
    p.write_text("# measured on cell #12\nsoc,ocv_v,r0_ohm_ah,tau1_s\n0,2.8,0.10,8\n0.5,3.6,0.05,8\n1,4.1,0.06,8\n")
    c = load_chemistry_table(p, get_chemistry("nmc"))
    assert c.ocv(0.25) == pytest.approx(3.2)
    assert c.soc_from_ocv(3.6) == pytest.approx(0.5)
    assert c.ecm(0.0)[0] == pytest.approx(0.10)
    assert c.ecm(0.75)[0] == pytest.approx(0.055)
    assert c.tau1_s == 8.0
    # what the table did not give comes from the base chemistry
    assert c.full_v == 4.20 and c.cell_ov == 4.25
    assert c.ecm(0.3)[1] == pytest.approx(get_chemistry("nmc").r1_ohm_per_ah)
    assert str(p) in c.source


def test_a_csv_table_carries_full_and_empty_voltage_in_comment_lines(tmp_path):
    """ISSUE 13: an LFP cell's measured curve as CSV on an NMC base could not say where its SoC 0 and 1 are."""
    p = tmp_path / "lfp_cell.csv"
    p.write_text(
        "# LFP cell, lab rest test 2026-11\n# name: lab_lfp\n# full_v: 3.65\n# empty_v = 2.5\n"
        "# nominal_v: 3.2\nsoc,ocv_v\n0,2.5\n0.5,3.3\n1,3.65\n"
    )
    c = load_chemistry_table(p, get_chemistry("nmc"))
    assert (c.name, c.full_v, c.empty_v, c.nominal_v) == ("lab_lfp", 3.65, 2.5, 3.2)
    p.write_text("# full_v: high\nsoc,ocv_v\n0,2.5\n1,3.65\n")
    with pytest.raises(ChemistryTableError, match="full_v must be a number"):
        load_chemistry_table(p, get_chemistry("nmc"))


def test_user_csv_table_by_temperature(tmp_path):
    p = tmp_path / "cell.csv"
    p.write_text("soc,ocv_v@0,ocv_v@40\n0,3.00,3.02\n1,4.00,4.04\n")
    c = load_chemistry_table(p, get_chemistry("nmc"))
    assert c.ocv(1.0, 20.0) == pytest.approx(4.02)
    assert c.ocv(0.0, 0.0) == pytest.approx(3.00)
    assert c.ocv(0.0) == pytest.approx(3.0125)  # 25 degC


def test_user_yaml_table(tmp_path):
    p = tmp_path / "cell.yaml"
    p.write_text(
        "name: mycell\nfull_v: 3.65\nempty_v: 2.5\nocv:\n  soc: [0, 0.5, 1]\n  voltage: [2.5, 3.3, 3.65]\n"
        "ecm:\n  soc: [0, 1]\n  r0_ohm_ah: [0.08, 0.04]\n  tau2_s: 900\n  r_activation_k: 4000\n"
    )
    c = load_chemistry_table(p, get_chemistry("lfp"))
    assert c.name == "mycell"
    assert c.ocv(0.75) == pytest.approx(3.475)
    assert c.ecm(0.5)[0] == pytest.approx(0.06)
    assert c.tau2_s == 900 and c.r_activation_k == 4000
    assert c.full_v == 3.65


def test_diffusion_time_constant_from_yaml_and_csv(tmp_path):
    y = tmp_path / "cell.yaml"
    y.write_text("ecm:\n  soc: [0, 1]\n  r0_ohm_ah: 0.05\n  diffusion_tau_s: 180\n")
    chem = load_chemistry_table(y, get_chemistry("lfp"))
    assert chem.diffusion_taus == (180.0, 180.0)
    y.write_text("diffusion_tau_s: 180\ndiffusion_tau_full_s: 30\n")
    chem = load_chemistry_table(y, get_chemistry("lfp"))
    assert chem.diffusion_taus == (180.0, 30.0)
    np.testing.assert_allclose(chem.diffusion_weight(np.array([0.1, 0.85, 0.9, 0.95])), [0.0, 0.0, 0.5, 1.0])
    c = tmp_path / "cell.csv"
    c.write_text("soc,ocv_v,diffusion_tau_s\n0,3.0,90\n1,4.0,90\n")
    assert load_chemistry_table(c, get_chemistry("nmc")).diffusion_tau_s == 90.0
    assert get_chemistry("lfp").diffusion_tau_s == 0.0  # built-in tables: no lag unless measured


@pytest.mark.parametrize(
    "text,suffix,needle",
    [
        ("diffusion_tau_s: -5\n", ".yaml", "diffusion_tau_s"),
        ("soc,ocv_v,diffusion_tau_s\n0,3.0,60\n1,4.0,90\n", ".csv", "constant"),
        ("soc,ocv_v\n0,3.0\n0.5,2.9\n1,4.0\n", ".csv", "strictly increase"),
        ("soc,volts\n0,3.0\n1,4.0\n", ".csv", "ocv_v"),
        ("soc,ocv_v\n0,3.0\n1,abc\n", ".csv", "not a number"),
        ("ocv: {soc: [0, 1], voltage: [3.0]}\n", ".yaml", "one value per soc"),
        ("colour: blue\n", ".yaml", "unknown keys"),
        ("ocv: [unclosed\n", ".yaml", ""),
    ],
)
def test_bad_user_tables_are_rejected_with_the_file_name(tmp_path, text, suffix, needle):
    p = tmp_path / f"bad{suffix}"
    p.write_text(text)
    with pytest.raises(ChemistryTableError) as e:
        load_chemistry_table(p, get_chemistry("nmc"))
    assert str(p) in str(e.value) and needle in str(e.value)


def test_config_selects_the_table(tmp_path):
    p = tmp_path / "cell.csv"
    p.write_text("soc,ocv_v\n0,3.1\n1,4.1\n")
    chem = resolve_chemistry(load_config({"estimation.chemistry_table": str(p)}))
    assert chem.ocv(0.5) == pytest.approx(3.6)
    with pytest.raises(ConfigError, match=r"estimation\.chemistry_table"):
        resolve_chemistry(load_config({"estimation.chemistry_table": str(tmp_path / "missing.csv")}))


@pytest.mark.parametrize("name", sorted(CHEMISTRIES))
def test_ocv_and_slope_match_ocv_and_docv_dsoc(name):
    chem = get_chemistry(name)
    soc = np.linspace(0.0, 1.0, 203)[1:-1]
    for temp in (0.0, 25.0):
        v, slope = chem.ocv_and_slope(soc, temp)
        np.testing.assert_allclose(v, chem.ocv(soc, temp), atol=1e-12)
        np.testing.assert_allclose(slope, chem.docv_dsoc(soc, temp))
    v, slope = chem.ocv_and_slope(np.array([-0.05, 1.05]))  # end segments extrapolated linearly
    assert v[0] < chem.empty_v and v[1] > chem.full_v


def test_charge_direction_resistances_from_a_yaml_table(tmp_path):
    p = tmp_path / "cell.yaml"
    p.write_text(
        "ecm:\n  soc: [0.0, 1.0]\n  r0_ohm_ah: [0.05, 0.04]\n  r0_chg_ohm_ah: [0.08, 0.06]\n  r1_ohm_ah: 0.02\n"
    )
    chem = load_chemistry_table(p, get_chemistry("nmc"))
    r0_d, r1_d, _ = chem.ecm(np.array([0.5]))
    r0_c, r1_c, _ = chem.ecm(np.array([0.5]), charging=True)
    assert r0_d[0] == pytest.approx(0.045) and r0_c[0] == pytest.approx(0.07)
    assert r1_c[0] == pytest.approx(r1_d[0])  # not given for charge: the discharge value
    # without charge tables both directions are the same
    base = get_chemistry("lfp")
    np.testing.assert_allclose(base.ecm(0.3, 10.0, charging=True), base.ecm(0.3, 10.0))
