"""bms-replay: run the BMS core (the node's exact code path, ``bms_ros.core.bms.Bms.step``) on recorded samples.

    bms-replay recording.csv --config params.yaml -o out.csv

Input CSV: ``t,current,cell_voltage_1..cell_voltage_N,temperature_1..temperature_M`` (t in s, current in A,
> 0 while charging, volts, degC; an empty field is an unknown value). The config is the node's ROS 2 parameter
file; its ``pack.cell_count`` must match the CSV's cell columns.

Output CSV: one row per input row, ``t,soc,soc_std,soh,capacity_ah,resistance_ohm,time_to_empty_s,
time_to_full_s,charge_ah,energy_wh,cycle_count,current_offset_a,state,faults,fault_names,charge_allowed,
discharge_allowed,balancing``.

Input is read as columns (``bms_ros.tools.columns``: a bag's AfeSample messages as a numpy view over their CDR
payloads, a CSV a block of rows at a time by numpy) and handed to the core one PackSample per row, as the node does.

Structure (so other inputs and outputs plug in): a *source* yields PackSample (``CsvSampleSource``), ``run()``
drives one Bms over it, *sinks* receive every (sample, BmsOutput) pair (``CsvOutputSink``); the CSV ones live in
``bms_ros.tools.replay_io``. Deterministic: same input and config, same bytes out. Exit codes: 0 ok, 2 bad input
or config (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

from bms_ros.core import BmsOutput, PackSample
from bms_ros.tools.replay_io import (
    OUTPUT_COLUMNS,
    CsvOutputSink,
    CsvSampleSource,
    OutputSink,
    ReplayError,
    SampleSource,
)

PROG = "bms-replay"

__all__ = [
    "OUTPUT_COLUMNS",
    "PROG",
    "CsvOutputSink",
    "CsvSampleSource",
    "OutputSink",
    "ReplayError",
    "SampleSource",
    "load_replay_config",
    "main",
    "open_source",
    "run",
]


# --- the run loop ----------------------------------------------------------------------------------------
def run(
    samples: Iterable[PackSample],
    step: Callable[[PackSample], BmsOutput],
    sinks: Sequence[OutputSink],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Feed every sample to ``step`` (a Bms.step) and every result to the sinks; returns the sample count."""
    n = 0
    for sample in samples:
        out = step(sample)
        for s in sinks:
            s.write(sample, out)
        n += 1
        if progress is not None and n % 10000 == 0:
            progress(n)
    return n


