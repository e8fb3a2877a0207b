"""JBD / Xiaoxiang BMS boards over UART / RS485 (``afe.type: jbd``)."""
