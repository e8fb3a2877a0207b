"""The SoC accuracy bench (``bench/bench_estimation_accuracy.py``): PyBaMM ground truth, a declared
train/test split of parameter sets (``split``), three configuration levels (``levels``), six cases per cell
(``profiles``), the sensor model (``sensors``), scoring (``scoring``) and the tables (``report``)."""
