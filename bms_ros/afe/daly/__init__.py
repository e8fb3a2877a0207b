"""Daly smart BMS boards over UART / RS485 (``afe.type: daly``)."""
