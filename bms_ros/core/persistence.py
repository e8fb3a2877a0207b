"""A small persistent state store: one JSON document, written atomically.

``StateStore(path)`` keeps a dict of sections (``"protection"``, ``"estimator"``, ...). ``save()`` writes a
temporary file in the same directory, fsyncs it, ``os.replace``s it over the old file and fsyncs the directory,
so a crash or power loss leaves either the old or the new document, never a torn one. A missing file is an
empty state; an unreadable or corrupted one is reported with a warning, moved aside to ``<name>.corrupt`` and
treated as empty (safe defaults). Several components can share one store through ``get``/``put``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_FILE_MODE = 0o600  # the state file is private to the node's user (as mkstemp made it)
# Deepest nesting a state document may have (ours needs 6: document, sections, section, fault log, entry,
# context); deeper is a corrupted or hostile file, and copying it (load() copies through json) could exhaust
# Python's recursion limit.
MAX_DEPTH = 32


class StateStore:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._data: dict[str, Any] | None = None
        self.warning: str = ""  # set when the file on disk could not be used

    def load(self) -> dict[str, Any]:
        """The stored sections (a copy); {} when there is no usable file."""
        if self._data is None:
            self._data = self._read()
        return json.loads(json.dumps(self._data))

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            self._warn(f"cannot read state file {self.path}: {e}; starting from defaults")
            return {}
        try:
            try:
                doc = json.loads(raw.decode("utf-8"))  # UnicodeDecodeError is a ValueError: corrupted too
            except RecursionError:  # not a ValueError: json's own limit on nesting
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("sections"), dict):
                raise ValueError("not a bms_ros state document")
            if doc.get("version") != FORMAT_VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            if _depth(doc) > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            return doc["sections"]
        except ValueError as e:
            aside = self.path.with_name(self.path.name + ".corrupt")
            try:
                os.replace(self.path, aside)
                where = f"; moved to {aside}"
            except OSError:
                where = ""
            self._warn(f"state file {self.path} is corrupted ({e}){where}; starting from defaults")
            return {}

    def _warn(self, msg: str) -> None:
        self.warning = msg
        log.warning(msg)

    def save(self, sections: dict[str, Any]) -> None:
        """Replace the whole document atomically. Whatever interrupts it (an exception, a KeyboardInterrupt at
        any point), the temporary file is removed: its name is fixed per process and thread before it exists,
        so the cleanup does not depend on how far its creation got."""
        doc = {"version": FORMAT_VERSION, "sections": _jsonable(sections)}
        text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            try:
                os.unlink(tmp)  # still there only when the write or the replace did not happen
            except OSError:
                pass
        _fsync_dir(directory)
        self._data = json.loads(text)["sections"]

    def get(self, section: str, default: Any = None) -> Any:
        return self.load().get(section, default)

    def put(self, section: str, value: Any) -> None:
        """Replace one section, keeping the others, and write the document."""
        data = self.load()
        data[section] = value
        self.save(data)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _depth(doc: Any) -> int:
    """Nesting depth of lists and dicts, without recursion (stops counting past MAX_DEPTH + 1)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, (dict, list)):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:
                stack.extend((v, d + 1) for v in (x.values() if isinstance(x, dict) else x))
    return deepest


def _jsonable(x: Any) -> Any:
    """numpy scalars/arrays to Python; NaN/inf to None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class MemoryStore(StateStore):
    """A StateStore kept in memory (fleet replay, tests): the same JSON round trip as the state file, no disk
    writes."""

    def __init__(self) -> None:
        super().__init__(os.devnull)
        self._data = {}

    def save(self, sections: dict[str, Any]) -> None:
        doc = {"version": FORMAT_VERSION, "sections": _jsonable(sections)}
        self._data = json.loads(json.dumps(doc, sort_keys=True, allow_nan=False))["sections"]
