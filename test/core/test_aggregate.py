"""The robot's battery from several packs, against hand-computed cases (issue 18 acceptance, core level)."""

from __future__ import annotations

import math

import pytest

from bms_ros.core.aggregate import (
    HEALTH_SEVERITY,
    STATUS_PRECEDENCE,
    Health,
    PackReading,
    Status,
    aggregate,
    combine_health,
    combine_status,
    parallel_limit,
)
from bms_ros.core.pack_roster import PackRoster


def big_and_small() -> list[PackReading]:
    """20 Ah at 90 % and 10 Ah at 30 %, in parallel on one bus."""
    return [
        PackReading(
            "left",
            voltage=16.4,
            current=-3.0,
            charge_ah=18.0,
            capacity_ah=20.0,
            percentage=0.9,
            soc_std=0.02,
            energy_wh=270.0,
            resistance_ohm=0.02,
            discharge_limit_a=40.0,
            charge_limit_a=10.0,
            status=Status.DISCHARGING,
            health=Health.GOOD,
        ),
        PackReading(
            "right",
            voltage=16.0,
            current=-1.0,
            charge_ah=3.0,
            capacity_ah=10.0,
            percentage=0.3,
            soc_std=0.04,
            energy_wh=42.0,
            resistance_ohm=0.04,
            discharge_limit_a=10.0,
            charge_limit_a=5.0,
            status=Status.DISCHARGING,
            health=Health.GOOD,
        ),
    ]


def test_parallel_packs_of_different_capacity_and_soc():
    a = aggregate(big_and_small(), "parallel")
    assert a.current == pytest.approx(-4.0)  # summed, not the mean (-2 A)
    assert a.voltage == pytest.approx(16.2)  # the bus both packs sit on
    assert a.charge_ah == pytest.approx(21.0) and a.capacity_ah == pytest.approx(30.0)
    assert a.percentage == pytest.approx(0.7)  # 21/30; the unweighted mean would say 0.6
    assert a.energy_wh == pytest.approx(312.0)
    assert a.time_to_empty_s == pytest.approx(21.0 * 3600 / 4.0)
    # sigma of the summed charge: sqrt((0.02*20)^2 + (0.04*10)^2) = 0.566 Ah of 30 Ah
    assert a.soc_std == pytest.approx(math.hypot(0.4, 0.4) / 30.0)
    # the bus current splits 2:1 by conductance (50 S : 25 S): the right pack reaches its 10 A at 30 A on the
    # bus (left then carries 20 A of its 40); the sum of limits (50 A) would overload it
    assert a.discharge_limit_a == pytest.approx(30.0)
    assert a.charge_limit_a == pytest.approx(15.0)  # left reaches 10 A at 15 A, right would at 15 A too


def test_one_pack_alone_is_that_pack_even_when_its_usable_charge_ends_early_under_load():
    pack = PackReading("left", voltage=15.0, current=-8.0, charge_ah=4.1, capacity_ah=10.0, percentage=0.45)
    a = aggregate([pack], "parallel")
    assert a.percentage == pytest.approx(0.45) and a.charge_ah == pytest.approx(4.1)
    assert a.time_to_empty_s == pytest.approx(4.1 * 3600 / 8.0)


def test_parallel_limit_with_unknown_resistance_assumes_an_even_split():
    assert parallel_limit([40.0, 10.0], [math.nan, 0.04]) == pytest.approx(20.0)


def test_parallel_pack_with_its_discharge_fet_open_takes_no_share_and_is_off_the_bus():
    packs = big_and_small()
    packs[1].discharge_fet = packs[1].charge_fet = False
    packs[1].voltage = 15.2  # its own open-circuit voltage, not the bus
    a = aggregate(packs, "parallel")
    assert a.discharge_limit_a == pytest.approx(40.0) and a.voltage == pytest.approx(16.4)


