"""Benchmark: one full bq769x2 (BQ76952) driver read cycle against its register-level emulator.

For 8S and 16S packs, with and without CRC, one direct command per transaction (``block_reads=False``, the
LibreSolar way and the driver's default) and consecutive commands in one transaction (``block_reads=True``), it
reports

* the host CPU time of ``Bq769x2Afe.read()`` (median / p95), excluding the emulator's own time step,
* the transactions and bytes the driver puts on the I2C bus per cycle (addresses, command, data, CRC bytes): the
  direct commands (Battery Status, Safety Status A-C, cells, stack, LD, CC2, internal temperature, TS, FET Status)
  and the CB_ACTIVE_CELLS read-back (a subcommand: write 0x3E/0x3F, poll, read 0x40.., read 0x60/0x61),
* the minimum for the same data: every direct byte in one ideal transaction (3 overhead bytes: addr+W, command,
  addr+R) plus the subcommand's irreducible part (its write, one data read, one checksum/length read, no poll),
* bus time at 400 kHz (the BQ76952's limit and default) and 100 kHz: 9 bit times per byte plus one per START,
  repeated START and STOP.

Run: .venv/bin/python bench/bench_afe_read_bq769x2.py [--reads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.sim.simulated_bq769x2 import SimulatedBq769x2

READ_PERIOD_S = 0.1  # the node reads at 10 Hz


def minimum_bits(drv, crc: bool) -> tuple[int, int]:
    """(bytes, bit times) of the ideal cycle for the same data."""
    per = 2 if crc else 1
    direct = drv.needed_bytes
    nbytes = 3 + direct * per  # one transaction for every direct byte
    sub = [(1 + 1 + 2 * per, 2), (3 + 2 * per, 3), (3 + 2 * per, 3)]  # write 0x3E/0x3F; read data; read 0x60/0x61
    nbytes += sum(b for b, _ in sub)
    conditions = 3 + sum(c for _, c in sub)
    return nbytes, 9 * nbytes + conditions


def bench(cells: int, crc: bool, block: bool, reads: int) -> dict:
    afe = SimulatedBq769x2.create(
        cell_count=cells, chemistry="lfp", seed=1, crc=crc, thermistor_count=2, driver_kwargs={"block_reads": block}
    )
    afe.pack.load_a = 3.0
    afe.set_fets(True, True)
    drv = afe.driver
    afe.read(0.0)
    times = []
    w0 = (drv.wire.bytes, drv.wire.conditions, drv.wire.transactions)
    for k in range(1, reads + 1):
        now = k * READ_PERIOD_S
        afe.advance(now)
        t0 = time.perf_counter()
        sample = drv.read(now)
        times.append(time.perf_counter() - t0)
        assert sample.comm_ok
    nbytes = (drv.wire.bytes - w0[0]) / reads
    bits = 9 * nbytes + (drv.wire.conditions - w0[1]) / reads
    min_bytes, min_bits = minimum_bits(drv, crc)
    times.sort()
    return {
        "cells": cells,
        "crc": crc,
        "block": block,
        "median_us": statistics.median(times) * 1e6,
        "p95_us": times[int(0.95 * len(times))] * 1e6,
        "transactions": (drv.wire.transactions - w0[2]) / reads,
        "bytes": nbytes,
        "min_bytes": min_bytes,
        "bus400_ms": bits / r.BUS_HZ * 1e3,
        "min400_ms": min_bits / r.BUS_HZ * 1e3,
        "bus100_ms": bits / r.BUS_HZ_STANDARD * 1e3,
        "plan": drv.read_plan,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=1000)
    args = ap.parse_args()
    rows = [bench(c, crc, block, args.reads) for c in (8, 16) for crc in (False, True) for block in (False, True)]
    print(f"bq769x2 driver read cycle vs the register-level emulator ({args.reads} reads at 10 Hz sim time)\n")
    print(
        f"{'pack':>4} {'CRC':>3} {'block':>5} | {'median us':>9} {'p95':>6} | {'xfers':>5} {'bytes':>6} {'min':>4} "
        f"{'ratio':>5} | {'400k ms':>7} {'min ms':>6} {'100k ms':>7} | {'10 Hz @400k':>11}"
    )
    print("-" * 104)
    for x in rows:
        print(
            f"{x['cells']:>3}S {'yes' if x['crc'] else 'no':>3} {'yes' if x['block'] else 'no':>5} | "
            f"{x['median_us']:9.0f} {x['p95_us']:6.0f} | {x['transactions']:5.1f} {x['bytes']:6.1f} "
            f"{x['min_bytes']:4d} {x['bytes'] / x['min_bytes']:5.2f} | {x['bus400_ms']:7.2f} {x['min400_ms']:6.2f} "
            f"{x['bus100_ms']:7.2f} | {x['bus400_ms'] / (READ_PERIOD_S * 1e3) * 100:10.1f}%"
        )
    for x in rows:
        if x["cells"] == 16 and x["crc"]:
            plan = ", ".join(f"{a:#04x}+{n}" for a, n in x["plan"])
            print(f"  16S {'block' if x['block'] else 'per-command'} read plan: {plan}")


if __name__ == "__main__":
    main()
