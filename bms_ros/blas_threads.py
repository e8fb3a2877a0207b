"""One BLAS thread for bms_node and the offline tools.

Why: the core's arrays are small (a few hundred numbers), where a multi-threaded BLAS only adds hand-offs
between threads; on a loaded 2-core robot computer OpenBLAS at its default thread count made a 100S step
take 202 ms of wall time (32x slower at 50S than with one thread), which stalls the node. bms_ros.nodes and
bms_ros.tools call ``pin_blas_threads()`` in their package ``__init__``, before anything imports numpy: the
environment variables then decide the thread pools when the BLAS library loads. When numpy is already
loaded (an embedding program), the loaded libraries are told directly (OpenBLAS, MKL, BLIS, OpenMP), on
Linux through their C API. ``blas_threads()`` reports what the loaded libraries use (the tests check it).

No ROS and no numpy import here; threadpoolctl is not needed (it does the same with more library kinds).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# (file name fragment, setter, getter) per library kind; OpenBLAS builds may prefix (scipy_) and suffix (64_)
_OPENBLAS = [
    (f"{p}openblas_set_num_threads{s}", f"{p}openblas_get_num_threads{s}") for p in ("", "scipy_") for s in ("", "64_")
]
_KINDS = (
    ("openblas", _OPENBLAS),
    ("libmkl_rt", [("MKL_Set_Num_Threads", "MKL_Get_Max_Threads")]),
    ("libblis", [("bli_thread_set_num_threads", "bli_thread_get_num_threads")]),
    ("libgomp", [("omp_set_num_threads", "omp_get_max_threads")]),
    ("libomp", [("omp_set_num_threads", "omp_get_max_threads")]),
)


def _loaded_libraries() -> list[str]:
    """Shared libraries mapped into this process (Linux; elsewhere none are found)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    except OSError:
        return []
    return sorted(p for p in paths if ".so" in os.path.basename(p))


def _controls() -> list[tuple[str, Callable[..., int], Callable[..., int]]]:
    out = []
    for path in _loaded_libraries():
        name = os.path.basename(path)
        for frag, symbols in _KINDS:
            if frag not in name:
                continue
            try:
                lib = (
                    ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
                    if hasattr(os, "RTLD_NOLOAD")
                    else ctypes.CDLL(path)
                )
            except OSError:
                continue
            for setter, getter in symbols:
                if hasattr(lib, setter) and hasattr(lib, getter):
                    out.append((path, getattr(lib, setter), getattr(lib, getter)))
                    break
    return out


def pin_blas_threads(threads: int = 1) -> None:
    """Limit BLAS/OpenMP thread pools to ``threads``: through the environment (read when the library loads,
    and inherited by child processes) and, if numpy is already loaded, by each loaded library's own call."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "numpy" in sys.modules:
        for _path, setter, _getter in _controls():
            setter(ctypes.c_int(threads))


def blas_threads() -> dict[str, int]:
    """Thread count of each BLAS / OpenMP library loaded in this process, by its path."""
    return {path: int(getter()) for path, _setter, getter in _controls()}
