"""TI bq769x2 (BQ76952 / BQ76942) battery monitor: register map, interface, conversions, driver and emulator.

The four-file shape of LibreSolar's ``drivers/bms_ic/bq769x2`` (registers / interface / chip / emulator side by
side). Importing this package imports nothing else, so ``registers`` stays pure data.
"""
