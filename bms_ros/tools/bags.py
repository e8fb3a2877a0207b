"""rosbag2 bags (mcap or sqlite3) for bms-replay, through the rosbags library (no ROS install needed).

Reads recorded ``bms_ros/msg/AfeSample`` messages (``~/afe_raw``) back into PackSamples, and writes a run's
samples and decisions (AfeSample + BmsStatus) so they can be replayed or inspected with ros2 bag tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from bms_ros.core import BmsOutput, PackSample
from bms_ros.msg_fields import afe_sample_fields, sample_from_afe_msg, status_fields
from bms_ros.tools.columns import SampleColumns, decode_afe_cdr

AFE_SAMPLE = "bms_ros/msg/AfeSample"
BMS_STATUS = "bms_ros/msg/BmsStatus"
ARRAY_FIELDS = {"cell_voltages", "temperatures"}


class BagError(ValueError):
    """The bag cannot be used; the message says why (path, topic, type, where it broke)."""


def _msg_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "msg"
    if here.is_dir():
        return here
    from ament_index_python.packages import get_package_share_directory  # installed package

    return Path(get_package_share_directory("bms_ros")) / "msg"


@lru_cache(maxsize=1)
def typestore():
    """The Jazzy message types plus this package's own, from msg/*.msg."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for f in sorted(_msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(f.read_text(), f"bms_ros/msg/{f.stem}"))
    store.register(types)
    return store


def _open(path: Path, topic: str | None):
    """An open rosbags Reader and the AfeSample connections to read (BagError when there are none)."""
    from rosbags.rosbag2 import Reader

    if not path.exists():
        raise BagError(f"{path}: no such bag")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as e:
        raise BagError(f"{path}: not a readable rosbag2 bag: {e}") from None
    try:
        conns = [c for c in reader.connections if topic is None or c.topic == topic]
        if topic is not None and not conns:
            raise BagError(
                f"{path}: no topic {topic}; topics: "
                + ", ".join(f"{c.topic} [{c.msgtype}]" for c in reader.connections)
            )
        wrong = [c for c in conns if c.msgtype != AFE_SAMPLE]
        if topic is not None and wrong:
            raise BagError(f"{path}: topic {topic} has type {wrong[0].msgtype}, expected {AFE_SAMPLE}")
        conns = [c for c in conns if c.msgtype == AFE_SAMPLE]
        if not conns:
            raise BagError(
                f"{path}: no {AFE_SAMPLE} messages; topics: "
                + (", ".join(f"{c.topic} [{c.msgtype}]" for c in reader.connections) or "none")
            )
    except BaseException:
        reader.close()
        raise
    return reader, conns


def read_samples(path: str | Path, topic: str | None = None) -> Iterator[PackSample]:
    """PackSamples from the AfeSample messages of a bag, in recorded order (each message through rosbags)."""
    path = Path(path)
    reader, conns = _open(path, topic)
    try:
        store, n = typestore(), 0
        try:
            for conn, _t, raw in reader.messages(connections=conns):
                yield sample_from_afe_msg(store.deserialize_cdr(raw, conn.msgtype))
                n += 1
        except BagError:
            raise
        except Exception as e:
            raise BagError(f"{path}: bag is corrupted or truncated after {n} samples: {e}") from None
    finally:
        reader.close()


COLUMN_BLOCK = 4096  # messages decoded as one block (bounded memory; large enough that per-block cost vanishes)


def read_columns(
    path: str | Path, topic: str | None = None, block: int | None = None
) -> Iterator[SampleColumns | _Mixed]:
    """The AfeSample messages of a bag as blocks of columns, in recorded order: a block of one layout is read as
    a numpy view over the CDR payloads (``columns.decode_afe_cdr``), any other through rosbags."""
    path = Path(path)
    block = block or COLUMN_BLOCK
    reader, conns = _open(path, topic)
    try:
        n = 0
        raws: list[bytes] = []
        try:
            for _conn, _t, raw in reader.messages(connections=conns):
                raws.append(raw)
                if len(raws) >= block:
                    yield _decode(raws)
                    n += len(raws)
                    raws = []
            if raws:
                yield _decode(raws)
        except BagError:
            raise
        except Exception as e:
            raise BagError(f"{path}: bag is corrupted or truncated after {n} samples: {e}") from None
    finally:
        reader.close()


