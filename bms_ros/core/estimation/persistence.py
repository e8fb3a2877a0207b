"""The estimator's state file: atomic JSON writes, tolerant reads, periodic saving.

``StateFile(path, period)`` is what a caller (the BMS orchestrator, the node at shutdown) needs:

    sf = StateFile(cfg.estimation.state_file, cfg.estimation.state_save_period)
    sf.restore(estimator, now)          # at start-up; a missing or corrupted file -> warning, defaults
    ...
    sf.tick(estimator, now)             # every step: writes when the period has elapsed
    ...
    sf.save(estimator, now)             # at shutdown
"""
from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _Persistent(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state(self, d: dict[str, Any], now: float | None = None) -> bool: ...


def atomic_write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON so that a crash leaves either the old or the new file, never a torn one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def read_state_file(path: str | Path) -> dict[str, Any] | None:
    """The saved state, or None (with a warning for anything but a missing file)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        log.info("estimator state file %s not found: starting from defaults", p)
        return None
    except OSError as e:
        log.warning("estimator state file %s cannot be read (%s): starting from defaults", p, e)
        return None
    try:
        d = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        log.warning("estimator state file %s is corrupted (%s): starting from defaults "
                    "(SoC from voltage, rated capacity)", p, e)
        return None
    if not isinstance(d, dict):
        log.warning("estimator state file %s is corrupted (not a JSON object): starting from defaults", p)
        return None
    return d


class StateFile:
    def __init__(self, path: str | Path, period_s: float = 60.0):
        self.path = Path(path)
        self.period = period_s
        self._last_save: float | None = None

    def restore(self, estimator: _Persistent, now: float | None = None) -> bool:
        d = read_state_file(self.path)
        if d is None:
            return False
        return estimator.load_state(d, now)

    def tick(self, estimator: _Persistent, now: float) -> bool:
        if self._last_save is None:
            self._last_save = now
            return False
        if not math.isfinite(now) or now - self._last_save < self.period:
            return False
        return self.save(estimator, now)

    def save(self, estimator: _Persistent, now: float | None = None) -> bool:
        try:
            atomic_write_json(self.path, estimator.state_dict())
        except (OSError, TypeError, ValueError) as e:
            log.warning("cannot write estimator state file %s: %s", self.path, e)
            return False
        if now is not None:
            self._last_save = now
        return True
