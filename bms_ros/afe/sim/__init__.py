"""Simulation side of the AFE boundary: a pack model and simulated AFEs over it."""
