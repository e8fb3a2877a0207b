"""Fleet replay: many robots' recordings through the BMS core, in parallel, with a fleet summary.

    bms-replay fleet/ -c params.yaml --out-dir out/ --summary fleet.csv --fleet-report fleet.html
    bms-replay --robots robots.yaml -c params.yaml --baseline-config old.yaml --workers 2
    bms-replay 'bags/robot*' -c params.yaml --backend ray --summary fleet.csv      # pip install bms_ros[ray]

A robot is one task: its bags run in the order given, each through a fresh ``Bms`` that restores the state
the previous bag left, as the node does across a restart (estimator state, latched faults, fault log,
balancing times; kept in memory through the same JSON round trip as the state file). Robots run in parallel: a
process pool on this machine, or Ray tasks (one per robot, ``num_cpus=1``) on a cluster. Every worker runs
BLAS with one thread. A robot's outputs depend on its bags and the configuration only, so the process pool and
Ray write the same bytes.

Summary per robot: faults seen; with ``--baseline-config``, the samples whose charge / discharge FET decision
or fault set differ under the baseline configuration and the faults only one of them raised; SoC drift (how far
the voltage corrections moved the pack SoC beyond coulomb counting, over the whole run); capacity and
resistance at the first and last sample (their trend).
"""

from __future__ import annotations

import glob
import html
import io
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bms_ros.blas_threads import THREAD_VARS, pin_blas_threads
from bms_ros.core import MemoryStore

_MAX_STEP_S = 10.0  # longer intervals between samples are not counted in the SoC drift (a gap, not a step)
SUMMARY_COLUMNS = (
    "robot",
    "bags",
    "samples",
    "hours",
    "faults_seen",
    "faults_only_now",
    "faults_only_baseline",
    "charge_decisions_changed",
    "discharge_decisions_changed",
    "fault_sets_changed",
    "soc_drift",
    "capacity_first_ah",
    "capacity_last_ah",
    "resistance_first_ohm",
    "resistance_last_ohm",
)


class FleetError(ValueError):
    """Bad fleet input (robots file, no bags found): one line, exit code 2."""


@dataclass(frozen=True)
class RobotJob:
    robot: str
    bags: tuple[str, ...]
    config: str
    baseline_config: str | None = None
    out_dir: str | None = None
    topic: str | None = None
    node_name: str = "bms_node"


# --- inputs ----------------------------------------------------------------------------------------------
def _is_bag(p: Path) -> bool:
    return (p.is_dir() and (p / "metadata.yaml").exists()) or p.suffix in (".mcap", ".db3", ".csv")


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Paths, globs and folders of bags to a sorted list of recordings (bags or CSV files)."""
    out: list[str] = []
    for item in inputs:
        matches = sorted(glob.glob(item)) if any(c in item for c in "*?[") else [item]
        for m in matches:
            p = Path(m)
            if p.is_dir() and not _is_bag(p) and not any(p.glob("*.mcap")) and not any(p.glob("*.db3")):
                out.extend(str(c) for c in sorted(p.iterdir()) if _is_bag(c))
            else:
                out.append(m)
    if not out:
        raise FleetError(f"no recordings found in {' '.join(inputs)}")
    return out


def read_robots(path: str) -> dict[str, list[str]]:
    """A robots file: YAML mapping robot name -> its bags in time order (paths relative to the file)."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise FleetError(f"{path}: cannot read the robots file: {e}") from None
    doc = doc.get("robots", doc) if isinstance(doc, dict) else doc
    if (
        not isinstance(doc, dict)
        or not doc
        or not all(isinstance(v, list) and v and all(isinstance(b, str) for b in v) for v in doc.values())
    ):
        raise FleetError(f"{path}: expected a mapping robot -> list of bags, in time order")
    base = Path(path).resolve().parent
    return {str(k): [str(base / b) for b in v] for k, v in doc.items()}


def robot_name(recording: str) -> str:
    p = Path(recording)
    return p.parent.name if p.suffix in (".mcap", ".db3") else (p.stem if p.suffix == ".csv" else p.name)


# --- one robot (runs in a worker) ------------------------------------------------------------------------
class _Stats:
    def __init__(self) -> None:
        self.samples = 0
        self.seconds = 0.0
        self.faults = 0
        self.faults_base = 0
        self.changed = [0, 0, 0]  # charge decision, discharge decision, fault set
        self.drift = 0.0
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] = (math.nan, math.nan)
        self._prev: tuple[float, float, float] | None = None

    def add(self, sample: Any, out: Any, base: Any) -> None:
        self.samples += 1
        faults = int(out.faults_active) | int(out.faults_latched)
        self.faults |= faults
        if base is not None:
            bf = int(base.faults_active) | int(base.faults_latched)
            self.faults_base |= bf
            self.changed[0] += out.charge_fet != base.charge_fet
            self.changed[1] += out.discharge_fet != base.discharge_fet
            self.changed[2] += faults != bf
        e = out.estimate
        if math.isfinite(e.capacity_ah) and math.isfinite(e.resistance_ohm) and e.resistance_ohm > 0:
            if self.first is None:
                self.first = (e.capacity_ah, e.resistance_ohm)
            self.last = (e.capacity_ah, e.resistance_ohm)
        if not (math.isfinite(e.soc) and math.isfinite(sample.current)):
            return
        prev = self._prev
        if prev is not None:
            dt = out.stamp - prev[0]
            if 0.0 < dt <= _MAX_STEP_S:
                self.seconds += dt
                coulomb = 0.5 * (prev[2] + sample.current) * dt / (3600.0 * e.capacity_ah)
                self.drift += (e.soc - prev[1]) - coulomb
        self._prev = (out.stamp, e.soc, sample.current)

    def end_bag(self) -> None:
        self._prev = None