def test_series_packs_share_the_current_sum_the_voltage_and_empty_with_the_weakest():
    packs = [
        PackReading(
            "top",
            voltage=16.0,
            current=-2.0,
            charge_ah=8.0,
            capacity_ah=10.0,
            percentage=0.8,
            energy_wh=8.0 * 15.0,
            discharge_limit_a=30.0,
            charge_limit_a=8.0,
        ),
        PackReading(
            "bottom",
            voltage=15.5,
            current=-2.1,
            charge_ah=5.0,
            capacity_ah=10.0,
            percentage=0.5,
            energy_wh=5.0 * 14.5,
            discharge_limit_a=20.0,
            charge_limit_a=10.0,
        ),
    ]
    a = aggregate(packs, "series", expected=2)
    assert a.voltage == pytest.approx(31.5)
    assert a.current == pytest.approx(-2.05)
    assert a.percentage == pytest.approx(0.5) and a.charge_ah == pytest.approx(5.0)
    assert a.energy_wh == pytest.approx(5.0 * (15.0 + 14.5))  # the top pack's extra 3 Ah is not usable
    assert a.discharge_limit_a == pytest.approx(20.0) and a.charge_limit_a == pytest.approx(8.0)
    assert a.time_to_empty_s == pytest.approx(5.0 * 3600 / 2.05)


def test_series_string_with_a_pack_missing_is_open():
    a = aggregate(
        [PackReading("top", voltage=16.0, current=0.0, charge_ah=8.0, capacity_ah=10.0)], "series", expected=2
    )
    assert not a.present and math.isnan(a.voltage) and math.isnan(a.percentage)


def test_one_pack_full_and_one_charging_is_charging():
    assert combine_status([Status.FULL, Status.CHARGING]) == Status.CHARGING  # max number would say FULL
    assert combine_status([Status.FULL, Status.FULL]) == Status.FULL
    assert combine_status([Status.FULL, Status.NOT_CHARGING]) == Status.NOT_CHARGING
    assert combine_status([Status.CHARGING, Status.DISCHARGING]) == Status.DISCHARGING
    assert combine_status([Status.UNKNOWN, Status.DISCHARGING]) == Status.DISCHARGING


def test_one_pack_overheat_and_one_cold_is_overheat():
    assert combine_health([Health.OVERHEAT, Health.COLD]) == Health.OVERHEAT  # max number would say COLD
    assert combine_health([Health.GOOD, Health.UNKNOWN]) == Health.UNKNOWN
    assert combine_health([Health.DEAD, Health.OVERVOLTAGE]) == Health.OVERVOLTAGE
    assert combine_health([Health.GOOD, 42]) == Health.UNSPEC_FAILURE


def test_the_orders_cover_every_value():
    assert sorted(STATUS_PRECEDENCE) == list(Status) and sorted(HEALTH_SEVERITY) == list(Health)


def test_pack_removed_and_returned():
    roster = PackRoster(["left", "right"], timeout_s=1.0)
    left, right = big_and_small()
    roster.update(left, 0.0)
    roster.update(right, 0.0)
    assert aggregate(roster.members(0.5), "parallel").capacity_ah == pytest.approx(30.0)
    roster.update(left, 1.2)  # right stopped publishing
    a = aggregate(roster.members(1.3), "parallel")
    assert a.packs == ["left"] and a.percentage == pytest.approx(0.9) and a.current == pytest.approx(-3.0)
    assert roster.missing(1.3) == {"right": "silent for 1.3 s (timeout 1 s)"}
    roster.update(right, 1.4)  # returned
    assert aggregate(roster.members(1.5), "parallel").packs == ["left", "right"]
    pulled = PackReading("right", present=False)
    roster.update(pulled, 1.6)
    assert roster.missing(1.6) == {"right": "reports present = false"}
    assert aggregate(roster.members(1.6), "parallel").capacity_ah == pytest.approx(20.0)


def test_no_pack_is_no_battery():
    a = aggregate([], "parallel")
    assert not a.present and math.isnan(a.percentage) and a.status == Status.UNKNOWN


def test_aggregator_configuration_is_checked_with_one_line_reasons():
    from bms_ros.core.aggregator_config import load_aggregator_config
    from bms_ros.core.params import ConfigError

    cfg = load_aggregator_config({"packs": ["front", "rear"], "topology": "series", "use_sim_time": True})
    assert cfg.pack_names() == ["front", "rear"] and cfg.topology == "series"
    for values, words in (
        ({"topology": "star"}, "topology"),
        ({"packs": "a,a"}, "named twice"),
        ({"packs": " , "}, "at least one"),
        ({"pack_timeout": 0.0}, "pack_timeout"),
        ({"battery_state_topic": "battery_state"}, "{pack}"),
        ({"rate": 5.0}, "unknown"),
        ({"low_battery": {"low_release_soc": 0.1}}, "release"),
    ):
        flat = {f"low_battery.{k}": v for k, v in values["low_battery"].items()} if "low_battery" in values else values
        with pytest.raises(ConfigError, match=words.replace("{", r"\{").replace("}", r"\}")):
            load_aggregator_config(flat)
