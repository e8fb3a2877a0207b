#!/usr/bin/env python3
"""SoC accuracy benchmark against PyBaMM ground truth (bench-only; needs requirements/bench.txt).

The estimator is scored on PyBaMM SPMe cells it was not tuned on: ``bench/accuracy/split.py`` declares the
training cells (where estimator settings are chosen: ``--training``, the default, and ``--param``) and the
held-out cells (scored only with ``--held-out``, never with ``--param``). Levels: L0 ``pack.chemistry`` +
a datasheet capacity 3-5 % off, L1 + the cell's C/30 OCV curve, L2 the table and capacity ``bms-identify``
fits on a different recording of the same cell (robot drive + dock charge). See bench/README.md.

    ./dev py bench/bench_estimation_accuracy.py                       # training cells, all levels
    ./dev py bench/bench_estimation_accuracy.py --cells Chen2020 --level L1 --cases drive,cccv
    ./dev py bench/bench_estimation_accuracy.py --param estimation.process_noise=1e-6   # try a setting
    ./dev py bench/bench_estimation_accuracy.py --held-out            # the reported generalisation numbers
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.accuracy.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
