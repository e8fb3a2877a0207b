"""The declared train/test split of PyBaMM parameter sets (decided 2026-12-02, before any scoring).

Estimator settings are chosen on TRAIN cells only (``--training``, the default; ``--param`` is accepted only
there). HELD_OUT cells are scored with ``--held-out`` and never tuned on: ``select_cells`` refuses a held-out
name unless asked for the held-out run, and a held-out run refuses ``--param``. A set that cannot be
simulated is replaced by an unused one (with the reason recorded here); a set never moves between the two
lists after scores have been seen.

Chemistry is the built-in ``pack.chemistry`` a team would pick from the datasheet (level L0). Thermal model:
PyBaMM's lumped model, except Prada2013 (its parameter set has no current-collector data, so
``thermal: lumped`` fails with a KeyError; isothermal, as before). All nine were simulated (SPMe, 1C
discharge + C/2 CC-CV charge) before this split was written; none needed replacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    name: str  # the bench's name of the cell (a PyBaMM parameter set, or a documented variant of one)
    param_set: str  # pybamm.ParameterValues(...)
    chemistry: str  # pack.chemistry a team would configure (built-in)
    thermal: str = "lumped"  # PyBaMM thermal option
    changes: dict[str, float] = field(default_factory=dict)  # parameter -> factor applied to the published value
    options: dict[str, str] = field(default_factory=dict)  # extra PyBaMM model options
    extra: dict[str, float] = field(default_factory=dict)  # parameters added (with options that need them)
    note: str = ""


TRAIN: tuple[Cell, ...] = (
    Cell("Chen2020", "Chen2020", "nmc", note="LG M50, NMC811 / graphite-SiOx, 5 Ah"),
    Cell("Prada2013", "Prada2013", "lfp", thermal="isothermal", note="A123 LFP / graphite, 2.3 Ah"),
    Cell("Mohtat2020", "Mohtat2020", "nmc", note="NMC532 / graphite, 5 Ah"),
    Cell("Marquis2019", "Marquis2019", "lco", note="Kokam LCO / graphite pouch, 0.68 Ah nominal"),
)

# Prada2013 with a different design, so that LFP is also scored on a cell nobody tuned on. It shares Prada's
# electrode materials, hence its OCV curve (an honest limitation: the L1 curve shape is not new, only the
# dynamics and the capacity are): positive particles 1.6x larger (slower solid diffusion), negative ones
# 0.6x, both electrodes 20 % thicker (2.76 Ah instead of 2.3), and an 8 mOhm contact resistance.
PRADA_VARIANT = Cell(
    "Prada2013_thick",
    "Prada2013",
    "lfp",
    thermal="isothermal",
    changes={
        "Positive particle radius [m]": 1.6,
        "Negative particle radius [m]": 0.6,
        "Positive electrode thickness [m]": 1.2,
        "Negative electrode thickness [m]": 1.2,
        "Nominal cell capacity [A.h]": 1.2,
    },
    options={"contact resistance": "true"},
    extra={"Contact resistance [Ohm]": 0.008},
    note="Prada2013 redesigned (see PRADA_VARIANT): shares Prada's OCV material",
)

HELD_OUT: tuple[Cell, ...] = (
    Cell("ORegan2022", "ORegan2022", "nmc", note="LG M50 re-parameterised, NMC811, 5 Ah, temperature-dependent"),
    Cell("Ecker2015", "Ecker2015", "nmc", note="Kokam NMC / graphite (PyBaMM set: 0.16 Ah)"),
    Cell("NCA_Kim2011", "NCA_Kim2011", "nca", note="NCA / graphite, 0.43 Ah"),
    Cell("Ai2020", "Ai2020", "lco", note="LCO / graphite pouch, 2.28 Ah"),
    PRADA_VARIANT,
)


class HeldOutError(ValueError):
    """A held-out cell was asked for where only training cells may be used (tuning)."""


def _by_name(cells: tuple[Cell, ...]) -> dict[str, Cell]:
    return {c.name: c for c in cells}


def select_cells(names: list[str], held_out: bool = False) -> list[Cell]:
    """The cells of one run: training cells by default, held-out ones only with ``held_out=True``.

    ``names`` empty: the whole pool. A name from the other pool raises HeldOutError (training run) or
    ValueError (held-out run), an unknown name ValueError."""
    pool = _by_name(HELD_OUT if held_out else TRAIN)
    other = _by_name(TRAIN if held_out else HELD_OUT)
    out = []
    for n in names:
        if n in pool:
            out.append(pool[n])
        elif n in other and not held_out:
            raise HeldOutError(f"{n} is a held-out cell: it is scored only with --held-out and never tuned on")
        elif n in other:
            raise ValueError(f"{n} is a training cell; a --held-out run scores held-out cells only")
        else:
            raise ValueError(
                f"unknown cell {n!r}; training: {sorted(_by_name(TRAIN))}, held-out: {sorted(_by_name(HELD_OUT))}"
            )
    return out or list(pool.values())
