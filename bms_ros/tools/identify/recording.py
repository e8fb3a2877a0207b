"""A recording as identification sees it: one average cell's voltage, the pack current and temperature on a
uniform time grid, read from bms-replay's inputs (the replay CSV or a rosbag2 bag)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bms_ros.core import PackSample

MIN_SAMPLES = 600  # fewer: no rest of useful length can be in it


class IdentifyError(ValueError):
    """The recordings cannot be identified from; the message says why (one line, exit code 2)."""


@dataclass(frozen=True)
class Recording:
    t: np.ndarray  # s, uniform grid
    i: np.ndarray  # A, > 0 charging
    v: np.ndarray  # V, average cell voltage
    temp_c: np.ndarray  # degC (NaN: not measured)
    source: str = ""

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])


def from_samples(samples: Iterable[PackSample], source: str = "") -> Recording:
    """Samples with a finite current and cell voltage (others are gaps), the cells averaged, on a uniform
    grid at the median sample interval."""
    rows = []
    for s in samples:
        v = np.asarray(s.cell_voltages, dtype=float)
        if not (math.isfinite(s.current) and v.size and np.isfinite(v).any()):
            continue
        temps = np.asarray(s.temperatures, dtype=float)
        temp = float(np.nanmean(temps)) if temps.size and np.isfinite(temps).any() else math.nan
        rows.append((s.stamp, s.current, float(np.nanmean(v)), temp))
    if len(rows) < MIN_SAMPLES:
        raise IdentifyError(f"{source}: {len(rows)} usable samples; identification needs at least {MIN_SAMPLES}")
    a = np.array(rows)
    return uniform(Recording(a[:, 0], a[:, 1], a[:, 2], a[:, 3], source))


def uniform(rec: Recording) -> Recording:
    t = rec.t
    dt = float(np.median(np.diff(t)))
    if not dt > 0:
        raise IdentifyError(f"{rec.source}: timestamps do not advance")
    grid = t[0] + dt * np.arange(math.floor((t[-1] - t[0]) / dt) + 1)
    temp = np.interp(grid, t, rec.temp_c) if np.isfinite(rec.temp_c).all() else np.full(grid.size, math.nan)
    return Recording(grid, np.interp(grid, t, rec.i), np.interp(grid, t, rec.v), temp, rec.source)


def concatenate(parts: list[Recording]) -> Recording:
    """Recordings in the order given, each starting where the previous one ended (charge is counted across:
    give them in the order they happened, without gaps in which the pack was used)."""
    if len(parts) == 1:
        return parts[0]
    dt = parts[0].dt
    out = [parts[0]]
    for p in parts[1:]:
        p = uniform(Recording(p.t, p.i, p.v, p.temp_c, p.source)) if abs(p.dt - dt) > 1e-9 else p
        grid = np.arange(p.t[0], p.t[-1] + 0.5 * dt, dt)
        shift = out[-1].t[-1] + dt - grid[0]
        out.append(
            Recording(
                grid + shift,
                np.interp(grid, p.t, p.i),
                np.interp(grid, p.t, p.v),
                np.interp(grid, p.t, p.temp_c),
                p.source,
            )
        )
    return Recording(
        np.concatenate([p.t for p in out]),
        np.concatenate([p.i for p in out]),
        np.concatenate([p.v for p in out]),
        np.concatenate([p.temp_c for p in out]),
        " + ".join(p.source for p in out),
    )


def load(paths: list[str], topic: str | None = None) -> Recording:
    """The replay CSV files and/or bags (as ``bms-replay`` reads them), joined in the order given."""
    from bms_ros.tools.replay import open_source
    from bms_ros.tools.replay_io import ReplayError

    if not paths:
        raise IdentifyError("no recording given")
    parts = []
    for p in paths:
        try:
            parts.append(from_samples(open_source(p, topic), p))
        except ReplayError as e:
            raise IdentifyError(str(e)) from None
    return concatenate(parts)
