"""Pieces of benchmarks/eventsep_eval.py that decide what its numbers mean."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "eventsep_eval", Path(__file__).resolve().parents[1] / "benchmarks" / "eventsep_eval.py")
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)


@pytest.mark.parametrize("seed", range(20))
def test_intermittent_gate_keeps_30_to_70_percent(seed):
    rate = 22050
    target = np.ones(6 * rate, np.float32)
    gated, frac = ev.intermittent(target, rate, np.random.default_rng(seed))   # engine.activity.data's
    assert 0.3 <= frac <= 0.7
    sounding = np.mean(gated > 0.5)
    assert abs(sounding - frac) < 0.01
    assert np.max(np.abs(np.diff(gated))) < 0.01        # fades, no steps


def test_si_sdr_floor_for_silenced_targets():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(1000)
    assert ev.si_sdr_floored(ref, np.zeros(1000)) == ev.SI_SDR_FLOOR
    assert ev.si_sdr_floored(ref, ref + 0.01 * rng.standard_normal(1000)) > 30


def test_report_block_replaces_only_the_generated_part(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\nhand text\n\n{ev.BEGIN}\nold\n{ev.END}\nafter\n")
    ev.insert_report(doc, "new table\n")
    text = doc.read_text()
    assert "hand text" in text and "after" in text and "new table" in text and "old" not in text
    ev.insert_report(doc, "newer\n")
    assert doc.read_text().count(ev.BEGIN) == 1 and "new table" not in doc.read_text()


def test_prompts_rotate_and_name_the_target():
    prompts = [ev.prompt_for(i, "pipe", "Flute") for i in range(5)]
    assert len(set(prompts)) == 5 and all("flute" in p for p in prompts)


def test_sounding_frames_follow_the_gated_target():
    rate = 22050
    target = np.zeros(rate, np.float32)
    target[rate // 4: rate // 2] = np.sin(np.arange(rate // 2 - rate // 4) * 0.1)
    target[rate // 2:] = 1e-6                      # far below -60 dB of the loudest frame: silent
    frames = ev.sounding_frames(target, 100, rate, 0.01)
    assert frames.shape == (100,) and frames[26:49].all() and not frames[:24].any() and not frames[51:].any()


def test_presence_accuracy_and_absent_levels():
    recs = [{"item": "a", "subset": "absent", "system": "U-Net alone", "present_decision": False, "output_db": -30.0},
            {"item": "b", "subset": "absent", "system": "U-Net alone", "present_decision": True, "output_db": -10.0},
            {"item": "a", "subset": "whole", "system": "U-Net alone", "present_decision": True, "output_db": -3.0}]
    assert ev.presence_accuracy(recs, "absent") == 0.5 and ev.presence_accuracy(recs, "whole") == 1.0
    assert np.isnan(ev.presence_accuracy(recs, "intermittent"))
    lines = ev.absent_section(recs, ["U-Net alone"])
    assert "| U-Net alone | -20.0 | 50 % |" in lines
    assert ev.output_db(np.ones(10), np.zeros(10)) == ev.SILENCE_DB


def test_baselines_and_ablation_stay_ungated_and_only_the_defaults_follow_the_pipeline():
    rows = {name: opts for name, opts, _ in ev.systems()}
    assert rows["EventSep defaults"] == {} and rows["EventSep defaults, presence report"] == {"presence": "report"}
    assert all(opts.get("presence") == "report" for name, opts in rows.items() if not name.startswith("EventSep defaults"))
    weights = {opts.get("weight") for name, opts in rows.items() if name.startswith("ablation rate")}
    assert weights == set(ev.RATE_WEIGHTS)


def test_the_defaults_rule_takes_the_best_intermittent_config_that_keeps_the_whole_subset():
    names = [name for name, _ in ev.ablation_configs()]
    recs = [{"system": "U-Net alone", "subset": "whole", "si_sdri": 5.0}]
    for i, name in enumerate(names):      # every config: 4 dB intermittent, whole 5.0 (within the tolerance)
        recs += [{"system": name, "subset": "intermittent", "si_sdri": 4.0},
                 {"system": name, "subset": "whole", "si_sdri": 5.0}]
    best, worse_whole = names[7], names[3]
    recs += [{"system": best, "subset": "intermittent", "si_sdri": 6.0},          # mean 5.0: the pick
             {"system": worse_whole, "subset": "intermittent", "si_sdri": 20.0},  # better, but loses the whole set
             {"system": worse_whole, "subset": "whole", "si_sdri": 3.0}]
    name, opts, inter, whole = ev.pick_defaults(recs)
    assert name == best and inter == pytest.approx(5.0) and whole == pytest.approx(5.0)
    assert dict(ev.ablation_configs())[best] == opts
