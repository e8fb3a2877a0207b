"""Analog front ends: the narrow interface the core consumes (``base.Afe``), real drivers and simulators.

Like a Linux or Zephyr driver, each chip driver talks to an injectable bus object; the simulators in
``afe.sim`` emulate the chip behind that same bus, so the very same driver code runs in tests and on robots.
"""
