"""Load profiles: the scored cases (one set of templates for every cell) and the identification recording
(a robot-like drive and dock charge, level L2's input: never a scored case)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from bench.accuracy.sim import Trace, limits, simulate_current, simulate_experiment
from bench.accuracy.split import Cell

# US06 (EPA Supplemental FTP, public domain): vehicle speed in 0.1 m/s, one value per second, 600 s.
_US06_DM_S = """
    0 0 0 0 0 0 1 3 5 8 27 62 92 115 112 127 144 155 163 172 178 189 196 198 194 190 180 175 172 172 175 173 173
    163 144 123 100 77 51 26 5 0 0 0 0 0 0 0 0 4 41 67 81 99 122 140 151 166 182 197 207 213 221 229 237 243 249
    252 251 251 249 246 243 242 243 242 239 234 232 232 232 232 232 235 239 245 254 263 271 279 287 296 303 310
    315 316 316 314 305 297 290 285 279 273 265 258 250 244 236 229 221 215 207 197 184 173 169 164 158 134 109 89
    69 48 28 14 9 5 0 0 0 0 0 0 0 0 12 41 72 101 131 153 173 192 203 209 215 221 225 230 233 235 237 241 241 241
    244 252 254 260 261 266 268 269 270 267 261 260 258 256 257 253 255 253 253 251 252 253 252 251 250 250 245
    242 244 233 245 249 255 259 260 266 268 273 274 277 279 279 280 278 279 282 280 281 282 287 286 287 287 288
    290 292 295 295 297 287 284 286 287 285 287 287 286 287 283 286 286 286 285 286 283 283 286 286 287 290 291
    286 287 282 285 282 285 284 282 282 282 283 283 283 279 279 281 281 278 279 279 279 279 278 279 281 279 279
    279 277 281 281 279 281 279 278 277 276 278 278 278 277 279 278 278 279 280 280 285 287 290 291 295 295 300
    300 302 305 305 308 309 310 321 322 335 325 323 323 322 324 325 325 321 319 318 318 317 317 317 318 322 325
    329 334 338 346 350 355 350 340 338 342 347 349 354 355 357 357 359 359 355 355 354 352 347 342 332 325 317
    302 297 298 295 295 296 295 300 301 305 305 307 305 304 304 300 297 295 294 295 297 295 296 300 302 304 304
    306 308 307 310 310 310 313 315 316 317 314 316 314 312 312 313 311 310 312 312 311 312 314 314 314 317 317
    317 316 317 318 319 317 318 321 321 325 323 323 322 322 321 325 325 327 322 320 317 315 315 317 314 317 314
    314 309 308 305 305 305 303 301 302 302 302 300 300 296 298 296 297 295 295 293 278 278 274 273 274 273 274
    274 276 276 276 276 278 276 278 280 278 280 278 280 280 282 280 278 273 266 263 254 249 242 230 220 218 213
    201 186 166 155 148 131 100 79 77 63 45 27 9 0 0 0 0 0 0 0 0 1 20 45 70 93 112 124 126 120 111 100 76 51 31 34
    50 69 89 108 121 127 126 114 97 77 54 34 26 11 5 8 30 53 75 97 116 124 125 121 109 90 68 42 22 13 11 38 60 80
    99 117 134 133 116 95 72 51 30 12 0 0 0 0 0 0 0 0 1 29 57 86 106 126 156 168 180 201 223 231 229 226 223 214
    199 184 169 149 125 106 84 58 28 10 0 0 0 0 0 0 0
