"""State estimation: SoC, SoH, internal resistance, runtime."""
