"""QoS event handlers: an explicit warning where a mismatch matters, none elsewhere.

rclpy gives every publisher and subscription default QoS-event handlers (incompatible QoS, and on Iron+ an
incompatible type) unless told otherwise, and each is a waitable the executor adds to its wait set on every
wake. bms_node had 20 of them; under sim time with a 1 kHz ``/clock`` that made each wake about 40 % dearer
than a bare node's (53 % vs 37.5 % of a core at 1x, bench/bench_sim_time_rate.py). The consumer's side of a
mismatch (Nav2, docking, Open-RMF) still warns with its own defaults; battery_state, the topic every consumer
depends on, keeps an explicit incompatible-QoS warning here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:  # Iron and newer
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks  # type: ignore[no-redef]

__all__ = ["publisher_events", "subscribed", "subscription_events"]


def publisher_events(on_incompatible_qos: Callable[[Any], None] | None = None) -> PublisherEventCallbacks:
    """Only the handler given (none by default); rclpy's defaults off."""
    return PublisherEventCallbacks(incompatible_qos=on_incompatible_qos, use_default_callbacks=False)


def subscription_events() -> SubscriptionEventCallbacks:
    """No QoS event handlers (the publisher's side reports a mismatch)."""
    return SubscriptionEventCallbacks(use_default_callbacks=False)


def subscribed(publisher) -> bool:
    """Something is matched to ``publisher``. On a VOLATILE topic a message published without a match reaches
    nobody, now or later, so not building it changes nothing a subscriber sees."""
    return publisher.get_subscription_count() > 0
