"""Benchmark: one full bq769x0 driver read cycle against the register-level simulator.

For 5S / 10S / 15S packs, with and without the CRC option, it reports

* the host CPU time of ``Bq769x0Afe.read()`` (mean / median / p95), excluding the simulator's own time step,
* the bytes the driver puts on the I2C bus per cycle (address, register, data and CRC bytes; the CC_READY clear
  write is included, which happens on ~40 % of cycles at a 10 Hz read rate),
* the minimum the register set needs: every register the sample uses read in one ideal transaction
  (3 overhead bytes: addr+W, register, addr+R),
* both as bus time at the chip's 100 kHz limit: 9 bit times per byte (8 data + ACK) plus one per START,
  repeated START and STOP.

Run: .venv/bin/python bench/bench_afe_read.py [--reads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0

READ_PERIOD_S = 0.1  # the node reads at 10 Hz


def bench(cells: int, crc: bool, reads: int) -> dict:
    afe = SimulatedBq769x0.create(cell_count=cells, seed=1, crc=crc, thermistor_count=1)
    afe.pack.load_a = 3.0
    afe.set_fets(True, True)
    drv = afe.driver
    afe.read(0.0)
    times = []
    w0 = (drv.wire.bytes, drv.wire.conditions, drv.wire.transactions)
    for k in range(1, reads + 1):
        now = k * READ_PERIOD_S
        afe.advance(now)  # the simulated chip's time step is not part of the read cycle
        t0 = time.perf_counter()
        sample = drv.read(now)
        times.append(time.perf_counter() - t0)
        assert sample.comm_ok
    nbytes = (drv.wire.bytes - w0[0]) / reads
    conditions = (drv.wire.conditions - w0[1]) / reads
    transactions = (drv.wire.transactions - w0[2]) / reads
    per_reg = 2 if crc else 1
    need = len(drv.needed_registers)
    min_bytes = 3 + need * per_reg
    min_bits = 9 * min_bytes + 3
    bits = 9 * nbytes + conditions
    times.sort()
    return {
        "cells": cells,
        "crc": crc,
        "mean_us": statistics.fmean(times) * 1e6,
        "median_us": statistics.median(times) * 1e6,
        "p95_us": times[int(0.95 * len(times))] * 1e6,
        "transactions": transactions,
        "bytes": nbytes,
        "min_bytes": min_bytes,
        "bus_ms": bits / r.BUS_HZ * 1e3,
        "min_bus_ms": min_bits / r.BUS_HZ * 1e3,
        "plan": drv.read_plan,
        "needed": need,
        "block_bus_ms": (9 * (3 + 0x34 * per_reg) + 3) / r.BUS_HZ * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=2000)
    args = ap.parse_args()
    rows = [bench(cells, crc, args.reads) for cells in (5, 10, 15) for crc in (False, True)]
    print(f"bq769x0 driver read cycle vs the register-level simulator ({args.reads} reads at 10 Hz sim time)\n")
    print(
        f"{'pack':>4} {'CRC':>3} | {'mean us':>8} {'median':>7} {'p95':>7} | {'xfers':>5} {'bytes':>6} "
        f"{'min':>4} {'ratio':>5} | {'bus ms':>6} {'min ms':>6} {'1 block':>7} | {'10 Hz load':>10}"
    )
    print("-" * 104)
    for x in rows:
        print(
            f"{x['cells']:>3}S {'yes' if x['crc'] else 'no':>3} | {x['mean_us']:8.0f} {x['median_us']:7.0f} "
            f"{x['p95_us']:7.0f} | {x['transactions']:5.1f} {x['bytes']:6.1f} {x['min_bytes']:4d} "
            f"{x['bytes'] / x['min_bytes']:5.2f} | {x['bus_ms']:6.2f} {x['min_bus_ms']:6.2f} "
            f"{x['block_bus_ms']:7.2f} | {x['bus_ms'] / (READ_PERIOD_S * 1e3) * 100:9.1f}%"
        )
    print("\nbytes: per cycle, incl. addresses and CRC; min: needed registers in one ideal transaction;")
    print("bus ms at 100 kHz (9 bits/byte + START/Sr/STOP); 1 block: reading 0x00..0x33 in one transaction;")
    print("10 Hz load: share of the bus a 10 Hz read rate takes.")
    for x in rows:
        if x["crc"]:
            plan = ", ".join(f"{a:#04x}+{n}" for a, n in x["plan"])
            print(f"  {x['cells']:>2}S read plan ({x['needed']} registers needed): {plan}")


if __name__ == "__main__":
    main()
