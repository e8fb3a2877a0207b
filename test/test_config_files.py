"""Parameter files (ISSUE 11): whatever is wrong with a file, the reader says so in one line (ConfigError),
never with a traceback: the node turns that line into exit code 2, bms-replay too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_ros.config import ALL_SPECS, load_config, read_params_file
from bms_ros.core.params import ConfigError


def load(path: Path):
    return load_config(read_params_file(path))


def one_line_error(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and msg.strip() == msg, msg
    return msg


@pytest.mark.parametrize(
    "text, words",
    [
        ("/**:\n  ros__parameters:\n    pack: {cell_count: 4\n", ["not valid YAML", "line 4"]),
        ("/**:\n  ros__parameters:\n\t rate_hz: 10.0\n", ["not valid YAML", "line 3"]),
        ("/**:\n  ros__parameters:\n    frame_id: 2001-13-45\n", ["not valid YAML", "month"]),
        ("/**:\n  ros__parameters:\n    rate_hz: " + "[" * 5000 + "\n", ["not valid YAML", "nested too deeply"]),
    ],
    ids=["unclosed-flow-mapping", "tab-indent", "impossible-date", "deeply-nested"],
)
def test_malformed_yaml_is_a_one_line_reason(tmp_path, text, words):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    msg = one_line_error(p)
    assert all(w in msg for w in words) and "bad.yaml" in msg, msg


@pytest.mark.parametrize(
    "text",
    [
        "/**:\n  parameters:\n    rate_hz: 10.0\n",
        "/**:\n  ros__parameters: [1, 2]\n",
        "/**:\n  ros__parameters: 5\n",
        "/**: 5\n",
        "other_node:\n  rate_hz: 10.0\n/**:\n  ros__parameters: {rate_hz: 10.0}\n",
    ],
    ids=["misspelt", "a-list", "a-number", "section-a-number", "another-nodes-section"],
)
def test_missing_ros_parameters_is_a_one_line_reason(tmp_path, text):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    assert "has no ros__parameters mapping" in one_line_error(p)


@pytest.mark.parametrize(
    "value, words",
    [
        ('[1, "a", 2.0]', ["rate_hz", "mixes float, int, str"]),
        ("[1, 2.0]", ["rate_hz", "mixes float, int", "write 1.0"]),
        ("[[1.0], [2.0]]", ["rate_hz", "nested lists"]),
    ],
)
def test_mixed_type_lists_are_a_one_line_reason(tmp_path, value, words):
    p = tmp_path / "bad.yaml"
    p.write_text(f"/**:\n  ros__parameters:\n    rate_hz: {value}\n")
    msg = one_line_error(p)
    assert all(w in msg for w in words), msg


def test_an_unreadable_file_is_a_one_line_reason(tmp_path):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    assert "bin.yaml" in one_line_error(p)
    assert "cannot read" in one_line_error(tmp_path / "missing.yaml")


def test_a_number_too_large_for_a_float_is_a_one_line_reason(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("/**:\n  ros__parameters:\n    rate_hz: 1" + "0" * 400 + "\n")
    assert "rate_hz: an integer of 1329 bits" in one_line_error(p)
    with pytest.raises(ConfigError, match="an integer of 33220 bits"):
        load_config({"rate_hz": 10**10000})
    with pytest.raises(ConfigError, match=r"pack.cell_count: expected an integer, got str 'xxx.*\.\.\.$"):
        load_config({"pack.cell_count": "x" * 100_000})


# --- fuzz: many malformed files, only ConfigError ------------------------------------------------------------
NAMES = sorted(ALL_SPECS)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers() | st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["nmc", "lfp", "sim", "bq769x0", "sim_bq769x0", "charge_off"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def nest(flat: dict) -> dict:
    out: dict = {}
    for name, v in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[leaf] = v
    return out


params = st.dictionaries(st.sampled_from(NAMES), values, max_size=6).map(nest)
documents = st.one_of(
    values,  # anything at all
    st.fixed_dictionaries({"/**": values}),  # a section of anything
    st.fixed_dictionaries({"/**": st.fixed_dictionaries({"ros__parameters": values})}),
    st.fixed_dictionaries({"/**": st.fixed_dictionaries({"ros__parameters": params})}),  # our names, any value
)


def check(path: Path) -> None:
    try:
        load(path)
    except ConfigError as e:
        assert len(str(e).splitlines()) == 1, str(e)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_fuzz_structured_files_raise_only_config_error(tmp_path, doc):
    p = tmp_path / "fuzz.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    check(p)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    doc=st.fixed_dictionaries({"/**": st.fixed_dictionaries({"ros__parameters": params})}),
    cut=st.integers(min_value=0, max_value=400),
    junk=st.text(max_size=6),
)
def test_fuzz_mangled_text_raises_only_config_error(tmp_path, doc, cut, junk):
    text = yaml.safe_dump(doc, allow_unicode=True)
    cut = min(cut, len(text))
    p = tmp_path / "fuzz.yaml"
    p.write_text(text[:cut] + junk + text[cut:])
    check(p)
