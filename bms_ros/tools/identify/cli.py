"""``bms-identify``: fit a chemistry table from the robot's own recordings (a drive and a dock charge).

    bms-identify drive.csv dock.csv --chemistry nmc -o my_cell.csv --report my_cell.html
    bms-identify run_bag/ --chemistry lfp --full-v 3.6 --empty-v 2.5 -o my_cell.yaml

Then set ``estimation.chemistry_table`` to the table and ``pack.design_capacity_ah`` to the capacity it
prints. Needs the ``identify`` extra (scipy); the node never imports this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bms_ros.tools.identify.fit import Fit, base_chemistry, identify
from bms_ros.tools.identify.html import write_report
from bms_ros.tools.identify.recording import IdentifyError, load
from bms_ros.tools.identify.table import write_table

PROG = "bms-identify"


def identify_files(
    paths: list[str],
    chemistry: str,
    table_path: str | Path,
    report_path: str | Path | None = None,
    full_v: float | None = None,
    empty_v: float | None = None,
    topic: str | None = None,
    name: str = "",
    rest_current_a: float | None = None,
) -> Fit:
    """Recordings -> table file (+ HTML report); the fit. Raises IdentifyError."""
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise IdentifyError("needs scipy: pip install 'bms_ros[identify]' (or -r requirements/identify.txt)") from None
    if Path(table_path).suffix.lower() not in (".csv", ".yaml", ".yml"):
        raise IdentifyError(f"{table_path}: the table must be .csv or .yaml")
    base = base_chemistry(chemistry)  # the configuration's errors before the (slow) reading
    if (full_v if full_v is not None else base.full_v) <= (empty_v if empty_v is not None else base.empty_v):
        raise IdentifyError(f"full_v must be above empty_v (here {full_v} / {empty_v} V)")
    rec = load(paths, topic)
    fit = identify(rec, chemistry, full_v, empty_v, name or Path(table_path).stem, rest_current_a)
    write_table(fit, table_path)
    if report_path:
        write_report(fit, report_path)
    return fit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("recordings", nargs="+", help="replay CSV files and/or rosbag2 bags, in the order recorded")
    ap.add_argument("--chemistry", required=True, help="the built-in chemistry of the cells (pack.chemistry)")
    ap.add_argument("-o", "--out", required=True, help="the table to write (.csv or .yaml)")
    ap.add_argument("--report", default="", help="an HTML report of the fit")
    ap.add_argument(
        "--full-v", type=float, default=None, help="the cell's charge voltage (SoC 1); default the chemistry's"
    )
    ap.add_argument(
        "--empty-v", type=float, default=None, help="the cell's cut-off voltage (SoC 0); default the chemistry's"
    )
    ap.add_argument("--topic", default=None, help="the AfeSample topic in a bag")
    ap.add_argument("--name", default="", help="the table's name (default: the file's stem)")
    ap.add_argument(
        "--rest-current-a", type=float, default=None, help="|current| below which the pack rests (default: auto)"
    )
    args = ap.parse_args(argv)
    try:
        fit = identify_files(
            args.recordings,
            args.chemistry,
            args.out,
            args.report or None,
            args.full_v,
            args.empty_v,
            args.topic,
            args.name,
            args.rest_current_a,
        )
    except IdentifyError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    ecm = fit.ecm
    print(
        f"{args.out}: capacity {fit.capacity_ah:.4f} Ah (set pack.design_capacity_ah), R0 "
        f"{float(ecm.r0.mean()) / fit.capacity_ah * 1e3:.2f} mOhm, tau1 {ecm.tau1_s:.1f} s, tau2 {ecm.tau2_s:.0f} s, "
        f"diffusion {ecm.diffusion_tau_s:.0f} s, residual {ecm.rms_mv:.2f} mV rms"
    )
    for w in fit.warnings:
        print(f"{PROG}: warning: {w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