def load_replay_config(path: str | Path, node_name: str = "bms_node", overrides: list[str] | None = None):
    """The node's parameters from its file, then ``NAME=VALUE`` overrides (YAML values, as ``ros2 run -p``)."""
    import yaml

    from bms_ros.config import load_config, read_params_file
    from bms_ros.core import ConfigError

    try:
        values = read_params_file(path, node_name)
        for item in overrides or []:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise ReplayError(f"--param {item!r}: expected NAME=VALUE")
            try:
                values[name.strip()] = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ReplayError(f"--param {item!r}: the value is not YAML") from None
        return load_config(values)
    except ConfigError as e:  # errors in the file's form already name it
        raise ReplayError(str(e) if str(e).startswith(f"{path}:") else f"{path}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="Run the BMS core on recorded samples (CSV or rosbag2).")
    ap.add_argument(
        "input",
        nargs="*",
        help="recorded samples: CSV (t,current,cell_voltage_1..N,temperature_1..M) "
        "or a rosbag2 bag (folder, .mcap or .db3) with bms_ros/msg/AfeSample "
        "messages; several, a glob or a folder of bags: fleet replay",
    )
    ap.add_argument("-c", "--config", required=True, help="the node's ROS 2 parameter file (YAML)")
    ap.add_argument("-o", "--output", default="-", help="output CSV (default: stdout; 'none' for no CSV)")
    ap.add_argument("--topic", help="AfeSample topic in the bag (default: the only one)")
    ap.add_argument("--output-bag", help="also write samples and decisions (BmsStatus) as a bag to this folder")
    ap.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="storage of --output-bag")
    ap.add_argument(
        "--report",
        help="write an HTML report (voltages, current, temperatures, SoC band, faults, FETs, balancing) to this file",
    )
    ap.add_argument(
        "--baseline",
        help="regression mode: compare this run with an earlier output CSV; exit 1 "
        "with a readable diff if SoC, faults or FET decisions differ",
    )
    ap.add_argument("--soc-tolerance", type=float, default=0.005, help="regression: allowed |SoC difference|")
    ap.add_argument("--node-name", default="bms_node", help="node section to read from the config file")
    ap.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter of the file (repeatable), e.g. -p estimation.initial_soc=0.6",
    )
    ap.add_argument("--initial-soc", type=float, help="start from this SoC (short for -p estimation.initial_soc=X)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    fleet = ap.add_argument_group("fleet replay (bms_ros.tools.fleet)")
    fleet.add_argument("--robots", help="YAML: robot name -> its bags in time order (state carries between them)")
    fleet.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel robots (process pool)")
    fleet.add_argument("--backend", choices=("process", "ray"), default="process", help="process pool or Ray")
    fleet.add_argument("--ray-address", help="Ray cluster address (default: a local instance)")
    fleet.add_argument("--out-dir", help="per-robot output CSVs, one per bag")
    fleet.add_argument("--summary", help="fleet summary CSV (default: stdout)")
    fleet.add_argument("--fleet-report", help="fleet summary as an HTML table")
    fleet.add_argument("--baseline-config", help="compare FET decisions and faults with this parameter file")
    args = ap.parse_args(argv)
    try:
        if args.robots or len(args.input) > 1 or _is_fleet(args.input):
            return _fleet_main(args)
        if not args.input:
            ap.error("an input (or --robots) is required")
        args.input = args.input[0]
        return _main(args)
    except ReplayError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def _is_fleet(inputs: list[str]) -> bool:
    if len(inputs) != 1:
        return False
    p = Path(inputs[0])
    if any(c in inputs[0] for c in "*?["):
        return True
    return p.is_dir() and not (p / "metadata.yaml").exists() and not any(p.glob("*.mcap")) and not any(p.glob("*.db3"))


def _fleet_main(args: argparse.Namespace) -> int:
    from bms_ros.tools import fleet

    try:
        robots = (
            fleet.read_robots(args.robots)
            if args.robots
            else {fleet.robot_name(b): [b] for b in fleet.expand_inputs(args.input)}
        )
        if args.robots and args.input:
            raise fleet.FleetError("give either --robots or inputs, not both")
    except fleet.FleetError as e:
        raise ReplayError(str(e)) from None
    load_replay_config(args.config, args.node_name)  # a bad file: one line here, not once per worker
    if args.baseline_config:
        load_replay_config(args.baseline_config, args.node_name)
    jobs = [
        fleet.RobotJob(r, tuple(b), args.config, args.baseline_config, args.out_dir, args.topic, args.node_name)
        for r, b in robots.items()
    ]
    t0 = time.perf_counter()
    try:
        rows = fleet.run_fleet(jobs, args.workers, args.backend, args.ray_address)
    except (fleet.FleetError, ValueError) as e:
        raise ReplayError(str(e)) from None
    text = fleet.summary_csv(rows)
    if args.summary:
        Path(args.summary).write_text(text)
    else:
        sys.stdout.write(text)
    if args.fleet_report:
        Path(args.fleet_report).write_text(fleet.summary_html(rows, f"{PROG}: fleet of {len(rows)} robots"))
    if not args.quiet:
        n, dt = sum(r["samples"] for r in rows), time.perf_counter() - t0
        print(
            f"{PROG}: {len(rows)} robots, {n} samples in {dt:.1f} s ({n / max(dt, 1e-9):.0f} samples/s)",
            file=sys.stderr,
        )
    return 0


def open_source(path: str, topic: str | None = None):
    """CSV file or rosbag2 bag, by what ``path`` is."""
    p = Path(path)
    if p.is_dir() or p.suffix in (".mcap", ".db3"):
        from bms_ros.tools.bags import BagError, BagSampleSource

        try:
            return BagSampleSource(p.parent if p.suffix in (".mcap", ".db3") else p, topic)
        except BagError as e:
            raise ReplayError(str(e)) from None
    if topic is not None:
        raise ReplayError("--topic applies to bag input only")
    return CsvSampleSource(path)


def _main(args: argparse.Namespace) -> int:
    from bms_ros.core import Bms, ConfigError

    overrides = list(args.param) + (
        [] if args.initial_soc is None else [f"estimation.initial_soc={args.initial_soc!r}"]
    )
    cfg = load_replay_config(args.config, args.node_name, overrides)
    for v in cfg.envelope_violations():  # accepted only by protection.allow_outside_envelope: say so
        print(
            f"{PROG}: warning: outside the chemistry envelope (protection.allow_outside_envelope): {v}", file=sys.stderr
        )
    source = open_source(args.input, args.topic)
    if source.cell_count != cfg.pack.cell_count:
        raise ReplayError(
            f"{args.input} has {source.cell_count} cells but {args.config} sets pack.cell_count = {cfg.pack.cell_count}"
        )
    try:
        bms = Bms(cfg)
    except ConfigError as e:
        raise ReplayError(f"{args.config}: {e}") from None
    total = source.count_rows()
    t0 = time.perf_counter()
    show = not args.quiet and total >= 50000

    def progress(n: int) -> None:
        if show:
            rate = n / max(time.perf_counter() - t0, 1e-9)
            print(
                f"{PROG}: {n}/{total} samples ({100 * n / max(total, 1):.0f} %), {rate:.0f} samples/s", file=sys.stderr
            )

    sinks: list = []
    stream: IO[str] | None = None
    if args.baseline:
        stream = io.StringIO()
    elif args.output == "-":
        stream = sys.stdout
    elif args.output != "none":
        try:
            stream = open(args.output, "w", newline="")
        except OSError as e:
            raise ReplayError(f"{args.output}: cannot write: {e.strerror or e}") from None
    if stream is not None:
        sinks.append(CsvOutputSink(stream))
    if args.output_bag:
        from bms_ros.tools.bags import BagError, BagOutputSink

        try:
            sinks.append(BagOutputSink(args.output_bag, args.storage))
        except BagError as e:
            raise ReplayError(str(e)) from None
    report = None
    if args.report:
        from bms_ros.tools.report import ReportSink

        report = ReportSink()
        sinks.append(report)
    try:
        n = run(source, bms.step, sinks, progress)
    except ValueError as e:  # a bag that breaks mid-way (BagError) or a malformed row
        raise ReplayError(str(e)) from None
    finally:
        for sink in sinks:
            sink.close()
        if stream is not None and stream not in (sys.stdout,) and not isinstance(stream, io.StringIO):
            stream.close()
    if report is not None:
        report.save(args.report, f"{PROG}: {args.input}")
    if not args.quiet:
        dt = time.perf_counter() - t0
        print(f"{PROG}: {n} samples in {dt:.1f} s ({n / max(dt, 1e-9):.0f} samples/s)", file=sys.stderr)
    if args.baseline:
        return _regression(args, stream.getvalue())
    return 0


def _regression(args: argparse.Namespace, csv_text: str) -> int:
    from bms_ros.tools.regression import Tolerances, compare, format_diff, read_run

    try:
        baseline = read_run(args.baseline)
    except (OSError, ValueError) as e:
        raise ReplayError(f"{args.baseline}: {e}") from None
    candidate = list(csv.DictReader(io.StringIO(csv_text)))
    if args.output not in ("-", "none"):
        Path(args.output).write_text(csv_text)
    diffs = compare(baseline, candidate, Tolerances(soc=args.soc_tolerance))
    print(format_diff(diffs), file=sys.stderr if diffs else sys.stdout)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
