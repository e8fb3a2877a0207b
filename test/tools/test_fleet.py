"""Fleet replay (bms_ros.tools.fleet, ``bms-replay`` with several bags): state carried across a robot's bags as
the node carries it across a restart, the same bytes sequentially, in a process pool and on a local Ray
instance, and a summary that sees a changed configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from drive_streams import drive_rest_charge

from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.persistence import StateStore
from bms_ros.tools.bags import write_bag
from bms_ros.tools.fleet import RobotJob, run_fleet, summary_csv
from bms_ros.tools.replay import CsvOutputSink, main, open_source

CELLS = 6
PACK = {"cell_count": CELLS, "chemistry": "nmc", "design_capacity_ah": 10.0}


def params(path: Path, **protection) -> str:
    p: dict = {"pack": PACK}
    if protection:
        p["protection"] = protection
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": p}}))
    return str(path)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("fleet")
    bags = {}
    for name, seed, t0 in (("a1", 1, 0.0), ("a2", 2, 4000.0), ("b1", 3, 0.0), ("c1", 4, 0.0)):
        samples = drive_rest_charge("nmc", CELLS, drive_s=150, rest_s=30, charge_s=120, seed=seed)
        samples = [s.__class__(**{**s.__dict__, "stamp": s.stamp + t0}) for s in samples]
        bag = d / "bags" / name
        bag.parent.mkdir(exist_ok=True)
        write_bag(bag, ((s, None) for s in samples))
        bags[name] = str(bag)
    robots = {"robot_a": [bags["a1"], bags["a2"]], "robot_b": [bags["b1"]], "robot_c": [bags["c1"]]}
    return {"dir": d, "bags": bags, "robots": robots, "config": params(d / "p.yaml")}


def jobs(f: dict, out: Path, baseline: str | None = None) -> list[RobotJob]:
    return [RobotJob(r, tuple(b), f["config"], baseline, str(out)) for r, b in f["robots"].items()]


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.csv"))}


def test_a_robots_second_bag_continues_from_the_state_the_node_would_have_saved(fleet, tmp_path) -> None:
    rows = run_fleet(jobs(fleet, tmp_path / "out"), workers=1)
    assert [r["robot"] for r in rows] == ["robot_a", "robot_b", "robot_c"]
    # the node's path: the state file written at shutdown of the first run is read at the start of the next
    cfg = load_config({f"pack.{k}": v for k, v in PACK.items()})
    store_path = tmp_path / "state.json"
    for k, bag in enumerate(fleet["robots"]["robot_a"]):
        bms = Bms(cfg, StateStore(store_path))
        with open(tmp_path / f"node_{k}.csv", "w", newline="") as f:
            sink = CsvOutputSink(f)
            for s in open_source(bag):
                sink.write(s, bms.step(s))
        bms.shutdown()
    got = (tmp_path / "out" / "robot_a" / "001_a2.csv").read_bytes()
    assert got == (tmp_path / "node_1.csv").read_bytes()
    # and the carried state matters: a fresh start on the second bag gives other estimates
    run_fleet([RobotJob("x", (fleet["bags"]["a2"],), fleet["config"], None, str(tmp_path / "fresh"))])
    assert (tmp_path / "fresh" / "x" / "000_a2.csv").read_bytes() != got
    assert rows[0]["samples"] == 2 * rows[1]["samples"] and rows[0]["bags"] == 2


def test_process_pool_writes_the_same_bytes_as_one_process(fleet, tmp_path) -> None:
    one = summary_csv(run_fleet(jobs(fleet, tmp_path / "one"), workers=1))
    two = summary_csv(run_fleet(jobs(fleet, tmp_path / "two"), workers=2))
    assert one == two
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two") and len(outputs(tmp_path / "one")) == 4


@pytest.mark.slow
def test_ray_local_instance_writes_the_same_bytes_as_the_process_pool(fleet, tmp_path) -> None:
    pytest.importorskip("ray")
    pool = summary_csv(run_fleet(jobs(fleet, tmp_path / "pool"), workers=2))
    ray_rows = summary_csv(run_fleet(jobs(fleet, tmp_path / "ray"), backend="ray"))
    assert ray_rows == pool
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "pool")


def test_summary_shows_what_a_changed_configuration_decides_otherwise(fleet, tmp_path) -> None:
    same = run_fleet(jobs(fleet, tmp_path / "s", baseline=fleet["config"]))
    assert all(r["charge_decisions_changed"] == 0 == r["discharge_decisions_changed"] for r in same)
    # a baseline whose sustained over-current trips in the drive's 2C blocks (the present config lets them pass)
    strict = params(tmp_path / "strict.yaml", discharge_overcurrent_sustained={"threshold": 12.0, "release": 9.0})
    rows = run_fleet(jobs(fleet, tmp_path / "d", baseline=strict))
    assert any(r["discharge_decisions_changed"] > 0 for r in rows)
    assert any("DISCHARGE_OVERCURRENT_SUSTAINED" in r["faults_only_baseline"] for r in rows)


def test_cli_fleet_from_a_folder_of_bags(fleet, tmp_path) -> None:
    summary, report = tmp_path / "fleet.csv", tmp_path / "fleet.html"
    rc = main(
        [
            str(fleet["dir"] / "bags"),
            "-c",
            fleet["config"],
            "--workers",
            "1",
            "--summary",
            str(summary),
            "--fleet-report",
            str(report),
            "-q",
        ]
    )
    assert rc == 0
    lines = summary.read_text().splitlines()
    assert lines[0].startswith("robot,bags,samples") and [ln.split(",")[0] for ln in lines[1:]] == [
        "a1",
        "a2",
        "b1",
        "c1",
    ]
    assert "<table>" in report.read_text() and "a2" in report.read_text()
    robots = tmp_path / "robots.yaml"
    robots.write_text(yaml.safe_dump({"robots": {"r": [fleet["bags"]["a1"], fleet["bags"]["a2"]]}}))
    assert main(["--robots", str(robots), "-c", fleet["config"], "--summary", str(summary), "-q"]) == 0
    assert summary.read_text().splitlines()[1].startswith("r,2,")
