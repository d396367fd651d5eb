"""benchmarks/pacing_probe.py: a thread paced as a host's audio thread, with nothing to do."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "pacing_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("pacing_probe", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_wake_up_is_timed_and_none_comes_before_its_due_time(probe):
    late, steal = probe.pace(0.05, 0.005, "spin")
    assert len(late) == 10 and (late >= 0).all() and steal >= 0
    late, _ = probe.pace(0.05, 0.005, "sleep")
    assert len(late) == 10 and np.isfinite(late).all()


def test_the_table_has_a_row_per_mode_and_bad_options_say_why(probe, capsys):
    assert probe.main(["--seconds", "0.05", "--no-realtime"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| s")]
    assert [r.split("|")[1].strip() for r in rows] == ["sleep", "spin"]
    assert all(int(r.split("|")[2]) == int(0.05 * 48000 / 128) for r in rows)
    with pytest.raises(SystemExit):
        probe.main(["--wait", "nap", "--no-realtime"])
    assert "--wait: use sleep and/or spin" in capsys.readouterr().err
