"""Smart Battery System (SBS 1.1) packs over SMBus: bq40z50 / bq4050 class gauges (``afe.type: sbs``)."""
