"""rosbag2 bags (mcap or sqlite3) for bms-replay, through the rosbags library (no ROS install needed).

Reads recorded ``bms_ros/msg/AfeSample`` messages (``~/afe_raw``) back into PackSamples, and writes a run's
samples and decisions (AfeSample + BmsStatus) so they can be replayed or inspected with ros2 bag tools.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from bms_ros.core.types import BmsOutput, PackSample
from bms_ros.msg_fields import afe_sample_fields, sample_from_afe_msg, status_fields

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


def read_samples(path: str | Path, topic: str | None = None) -> Iterator[PackSample]:
    """PackSamples from the AfeSample messages of a bag, in recorded order."""
    from rosbags.rosbag2 import Reader
    path = Path(path)
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
            raise BagError(f"{path}: no topic {topic}; topics: "
                           + ", ".join(f"{c.topic} [{c.msgtype}]" for c in reader.connections))
        wrong = [c for c in conns if c.msgtype != AFE_SAMPLE]
        if topic is not None and wrong:
            raise BagError(f"{path}: topic {topic} has type {wrong[0].msgtype}, expected {AFE_SAMPLE}")
        conns = [c for c in conns if c.msgtype == AFE_SAMPLE]
        if not conns:
            raise BagError(f"{path}: no {AFE_SAMPLE} messages; topics: "
                           + (", ".join(f"{c.topic} [{c.msgtype}]" for c in reader.connections) or "none"))
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


def write_bag(path: str | Path, records: Iterable[tuple[PackSample, BmsOutput | None]], storage: str = "mcap",
              namespace: str = "/bms_node", frame_id: str = "battery") -> int:
    """Write AfeSample (and BmsStatus where an output is given) messages; returns the count written."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    store = typestore()
    AfeSample, BmsStatus = store.types[AFE_SAMPLE], store.types[BMS_STATUS]
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    n = 0
    with Writer(Path(path), version=9, storage_plugin=plugin) as w:
        raw_c = w.add_connection(f"{namespace}/afe_raw", AFE_SAMPLE, typestore=store)
        status_c = w.add_connection(f"{namespace}/status", BMS_STATUS, typestore=store)
        for sample, out in records:
            ns = round(sample.stamp * 1e9)
            header = Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame_id)
            fields = {k: (np.asarray(v, dtype=np.float64) if k in ARRAY_FIELDS else v)
                      for k, v in afe_sample_fields(sample).items()}
            w.write(raw_c, ns, store.serialize_cdr(AfeSample(header=header, **fields), AFE_SAMPLE))
            if out is not None:
                w.write(status_c, ns, store.serialize_cdr(BmsStatus(header=header, **status_fields(out)), BMS_STATUS))
            n += 1
    return n
