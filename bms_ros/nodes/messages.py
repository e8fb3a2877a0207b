"""rclpy messages from core data (field values come from bms_ros.msg_fields, shared with the bag tools)."""

from __future__ import annotations

from bms_ros.core import BmsOutput, PackSample
from bms_ros.msg import AfeSample, BmsStatus
from bms_ros.msg_fields import afe_sample_fields, status_fields

__all__ = ["fill_status", "sample_to_msg"]


def fill_status(msg: BmsStatus, out: BmsOutput) -> BmsStatus:
    for k, v in status_fields(out).items():
        setattr(msg, k, v)
    return msg


def sample_to_msg(msg: AfeSample, s: PackSample) -> AfeSample:
    for k, v in afe_sample_fields(s).items():
        setattr(msg, k, v)
    return msg
