"""``bench/bench_estimation_accuracy.py``: argument parsing and the run loop."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from bench.accuracy import levels, profiles, report, sensors, sim
from bench.accuracy.scoring import evaluate
from bench.accuracy.split import HeldOutError, select_cells

OVERRIDES: dict[str, object] = {}


def _seed(*parts: str) -> int:
    return int(hashlib.sha1("/".join(parts).encode()).hexdigest()[:8], 16)


def _value(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return {"true": True, "false": False}.get(text.lower(), text)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="SoC accuracy against PyBaMM ground truth (see bench/accuracy/)")
    ap.add_argument("--cells", default="", help="comma-separated cells (default: every cell of the pool)")
    ap.add_argument(
        "--cases", default="", help=f"comma-separated cases (default: all of {[c.name for c in profiles.CASES]})"
    )
    ap.add_argument("--level", default="L0,L1,L2", help="comma-separated levels: L0, L1, L2 (default all)")
    pool = ap.add_mutually_exclusive_group()
    pool.add_argument("--training", action="store_true", help="training cells (the default): where settings are chosen")
    pool.add_argument("--held-out", action="store_true", help="score the held-out cells (no --param: never tune here)")
    ap.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a setting to try (training only)"
    )
    ap.add_argument("--refresh", action="store_true", help="regenerate PyBaMM traces (ignore the cache)")
    ap.add_argument(
        "--simulate-only", action="store_true", help="only build the PyBaMM traces into the cache (no scoring)"
    )
    ap.add_argument(
        "--tables-from", nargs="+", default=[], metavar="JSON", help="print the tables of saved results (no run)"
    )
    ap.add_argument("--out", default="", help="result name in bench/results/ (default accuracy_<pool>)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.tables_from:
        rows = [r for f in args.tables_from for r in json.loads(Path(f).read_text())["rows"]]
        cells = list(dict.fromkeys(r["cell"] for r in rows))
        rows.sort(key=lambda r: (cells.index(r["cell"]), r["level"]))  # stable: the cases keep their order
        print(report.markdown(rows, ", ".join(sorted({r["level"] for r in rows}))))
        return 0
    if args.held_out and args.param:
        print("--param is for the training cells only: settings are never chosen on held-out cells", file=sys.stderr)
        return 2
    try:
        cells = select_cells([n for n in args.cells.split(",") if n], held_out=args.held_out)
    except (HeldOutError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    wanted = [n for n in args.cases.split(",") if n]
    cases = [c for c in profiles.CASES if not wanted or c.name in wanted]
    lv = [x for x in args.level.split(",") if x]
    if unknown := set(lv) - set(levels.LEVELS) or set(wanted) - {c.name for c in profiles.CASES}:
        print(f"unknown level or case: {sorted(unknown)}", file=sys.stderr)
        return 2
    for item in args.param:
        name, _, value = item.partition("=")
        OVERRIDES[name] = _value(value)
    try:
        sim.pybamm()
    except ImportError as e:
        print(f"PyBaMM is not installed ({e}); install requirements/bench.txt", file=sys.stderr)
        return 2
    if args.refresh:
        for f in sim.RESULTS.glob("trace_*.npz"):
            f.unlink()
    if args.simulate_only:
        simulate(cells, cases)
        return 0
    pool = "held_out" if args.held_out else "training"
    name = args.out or f"accuracy_{pool}"
    sim.RESULTS.mkdir(parents=True, exist_ok=True)
    out = sim.RESULTS / f"{name}.json"
    rows = run(
        cells, cases, lv, lambda rows: out.write_text(json.dumps({"overrides": OVERRIDES, "rows": rows}, indent=1))
    )
    md = report.markdown(rows, f"{pool} cells, levels {', '.join(lv)}")
    (sim.RESULTS / f"{name}.md").write_text(md)
    print(md)
    return 0


def run(cells, cases, lv, save=lambda rows: None) -> list[dict]:
    """Score every cell at every level; ``save(rows)`` after each (cell, level), so a stopped run keeps them."""
    rows: list[dict] = []
    for cell in cells:
        cap = sim.true_capacity(cell)
        for level in lv:
            t0 = time.perf_counter()
            values = {**levels.configure(cell, level, _seed(cell.name, "robot")), **OVERRIDES}
            for c in cases:
                tr = profiles.case_trace(cell, c, cap)
                meas = sensors.corrupt(tr, _seed(cell.name, c.kind, str(c.soc0), str(c.ambient_c)))
                r = evaluate(c, values, tr, meas, cap)
                rows.append({"cell": cell.name, "chemistry": cell.chemistry, "level": level, **r})
            save(rows)
            print(f"  {cell.name} {level}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return rows


def simulate(cells, cases) -> None:
    """The ground truth only (PyBaMM traces, cached): nothing is scored or identified."""
    for cell in cells:
        t0 = time.perf_counter()
        cap = sim.true_capacity(cell)
        profiles.robot_recording(cell, cap)
        for c in cases:
            profiles.case_trace(cell, c, cap)
        print(f"  {cell.name}: traces ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