"""


def us06_power() -> np.ndarray:
    """Normalised battery power of a mid-size EV on US06 (1 = the cycle's peak discharge power, < 0 regen)."""
    v = np.array([int(x) for x in _US06_DM_S.split()], dtype=float) / 10.0
    a = np.gradient(v)
    m, cda, rho, crr, g = 1600.0, 0.65, 1.2, 0.009, 9.81
    p = (m * a + 0.5 * rho * cda * v**2 + m * g * crr * (v > 0)) * v
    p = np.where(p > 0, p / 0.9, p * 0.6) + 400.0  # drivetrain losses, regen efficiency, auxiliaries
    return p / p.max()


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # drive (US06), pulse, cccv
    soc0: float  # true initial SoC (rested)
    ambient_c: float = 25.0
    c_rate: float = 2.0  # drive: peak discharge; pulse: pulse current; cccv: CC current (of the true capacity)
    stop_soc: float = 0.10  # drive / pulse: end when the true SoC falls below
    start: str = "cold"  # cold: no state file; wrong: a state file 20 points low; under_load: the same, 10 min in


# One set of templates for every cell (no per-cell choices). The wrong-state and under-load cases reuse the
# drive's trace; the under-load run starts 10 min into the drive, at the first sample above C/3.
CASES: tuple[Case, ...] = (
    Case("drive", "drive", 0.90),
    Case("pulse_rest", "pulse", 0.95, c_rate=1.0),
    Case("cccv", "cccv", 0.10, c_rate=0.5),
    Case("drive_0C", "drive", 0.75, ambient_c=0.0, c_rate=1.0, stop_soc=0.20),
    Case("wrong_state", "drive", 0.90, start="wrong"),
    Case("under_load", "drive", 0.90, start="under_load"),
)
WRONG_SOC = 0.20  # the state file's error (points / 100), below the truth
UNDER_LOAD_START_S = 600


def case_trace(cell: Cell, c: Case, cap: float) -> Trace:
    """The PyBaMM trace of a case (``cap``: the cell's true capacity, Ah)."""
    _vmin, vmax = limits(cell)
    what = f"{c.kind}_{c.soc0:g}_{c.ambient_c:g}C_{c.c_rate:g}"
    if c.kind == "drive":
        p = us06_power()
        i_cycle = np.clip(p * c.c_rate * cap, -0.5 * cap, None) * -1.0  # regen limited to C/2
        per_cycle = -i_cycle.mean() * 600 / 3600 / cap  # SoC per cycle
        n = math.ceil((c.soc0 - c.stop_soc) / per_cycle) + 1
        i = np.concatenate([np.zeros(30)] + [i_cycle] * n)
        return simulate_current(cell, c.ambient_c, c.soc0, i, what, c.stop_soc)
    if c.kind == "pulse":
        i_list = [0.0] * 30
        n = math.ceil((c.soc0 - c.stop_soc) / 0.1) + 1
        for _ in range(n):
            i_list += [-c.c_rate * cap] * int(360 / c.c_rate) + [0.0] * 1800
        return simulate_current(cell, c.ambient_c, c.soc0, np.array(i_list), what, c.stop_soc)
    if c.kind == "cccv":
        steps = [
            "Rest for 1 minute",
            f"Charge at {c.c_rate * cap:.5g} A until {vmax} V",
            f"Hold at {vmax} V until {0.05 * cap:.5g} A",
            "Rest for 30 minutes",
        ]
        return simulate_experiment(cell, c.ambient_c, c.soc0, steps, what)
    raise ValueError(c.kind)


def _seed(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)


def robot_recording(cell: Cell, cap: float) -> Trace:
    """Level L2's identification input: what a robot logs on its own. A seeded random drive (10-120 s
    segments up to 1.5C, regen up to C/2, short stops) from 95 % with a 20-minute stop every ~15 points, down
    to 10 %, a C/10 run home until the cut-off voltage, a 40-minute rest, then a dock charge: 0.5C CC to the
    charge voltage, CV to C/20, 30 minutes rest. Never a scored case (other profile, other rates).

    Two PyBaMM runs joined: the charge starts rested at the drive's final true SoC (after 40 minutes' rest
    the cell's relaxation is nearly complete; the join is a simplification)."""
    _vmin, vmax = limits(cell)
    rng = np.random.default_rng(_seed(cell.name + "/robot"))
    seg: list[float] = [0.0] * 60
    soc, next_stop = 0.95, 0.80
    while soc > 0.10:
        u = rng.random()
        x = 0.0 if u < 0.1 else (0.5 * rng.random() if u < 0.25 else -1.5 * rng.random() ** 1.5)
        n_s = int(rng.integers(10, 121))
        seg += [x * cap] * n_s
        soc += x * n_s / 3600.0
        if soc < next_stop:
            seg += [0.0] * 1200
            next_stop -= 0.15
    seg += [-0.1 * cap] * 36000  # home at C/10: PyBaMM stops at the cut-off voltage
    drive = simulate_current(cell, 25.0, 0.95, np.array(seg), "robot_drive")
    if drive["t"].size < len(seg):  # stopped at the cut-off (always, unless the drive ran out first)
        rest = simulate_current(cell, 25.0, float(drive["soc"][-1]), np.zeros(2400), "robot_rest")
        drive = _join(drive, rest)
    steps = [
        "Rest for 1 minute",
        f"Charge at {0.5 * cap:.5g} A until {vmax} V",
        f"Hold at {vmax} V until {0.05 * cap:.5g} A",
        "Rest for 30 minutes",
    ]
    charge = simulate_experiment(cell, 25.0, round(float(drive["soc"][-1]), 5), steps, "robot_dock")
    return _join(drive, charge)


def _join(a: Trace, b: Trace) -> Trace:
    return {k: np.concatenate((a[k], b[k][1:] + (a["t"][-1] if k == "t" else 0.0))) for k in a}
