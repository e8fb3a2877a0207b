"""Command-line tools: bms-replay, bms_monitor, the simulation demo."""

from bms_ros.blas_threads import pin_blas_threads

pin_blas_threads()  # before numpy loads: one BLAS thread (see bms_ros.blas_threads)
