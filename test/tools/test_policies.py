"""The published fault-policy table is what the code does, for the defaults and for a given config."""

from pathlib import Path

from bms_ros.core.protection import POLICY
from bms_ros.tools.policies import main, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "fault_policies.md"


def test_docs_table_is_generated_from_the_code():
    assert DOC.read_text() == render({}), "regenerate: bms-policies > docs/fault_policies.md"


def test_table_follows_the_configuration(tmp_path, capsys):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(
        "/**:\n  ros__parameters:\n    pack: {chemistry: lfp}\n"
        "    protection: {charge_overcurrent: {threshold: 7.5, release: 6.0}}\n"
    )
    assert main(["-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "(LFP, 4S)" in out and "cell_max > 3.65 for" in out and "charge_current > 7.5 for" in out
    assert out.count("\n| ") == 1 + len(POLICY)  # header + one row per fault


def test_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("/**:\n  ros__parameters:\n    pack: {cell_count: 0}\n")
    assert main(["-c", str(cfg)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
