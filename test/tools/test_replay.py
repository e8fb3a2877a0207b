"""bms-replay: CSV in, the core's decisions out; clear errors on bad input."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.tools.replay import OUTPUT_COLUMNS, CsvSampleSource, ReplayError, main

CONFIG = """/**:
  ros__parameters:
    pack:
      cell_count: {cells}
      chemistry: nmc
      design_capacity_ah: 10.0
"""


def recording(path, cells=4, temps=1, n=600, load=5.0):
    model = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=cells, initial_soc=0.7, seed=3))
    model.charge_fet = model.discharge_fet = True
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["t", "current"]
            + [f"cell_voltage_{i + 1}" for i in range(cells)]
            + [f"temperature_{i + 1}" for i in range(temps)]
        )
        for k in range(n):
            model.load_a = load if (k // 30) % 2 else 1.0
            model.step(0.5)
            w.writerow(
                [f"{k * 0.5:.1f}", f"{model.current_a:.4f}"]
                + [f"{v:.4f}" for v in model.cell_voltages()]
                + [f"{model.temperature_c:.2f}"] * temps
            )
    return path


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text(CONFIG.format(cells=4))
    return p


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_replay_produces_one_row_per_sample(tmp_path, config):
    src = recording(tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    assert main([str(src), "-c", str(config), "-o", str(out), "-q"]) == 0
    rows = read(out)
    assert len(rows) == 600
    assert tuple(rows[0]) == OUTPUT_COLUMNS
    soc = np.array([float(r["soc"]) for r in rows])
    assert np.all((soc >= 0) & (soc <= 1))
    assert soc[-1] < soc[0]  # the pack was discharging
    assert 0.6 < soc[0] < 0.8
    assert float(rows[-1]["time_to_empty_s"]) > 0
    assert rows[-1]["time_to_full_s"] == "nan"  # unknown is NaN, not 0 or -1
    assert rows[-1]["charge_allowed"] in ("0", "1") and rows[-1]["discharge_allowed"] in ("0", "1")


def test_replay_is_deterministic(tmp_path, config):
    src = recording(tmp_path / "in.csv", n=200)
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}.csv"
        assert main([str(src), "-c", str(config), "-o", str(out), "-q"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_cell_count_mismatch_is_a_clear_error(tmp_path, capsys):
    src = recording(tmp_path / "in.csv", cells=3, n=5)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(CONFIG.format(cells=4))
    assert main([str(src), "-c", str(cfg), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has 3 cells" in err[0] and "pack.cell_count = 4" in err[0]


@pytest.mark.parametrize(
    "text,needle",
    [
        (
            "t,current,cell_voltage_1,cell_voltage_2,cell_voltage_3,cell_voltage_4,temperature_1\n0,1,3.7,3.7,x,3.7,25\n",
            "in.csv:2: not a number: 'x'",
        ),
        ("t,current,cell_voltage_1,cell_voltage_2,cell_voltage_3,cell_voltage_4\n0,1,3.7,3.7\n", "in.csv:2: 4 fields"),
        ("time,current,cell_voltage_1\n", "must start with 't,current'"),
        ("t,current,cell_voltage_1,cell_voltage_3\n", "expected cell_voltage_2 or temperature_1"),
        ("", "empty file"),
        (
            "t,current,cell_voltage_1,cell_voltage_2,cell_voltage_3,cell_voltage_4\n5,1,3.7,3.7,3.7,3.7\n"
            "4,1,3.7,3.7,3.7,3.7\n",
            "goes backwards",
        ),
    ],
)
def test_bad_csv_is_a_one_line_error(tmp_path, config, capsys, text, needle):
    src = tmp_path / "in.csv"
    src.write_text(text)
    assert main([str(src), "-c", str(config), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_missing_input_and_bad_config(tmp_path, config, capsys):
    assert main([str(tmp_path / "nope.csv"), "-c", str(config)]) == 2
    assert "cannot read" in capsys.readouterr().err
    src = recording(tmp_path / "in.csv", n=3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    pack:\n      cell_count: 4\n      chemistry: unobtainium\n")
    assert main([str(src), "-c", str(bad)]) == 2
    assert "pack.chemistry" in capsys.readouterr().err


def test_empty_fields_are_unknown_values(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("t,current,cell_voltage_1,cell_voltage_2,temperature_1\n0,-1,3.7,3.7,25\n1,,,,\n2,-1,3.7,,\n")
    samples = list(CsvSampleSource(src))
    assert [s.comm_ok for s in samples] == [True, False, True]
    assert np.isnan(samples[2].cell_voltages[1]) and np.isnan(samples[2].temperatures[0])
    assert samples[0].current == -1.0 and samples[0].pack_voltage == pytest.approx(7.4)


def test_output_to_stdout(tmp_path, config, capsys):
    src = recording(tmp_path / "in.csv", n=10)
    assert main([str(src), "-c", str(config), "-q"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 10


def test_reports_speed_and_progress(tmp_path, config, capsys):
    src = recording(tmp_path / "in.csv", n=50)
    assert main([str(src), "-c", str(config), "-o", str(tmp_path / "o.csv")]) == 0
    assert "samples/s" in capsys.readouterr().err


def test_source_rejects_non_string_reader_errors(tmp_path):
    with pytest.raises(ReplayError):
        CsvSampleSource(tmp_path / "missing.csv")


def test_an_initial_soc_from_the_command_line_starts_the_estimate_there(tmp_path, config, capsys):
    """ISSUE 13: a known start (a lab measurement, another tool's estimate) without writing a state file."""
    src = recording(tmp_path / "in.csv")  # the pack is at 70 %
    outs = {}
    for name, extra in {
        "flag": ["--initial-soc", "0.35"],
        "param": ["-p", "estimation.initial_soc=0.35"],
        "none": [],
    }.items():
        out = tmp_path / f"{name}.csv"
        assert main([str(src), "-c", str(config), "-o", str(out), "-q", *extra]) == 0
        outs[name] = float(read(out)[0]["soc"])
    assert outs["flag"] == pytest.approx(0.35, abs=0.01) and outs["param"] == outs["flag"]
    assert 0.6 < outs["none"] < 0.8
    assert main([str(src), "-c", str(config), "-o", "none", "-q", "--initial-soc", "1.5"]) == 2
    assert "estimation.initial_soc" in capsys.readouterr().err
    assert main([str(src), "-c", str(config), "-o", "none", "-q", "-p", "estimation.initial_soc"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
