#!/usr/bin/env python3
"""Fleet replay throughput: 32 bags of 16S through bms-replay's fleet mode, 1 and 2 workers, and Ray.

    ./dev py bench/bench_fleet.py [--bags 32] [--samples 2000] [--repeat 2] [--no-ray] [--compare /work/main]

Workload: bench/workloads.py, a different seed per bag (10 Hz drive with noise, charge, sensor faults), written
as mcap bags; one robot per bag. Each repetition runs the process pool with 1 and with 2 workers and then Ray
(a local instance, 2 CPUs, when installed), in turn, so a burst of other load hits them alike; the aggregate
rate is the median over repetitions (samples / wall time, including the workers' start). The per-robot CSVs of
the pool and of Ray are compared byte for byte. Samples per CPU-second (this process plus the pool's workers;
not for Ray, whose workers are not our children) show whether a slower wall-clock scaling is the machine's load
or the code: equal rates per CPU-second mean the workers did not get in each other's way. With ``--compare``, the
other checkout's fleet replay (pool, 1 worker) runs in a child interpreter in the same rotation, on the same bags.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workloads  # puts this checkout first on sys.path

from bms_ros.tools.bags import write_bag
from bms_ros.tools.fleet import RobotJob, run_fleet, summary_csv


def _cpu() -> float:
    """CPU seconds of this process and of its terminated children (the pool's workers, once shut down)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def same_tree(a: Path, b: Path) -> bool:
    fa = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    fb = sorted(p.relative_to(b) for p in b.rglob("*.csv"))
    return fa == fb and all(filecmp.cmp(a / p, b / p, shallow=False) for p in fa)


_OTHER = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from bms_ros.tools.fleet import RobotJob, run_fleet
jobs = [RobotJob(j[0], tuple(j[1]), *j[2:]) for j in json.loads(sys.argv[2])]
t0 = time.perf_counter()
run_fleet(jobs, 1, "process")
dt = time.perf_counter() - t0
a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([dt, a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime]))
"""


def other_checkout(root: Path, jobs: list[RobotJob]) -> tuple[float, float]:
    """(wall s, CPU s) of ``root``'s fleet replay of ``jobs``, pool with 1 worker, in a child interpreter (its CPU
    includes the interpreter's start)."""
    args = json.dumps([[j.robot, list(j.bags), j.config, None, j.out_dir] for j in jobs])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [sys.executable, "-c", _OTHER, str(root), args], capture_output=True, text=True, env=env, cwd=root
    )
    if r.returncode != 0:
        raise RuntimeError(f"{root}: {r.stderr[-500:]}")
    wall, cpu = json.loads(r.stdout.strip().splitlines()[-1])
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--bags", type=int, default=32)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--compare", type=Path, help="another checkout (e.g. main): its pool with 1 worker, same bags")
    a = ap.parse_args(argv)
    try:
        import ray

        use_ray = not a.no_ray
    except ImportError:
        use_ray = False
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        cfg = root / "p.yaml"
        cfg.write_text(
            f"/**:\n  ros__parameters:\n    pack:\n      cell_count: {a.cells}\n"
            f"      design_capacity_ah: {workloads.CAP_AH}\n"
        )
        t0 = time.perf_counter()
        for k in range(a.bags):
            write_bag(
                root / "bags" / f"robot{k:02d}",
                ((s, None) for s in workloads.drive_samples(a.cells, a.samples, seed=100 + k)),
            )
        print(f"{a.bags} bags of {a.cells}S x {a.samples} samples written in {time.perf_counter() - t0:.0f} s")
        total = a.bags * a.samples
        runs: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        summaries: dict[str, str] = {}
        modes = [("pool, 1 worker", "process", 1), ("pool, 2 workers", "process", 2)]
        if use_ray:
            modes.append(("ray, local, 2 CPUs", "ray", 2))
        if a.compare is not None:
            modes.append((f"{a.compare}, pool, 1", "other", 1))
        for rep in range(a.repeat):
            for name, backend, workers in modes:
                out = root / f"out_{backend}_{workers}_{rep}"
                jobs = [
                    RobotJob(p.name, (str(p),), str(cfg), None, str(out)) for p in sorted((root / "bags").iterdir())
                ]
                if backend == "other":
                    wall, cpu_s = other_checkout(a.compare, jobs)
                    runs.setdefault(name, []).append(wall)
                    cpu.setdefault(name, []).append(cpu_s)
                    continue
                if backend == "ray" and rep == 0:
                    import ray

                    os.environ.setdefault("RAY_worker_niceness", "0")  # as the pool's workers (Ray: nice 15)
                    ray.init(
                        num_cpus=workers,
                        include_dashboard=False,
                        log_to_driver=False,
                        runtime_env={
                            "env_vars": {
                                "PYTHONPATH": str(workloads.ROOT),
                                "OPENBLAS_NUM_THREADS": "1",
                                "OMP_NUM_THREADS": "1",
                            }
                        },
                    )
                t0, c0 = time.perf_counter(), _cpu()
                rows = run_fleet(jobs, workers, backend)
                runs.setdefault(name, []).append(time.perf_counter() - t0)
                cpu.setdefault(name, []).append(_cpu() - c0)  # this process and its reaped pool workers
                summaries[name] = summary_csv(rows)
        print(f"aggregate samples/s, median of {a.repeat} interleaved runs ({total} samples per run)")
        rate = {k: total / statistics.median(v) for k, v in runs.items()}
        for k, r in rate.items():
            per_cpu = f"{total / statistics.median(cpu[k]):>10.0f}" if not k.startswith("ray") else f"{'n/a':>10}"
            print(f"  {k:<22}{r:>10.0f}   per CPU-second: {per_cpu}")
        print(f"2 workers / 1 worker: {rate['pool, 2 workers'] / rate['pool, 1 worker']:.2f}")
        if a.compare is not None:
            other = f"{a.compare}, pool, 1"
            print(
                f"this / {a.compare}, pool with 1 worker: {rate['pool, 1 worker'] / rate[other]:.2f} (wall), "
                f"{statistics.median(cpu[other]) / statistics.median(cpu['pool, 1 worker']):.2f} (per CPU-second)"
            )
        if use_ray:
            same = same_tree(root / f"out_process_2_{a.repeat - 1}", root / f"out_ray_2_{a.repeat - 1}")
            print(
                f"ray vs pool: per-robot CSVs byte-identical: {same}; summary identical: "
                f"{summaries['ray, local, 2 CPUs'] == summaries['pool, 2 workers']}"
            )
            import ray

            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