def _decode(raws: list[bytes]) -> SampleColumns | _Mixed:
    cols = decode_afe_cdr(raws)
    if cols is not None:
        return cols
    store = typestore()
    samples = [sample_from_afe_msg(store.deserialize_cdr(r, AFE_SAMPLE)) for r in raws]
    shapes = {(s.cell_voltages.shape, s.temperatures.shape) for s in samples}
    if len(shapes) == 1:
        return SampleColumns.from_samples(samples)
    return _Mixed(samples)


class _Mixed:
    """A block whose samples differ in shape (a cell count that changes mid-bag): no columns, the samples."""

    def __init__(self, samples: list[PackSample]):
        self._samples = samples

    def __len__(self) -> int:
        return len(self._samples)

    def samples(self) -> Iterator[PackSample]:
        return iter(self._samples)


class BagOutputSink:
    """Writes samples (AfeSample on ``<namespace>/afe_raw``) and decisions (BmsStatus on ``<namespace>/status``)
    as a bag; also a bms-replay sink."""

    def __init__(
        self, path: str | Path, storage: str = "mcap", namespace: str = "/bms_node", frame_id: str = "battery"
    ):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if storage not in ("mcap", "sqlite3"):
            raise BagError(f"storage {storage!r}: use mcap or sqlite3")
        if self.path.exists():
            raise BagError(f"{self.path}: already exists")
        plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
        self.store = typestore()
        self.frame_id = frame_id
        self.count = 0
        self._types = {
            k: self.store.types[k]
            for k in (AFE_SAMPLE, BMS_STATUS, "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
        }
        self._w = Writer(self.path, version=9, storage_plugin=plugin)
        self._w.open()
        self._raw = self._w.add_connection(f"{namespace}/afe_raw", AFE_SAMPLE, typestore=self.store)
        self._status = self._w.add_connection(f"{namespace}/status", BMS_STATUS, typestore=self.store)

    def write(self, sample: PackSample, out: BmsOutput | None) -> None:
        ns = round(sample.stamp * 1e9)
        header = self._types["std_msgs/msg/Header"](
            stamp=self._types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
            frame_id=self.frame_id,
        )
        fields = {
            k: (np.asarray(v, dtype=np.float64) if k in ARRAY_FIELDS else v)
            for k, v in afe_sample_fields(sample).items()
        }
        msg = self._types[AFE_SAMPLE](header=header, **fields)
        self._w.write(self._raw, ns, self.store.serialize_cdr(msg, AFE_SAMPLE))
        if out is not None:
            status = self._types[BMS_STATUS](header=header, **status_fields(out))
            self._w.write(self._status, ns, self.store.serialize_cdr(status, BMS_STATUS))
        self.count += 1

    def close(self) -> None:
        self._w.close()


def write_bag(
    path: str | Path,
    records: Iterable[tuple[PackSample, BmsOutput | None]],
    storage: str = "mcap",
    namespace: str = "/bms_node",
    frame_id: str = "battery",
) -> int:
    """Write AfeSample (and BmsStatus where an output is given) messages; returns the count written."""
    sink = BagOutputSink(path, storage, namespace, frame_id)
    try:
        for sample, out in records:
            sink.write(sample, out)
    finally:
        sink.close()
    return sink.count


class BagSampleSource:
    """bms-replay source: the AfeSample messages of a bag (cell and thermistor counts from the first one)."""

    def __init__(self, path: str | Path, topic: str | None = None):
        self.path, self.topic = Path(path), topic
        samples = read_samples(self.path, topic)
        first = next(samples, None)
        samples.close()  # closes the bag reader now, not whenever the generator is collected
        if first is None:
            raise BagError(f"{self.path}: the bag has no AfeSample messages")
        self.cell_count = first.cell_count
        self.thermistor_count = int(first.temperatures.shape[0])

    def count_rows(self) -> int:
        from rosbags.rosbag2 import Reader

        with Reader(self.path) as reader:
            return sum(
                c.msgcount
                for c in reader.connections
                if c.msgtype == AFE_SAMPLE and (self.topic is None or c.topic == self.topic)
            )

    def __iter__(self) -> Iterator[PackSample]:
        for block in read_columns(self.path, self.topic):
            yield from block.samples()
