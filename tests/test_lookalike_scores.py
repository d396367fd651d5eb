"""benchmarks/valid_scores.py --csv and benchmarks/lookalike_curves.py: the rows checkpoints are picked on,
and the figure drawn from them."""
import importlib.util
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_name_their_run_and_the_figure_reads_them_back(tmp_path):
    scores = _load("valid_scores")
    curves = _load("lookalike_curves")
    assert scores.run_name("runs/snap/tcn_w1_eq_ens_cs4_30500") == "tcn_w1_eq_ens_cs4"
    assert scores.run_name("runs/tcn_w1_eq/best") == "tcn_w1_eq"
    assert scores.run_name("engine/assets/default_model") == "engine/assets/default_model"
    path = tmp_path / "scores.csv"
    for step, (fluid, timgm) in ((30000, (5.8, 4.1)), (30500, (6.2, 4.0))):
        scores.append_csv(path, [{"model": f"runs/snap/arm_{step}", "step": step, "class name": fluid,
                                  "other clip": fluid - 0.3}], "valid-fluidr3")
        scores.append_csv(path, [{"model": f"runs/snap/arm_{step}", "step": step, "class name": timgm,
                                  "other clip": timgm - 0.4}], "valid-timgm")
    assert path.read_text().count("run,step") == 1
    read = curves.read_scores(path)
    assert read["arm"]["valid-fluidr3"] == {30000: 5.8, 30500: 6.2} and read["arm"]["valid-timgm"][30500] == 4.0
    out = tmp_path / "fig.png"
    done = subprocess.run([sys.executable, str(BENCH / "lookalike_curves.py"), str(path), "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and out.read_bytes()[:4] == b"\x89PNG"


def test_a_file_that_is_not_scores_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for args in ([str(bad)], [str(tmp_path / "missing.csv")]):
        done = subprocess.run([sys.executable, str(BENCH / "lookalike_curves.py"), *args, "-o", str(tmp_path / "x.png")],
                              capture_output=True, text=True)
        assert done.returncode != 0 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
