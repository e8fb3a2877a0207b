"""Command-line tools: bms-replay, bms_monitor, the simulation demo."""
