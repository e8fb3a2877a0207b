"""Shared test setup: DDS confined to this machine, a domain of its own per test run and per xdist worker."""

import os

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 80))
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...: parallel workers must not hear each other
if _worker.startswith("gw"):
    os.environ["ROS_DOMAIN_ID"] = str(1 + (int(os.environ["ROS_DOMAIN_ID"]) + 1 + int(_worker[2:])) % 230)
