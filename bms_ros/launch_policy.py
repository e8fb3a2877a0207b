"""What the launch files decide about bms_node, kept free of ROS so it is testable anywhere.

* Exit codes of bms_node, and which ones are worth a respawn: a configuration error (exit 2) is permanent
  until a person fixes the parameter file, so it is never respawned; a crash or an AFE that could not be
  started (exit 1, killed by a signal other than a stop request) is respawned with an exponential back-off.
* The hardware launch's check of its parameter file: missing or unreadable is an error, never a fallback to
  the defaults (which would run a simulated pack).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

EXIT_OK = 0  # stopped on request (SIGINT/SIGTERM, shutdown)
EXIT_AFE_UNAVAILABLE = 1  # the AFE could not be started, or an unexpected exception: worth a retry
EXIT_BAD_CONFIGURATION = 2  # rejected parameters or arguments: permanent until the configuration changes

RESPAWN_DELAY_S = 2.0  # first respawn delay, s
RESPAWN_DELAY_MAX_S = 60.0  # back-off cap, s
RESPAWN_STABLE_RUN_S = 60.0  # a node that ran this long before failing starts the back-off again, s

# Killed by one of these: somebody asked the process to stop (before it could install its own handlers)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class RespawnDecision:
    respawn: bool
    delay_s: float  # wait before starting again (0 when not respawning)
    attempt: int  # the back-off step to pass to the next decision
    message: str  # one line for the launch log


def respawn_decision(
    returncode: int | None, attempt: int = 0, ran_s: float = 0.0, name: str = "bms_node"
) -> RespawnDecision:
    """Whether (and when) to start bms_node again after it exited with ``returncode`` on its own.

    ``attempt`` counts the respawns in a row (0 the first time); ``ran_s`` is how long the process ran.
    """
    if returncode == EXIT_BAD_CONFIGURATION:
        return RespawnDecision(
            False,
            0.0,
            attempt,
            (
                f"{name} rejected its configuration (exit {returncode}, reason above); a configuration error is "
                f"permanent: not respawning. Fix the parameter file and launch again."
            ),
        )
    if returncode == EXIT_OK or returncode is None or (returncode < 0 and -returncode in _STOP_SIGNALS):
        return RespawnDecision(False, 0.0, attempt, f"{name} stopped (exit {returncode}): not respawning")
    if ran_s >= RESPAWN_STABLE_RUN_S:
        attempt = 0
    delay = min(RESPAWN_DELAY_S * 2.0**attempt, RESPAWN_DELAY_MAX_S)
    what = "was killed by signal " + str(-returncode) if returncode < 0 else f"failed (exit {returncode})"
    return RespawnDecision(
        True,
        delay,
        attempt + 1,
        (f"{name} {what} after {ran_s:.1f} s (a crash or a lost AFE): respawning in {delay:g} s"),
    )


def config_file_problem(path: str) -> str | None:
    """Why ``path`` cannot be the hardware launch's parameter file, or None when it can be read."""
    if not path:
        return "no parameter file given (config:=/path/to/pack.yaml)"
    if not os.path.exists(path):
        return f"parameter file {path} does not exist"
    if not os.path.isfile(path):
        return f"parameter file {path} is not a file"
    if not os.access(path, os.R_OK):
        return f"parameter file {path} is not readable"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return f"parameter file {path} cannot be read: {e.strerror or e}"
    return None
