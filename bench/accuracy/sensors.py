"""The sensor corruption model (a real AFE's errors) and the replay-CSV writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.accuracy.sim import Trace

V_OFFSET = 0.002  # V, cell-voltage offset
V_NOISE = 0.002  # V, cell-voltage noise (1 sigma)
I_GAIN_NOISE = 0.01  # current noise, relative (1 sigma)
I_OFFSET = 0.020  # A, current offset
T_NOISE = 0.5  # degC, temperature noise (1 sigma)


def corrupt(tr: Trace, seed: int) -> Trace:
    """Measured t, i, v, temp_c of a true trace (the truth's soc is not carried)."""
    rng = np.random.default_rng(seed)
    n = tr["t"].size
    return {
        "t": tr["t"],
        "v": tr["v"] + V_OFFSET + V_NOISE * rng.standard_normal(n),
        "i": tr["i"] * (1 + I_GAIN_NOISE * rng.standard_normal(n)) + I_OFFSET,
        "temp_c": tr["temp_c"] + T_NOISE * rng.standard_normal(n),
    }


def write_replay_csv(meas: Trace, path: Path) -> Path:
    """The recording as bms-replay's CSV (t, current, cell_voltage_1, temperature_1)."""
    data = np.stack([meas["t"], meas["i"], meas["v"], meas["temp_c"]], axis=1)
    np.savetxt(path, data, delimiter=",", fmt="%.6g", header="t,current,cell_voltage_1,temperature_1", comments="")
    return path
