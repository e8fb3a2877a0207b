"""rosbag2 record and replay: a recorded run replays to the same decisions; bad bags fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from bms_ros.core.faults import Fault
from bms_ros.tools.bags import BagError, read_samples, write_bag
from bms_ros.tools.regression import read_run
from bms_ros.tools.replay import main

from recorded_run import simulate, write_config

pytest.importorskip("rosbags")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    records = simulate()
    d = tmp_path_factory.mktemp("bags")
    for storage in ("mcap", "sqlite3"):
        write_bag(d / storage, records, storage=storage)
    return records, d


def test_the_recorded_run_has_decisions_worth_comparing(recorded):
    records, _ = recorded
    outs = [o for _, o in records]
    assert any(o.faults_active & Fault.AFE_COMM_LOSS for o in outs)
    assert any(o.faults_active & Fault.CELL_OVERVOLTAGE for o in outs)
    assert len({(o.charge_fet, o.discharge_fet) for o in outs}) >= 2


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_samples_round_trip_bit_exact(recorded, storage):
    records, d = recorded
    back = list(read_samples(d / storage))
    assert len(back) == len(records)
    for (orig, _), got in zip(records, back):
        assert got.stamp == orig.stamp and got.comm_ok == orig.comm_ok
        np.testing.assert_array_equal(got.cell_voltages, orig.cell_voltages)
        assert (np.isnan(got.current) and np.isnan(orig.current)) or got.current == orig.current


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_offline_replay_of_a_bag_reproduces_the_live_decisions(recorded, storage, tmp_path):
    records, d = recorded
    cfg = write_config(tmp_path / "p.yaml")
    out = tmp_path / "out.csv"
    assert main([str(d / storage), "-c", str(cfg), "-o", str(out), "-q"]) == 0
    rows = read_run(out)
    assert len(rows) == len(records)
    for (_, live), row in zip(records, rows):
        assert int(row["charge_allowed"]) == live.charge_fet
        assert int(row["discharge_allowed"]) == live.discharge_fet
        assert int(row["faults"]) == live.faults_active | live.faults_latched
        assert float(row["soc"]) == pytest.approx(live.estimate.soc, abs=1e-8)


def test_replay_writes_a_bag_that_replays_identically(recorded, tmp_path):
    _, d = recorded
    cfg = write_config(tmp_path / "p.yaml")
    assert (
        main(
            [
                str(d / "mcap"),
                "-c",
                str(cfg),
                "-o",
                str(tmp_path / "a.csv"),
                "--output-bag",
                str(tmp_path / "replayed"),
                "-q",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                str(tmp_path / "replayed"),
                "-c",
                str(cfg),
                "-o",
                str(tmp_path / "b.csv"),
                "-q",
                "--baseline",
                str(tmp_path / "a.csv"),
            ]
        )
        == 0
    )


def test_regression_mode_fails_with_a_readable_diff(recorded, tmp_path, capsys):
    _, d = recorded
    cfg = write_config(tmp_path / "p.yaml")
    assert main([str(d / "mcap"), "-c", str(cfg), "-o", str(tmp_path / "base.csv"), "-q"]) == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        cfg.read_text().replace(
            "ros__parameters:", "ros__parameters:\n    protection: {cell_overvoltage: {threshold: 4.3, release: 4.2}}"
        )
    )
    capsys.readouterr()
    assert main([str(d / "mcap"), "-c", str(changed), "-q", "--baseline", str(tmp_path / "base.csv")]) == 1
    err = capsys.readouterr().err
    assert "difference(s)" in err and "faults" in err and "CELL_OVERVOLTAGE" in err


def test_report_plots_the_run(recorded, tmp_path):
    _, d = recorded
    cfg = write_config(tmp_path / "p.yaml")
    report = tmp_path / "r.html"
    assert main([str(d / "mcap"), "-c", str(cfg), "-o", "none", "--report", str(report), "-q"]) == 0
    text = report.read_text()
    for title in ("Cell voltages", "Current", "Temperatures", "State of charge", "FETs", "Faults", "balancing"):
        assert title in text
    assert text.count("<svg") == 8 and "CELL_OVERVOLTAGE" in text and "AFE_COMM_LOSS" in text


def test_truncated_bag_is_a_clear_error(recorded, tmp_path, capsys):
    _, d = recorded
    src = next((d / "mcap").glob("*.mcap"))
    bad = tmp_path / "trunc"
    bad.mkdir()
    (bad / "metadata.yaml").write_text((d / "mcap" / "metadata.yaml").read_text())
    data = src.read_bytes()
    (bad / src.name).write_bytes(data[: len(data) // 2])
    cfg = write_config(tmp_path / "p.yaml")
    assert main([str(bad), "-c", str(cfg), "-o", "none", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trunc" in err[0] and ("truncated" in err[0] or "not a readable" in err[0]), err


def test_garbage_is_not_a_bag(tmp_path):
    bad = tmp_path / "garbage"
    bad.mkdir()
    (bad / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9, storage_identifier: mcap\n")
    with pytest.raises(BagError, match="not a readable rosbag2 bag"):
        list(read_samples(bad))


def test_unknown_message_types_are_named(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    String = store.types["std_msgs/msg/String"]
    path = tmp_path / "chatter"
    with Writer(path, version=9) as w:
        c = w.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        w.write(c, 1, store.serialize_cdr(String(data="hi"), "std_msgs/msg/String"))
    with pytest.raises(BagError, match=r"no bms_ros/msg/AfeSample messages; topics: /chatter \[std_msgs/msg/String\]"):
        list(read_samples(path))
    with pytest.raises(BagError, match="has type std_msgs/msg/String, expected bms_ros/msg/AfeSample"):
        list(read_samples(path, topic="/chatter"))
