"""When bms.launch.py respawns bms_node, and which parameter files it accepts (no ROS needed)."""

from __future__ import annotations

import os
import signal

import pytest

from bms_ros.launch_policy import (
    EXIT_AFE_UNAVAILABLE,
    EXIT_BAD_CONFIGURATION,
    EXIT_OK,
    RESPAWN_DELAY_MAX_S,
    RESPAWN_DELAY_S,
    RESPAWN_STABLE_RUN_S,
    config_file_problem,
    respawn_decision,
)


@pytest.mark.parametrize("code", [EXIT_BAD_CONFIGURATION, EXIT_OK, -signal.SIGINT, -signal.SIGTERM, None])
def test_a_rejected_configuration_or_a_requested_stop_is_not_respawned(code):
    d = respawn_decision(code)
    assert not d.respawn and "not respawning" in d.message


def test_the_configuration_error_says_it_is_permanent():
    assert "permanent" in respawn_decision(EXIT_BAD_CONFIGURATION).message


@pytest.mark.parametrize("code", [EXIT_AFE_UNAVAILABLE, -signal.SIGSEGV, -signal.SIGKILL, -signal.SIGABRT])
def test_a_crash_or_a_lost_afe_is_respawned_with_a_growing_delay_up_to_the_cap(code):
    attempt, delays = 0, []
    for _ in range(8):
        d = respawn_decision(code, attempt, ran_s=1.0)
        assert d.respawn and f"respawning in {d.delay_s:g} s" in d.message
        delays.append(d.delay_s)
        attempt = d.attempt
    assert delays[:3] == [RESPAWN_DELAY_S, 2 * RESPAWN_DELAY_S, 4 * RESPAWN_DELAY_S]
    assert delays == sorted(delays) and delays[-1] == RESPAWN_DELAY_MAX_S


def test_a_node_that_ran_long_enough_starts_the_back_off_again():
    assert respawn_decision(EXIT_AFE_UNAVAILABLE, 6, ran_s=RESPAWN_STABLE_RUN_S).delay_s == RESPAWN_DELAY_S


def test_config_file_problems_are_named(tmp_path):
    good = tmp_path / "pack.yaml"
    good.write_text("/**:\n  ros__parameters: {}\n")
    assert config_file_problem(str(good)) is None
    assert "does not exist" in config_file_problem(str(tmp_path / "typo.yaml"))
    assert "not a file" in config_file_problem(str(tmp_path))
    assert "no parameter file" in config_file_problem("")
    if os.geteuid() != 0:  # root reads anything
        good.chmod(0)
        assert "not readable" in config_file_problem(str(good))
