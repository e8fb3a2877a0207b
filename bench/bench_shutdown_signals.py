"""bms_node stopped as `ros2 launch` stops it without a terminal, 20 times: SIGINT to the process group, then the
second SIGINT launch forwards, at gaps from 0 to 200 ms. Every run must exit 0, save the state at shutdown and
leave no temporary file (test/nodes/test_node_shutdown.py, which CI runs 3 times).

    ./dev py bench/bench_shutdown_signals.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args(argv)
    env = {**os.environ, "BMS_SIGINT_RUNS": str(args.runs)}
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test/nodes/test_node_shutdown.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    summary = (r.stdout.strip().splitlines() or ["no output"])[-1]
    print(f"{args.runs} runs with two SIGINTs to the process group: {summary} ({time.monotonic() - start:.0f} s)")
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-2000:], sep="\n", file=sys.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