def replay_robot(job: RobotJob) -> dict[str, Any]:
    """Run one robot's bags in order (state carried as across a node restart); its summary row."""
    pin_blas_threads()
    from bms_ros.core import Bms, fault_names
    from bms_ros.tools.replay import CsvOutputSink, ReplayError, load_replay_config, open_source

    cfg = load_replay_config(job.config, job.node_name)
    base_cfg = load_replay_config(job.baseline_config, job.node_name) if job.baseline_config else None
    store, base_store = MemoryStore(), MemoryStore()
    stats = _Stats()
    for k, bag in enumerate(job.bags):
        source = open_source(bag, job.topic)
        if source.cell_count != cfg.pack.cell_count:
            raise ReplayError(
                f"{bag} has {source.cell_count} cells but {job.config} sets pack.cell_count = {cfg.pack.cell_count}"
            )
        bms = Bms(cfg, store)
        base = Bms(base_cfg, base_store) if base_cfg is not None else None
        sink = None
        if job.out_dir is not None:
            d = Path(job.out_dir) / job.robot
            d.mkdir(parents=True, exist_ok=True)
            f = open(d / f"{k:03d}_{Path(bag).stem}.csv", "w", newline="")
            sink = CsvOutputSink(f)
        try:
            for sample in source:
                out = bms.step(sample)
                bms.persist()
                base_out = base.step(sample) if base is not None else None
                if base is not None:
                    base.persist()
                stats.add(sample, out, base_out)
                if sink is not None:
                    sink.write(sample, out)
        finally:
            if sink is not None:
                f.close()
        bms.shutdown()
        if base is not None:
            base.shutdown()
        stats.end_bag()
    first = stats.first or (math.nan, math.nan)
    return {
        "robot": job.robot,
        "bags": len(job.bags),
        "samples": stats.samples,
        "hours": stats.seconds / 3600.0,
        "faults_seen": "|".join(fault_names(stats.faults)),
        "faults_only_now": "|".join(fault_names(stats.faults & ~stats.faults_base)) if base_cfg else "",
        "faults_only_baseline": "|".join(fault_names(stats.faults_base & ~stats.faults)) if base_cfg else "",
        "charge_decisions_changed": stats.changed[0] if base_cfg else "",
        "discharge_decisions_changed": stats.changed[1] if base_cfg else "",
        "fault_sets_changed": stats.changed[2] if base_cfg else "",
        "soc_drift": stats.drift,
        "capacity_first_ah": first[0],
        "capacity_last_ah": stats.last[0],
        "resistance_first_ohm": first[1],
        "resistance_last_ohm": stats.last[1],
    }


# --- the fleet -------------------------------------------------------------------------------------------
def _size(job: RobotJob) -> int:
    total = 0
    for b in job.bags:
        p = Path(b)
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total


def run_fleet(
    jobs: Sequence[RobotJob], workers: int = 1, backend: str = "process", ray_address: str | None = None
) -> list[dict[str, Any]]:
    """Every robot's summary row, sorted by robot; the biggest robots start first (the pool ends sooner)."""
    order = sorted(jobs, key=_size, reverse=True)
    if backend == "ray":
        rows = _run_ray(order, ray_address)
    elif workers <= 1 or len(order) <= 1:
        rows = [replay_robot(j) for j in order]
    else:
        with ProcessPoolExecutor(
            min(workers, len(order)), mp_context=get_context("spawn"), initializer=pin_blas_threads
        ) as pool:
            rows = list(pool.map(replay_robot, order))
    return sorted(rows, key=lambda r: r["robot"])


def _run_ray(jobs: Sequence[RobotJob], address: str | None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise FleetError("--backend ray needs Ray: pip install 'bms_ros[ray]' (or -r requirements/ray.txt)") from None
    env = {v: "1" for v in THREAD_VARS}
    if address is None:  # a local instance: its workers import this same checkout of bms_ros
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        # Ray starts its workers at nice 15; on a busy machine that made them 4x slower than the process pool
        os.environ.setdefault("RAY_worker_niceness", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        task = ray.remote(num_cpus=1)(replay_robot)
        return list(ray.get([task.remote(j) for j in jobs]))
    finally:
        if started:
            ray.shutdown()


def _fmt(v: Any) -> str:
    return f"{v:.9g}" if isinstance(v, float) else str(v)


def summary_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    buf.write(",".join(SUMMARY_COLUMNS) + "\n")
    for r in rows:
        buf.write(",".join(_fmt(r[c]) for c in SUMMARY_COLUMNS) + "\n")
    return buf.getvalue()


def summary_html(rows: Sequence[dict[str, Any]], title: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in SUMMARY_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in SUMMARY_COLUMNS) + "</tr>\n" for r in rows
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(rows)} robots, {sum(r['samples'] for r in rows)} samples. "
        "SoC drift: the voltage corrections beyond coulomb counting, summed over the run. Decisions changed: "
        "samples where the baseline configuration decides otherwise.</p>"
        f"<table><tr>{head}</tr>\n{body}</table></body></html>\n"
    )
