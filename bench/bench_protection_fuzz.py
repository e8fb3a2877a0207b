"""Benchmark: the protection fuzz of test_protection_robust at 10^6 samples.

Why: CI runs 10^5 samples of adversarial streams (a real condition beyond a limit seen through NaN, 0 V,
infinite and missing readings, with clock steps back and forward); this runs ten times more, over every
condition x pattern x clock combination and several read periods and corruption shares, and counts the
violations (a guarded FET still on once the condition has been visible for its trip delay plus two periods).

Run: ./dev py bench/bench_protection_fuzz.py [--samples 1000000]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from fuzz_streams import CLOCKS, CONDITIONS, PATTERNS, run_stream  # noqa: E402

PERIODS = (0.1, 0.25, 0.5)
SHARES = (0.2, 0.5, 0.8, 0.95)
SAMPLES_PER_STREAM = 200


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1_000_000)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    combos = list(itertools.product(CONDITIONS, PATTERNS, CLOCKS, PERIODS, SHARES))
    streams = max(1, args.samples // SAMPLES_PER_STREAM)
    t0 = time.perf_counter()
    violations: list[str] = []
    for k in range(streams):
        cond, pattern, clock, period, share = combos[k % len(combos)]
        violations += run_stream(cond, pattern, clock, period, share, seed=k, samples=SAMPLES_PER_STREAM)
    wall = time.perf_counter() - t0
    n = streams * SAMPLES_PER_STREAM
    print(
        f"{n} samples in {streams} streams ({len(combos)} combinations), {wall:.0f} s "
        f"({wall / n * 1e6:.0f} us/sample): {len(violations)} violations"
    )
    for v in violations[:20]:
        print("  " + v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
