"""Write the bundled demo set (engine/assets/demo): 8 test-split examples, one per core class.

    .venv/bin/python scripts/make_demo_set.py [--evalset cache/corpus/evalset/fluidr3]

The rule that picks them was fixed before any model was scored on them, so they cannot be cherry-picked:
for each core class, in the taxonomy's order, **the first item of the FluidR3 evaluation set (manifest
order) whose target is that class and whose reference clip comes from a piece that is not in the
mixture**. The rule looks at the manifest only, never at audio or at any model's output.

Each example folder holds the item's mixture, its true target stem and its reference clip as 16-bit
FLAC, with an example.json; demo.json lists the folders. `eventsep demo` reads it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import soundfile as sf

from engine.corpus.evalset import load_evalset
from engine.taxonomy import CORE_CLASSES

ROOT = Path(__file__).resolve().parents[1]


def pick_items(manifest: dict) -> list[str]:
    """The demo rule (module docstring) on an evaluation-set manifest: one item id per core class."""
    chosen = []
    for coarse in CORE_CLASSES:
        for item in manifest["items"]:       # a mixture's stems all come from one piece (item["piece"])
            if item["target_class"] == coarse and item["reference"]["piece"] != item["piece"]:
                chosen.append(item["id"])
                break
        else:
            raise SystemExit(f"no item of class {coarse} satisfies the rule")
    return chosen


def write_example(item, soundfont: str, folder: Path) -> dict:
    """An evaluation-set item as an example folder: mixture, true target and reference clip as 16-bit
    FLAC, and example.json describing them (what `eventsep demo` reads). Returns the description."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in (("mixture", item.mixture), ("target", item.target), ("reference", item.reference)):
        sf.write(folder / f"{name}.flac", audio, item.sample_rate, subtype="PCM_16")
    m = item.meta
    info = {"mixture": "mixture.flac", "target": "target.flac", "reference": "reference.flac",
            "target_class": item.target_class, "target_fine": m["target_fine"],
            "others_classes": list(item.others_classes),
            "description": f"{item.target_class} ({m['target_fine']}) with {', '.join(m['others_fine'])}, "
                           f"from {m['piece']} (test split, {soundfont})",
            "reference_description": f"{m['reference_fine']} from {m['reference_piece']}",
            "evalset_item": item.id, "soundfont": soundfont, "sample_rate": item.sample_rate}
    (folder / "example.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evalset", default=str(ROOT / "cache/corpus/evalset/fluidr3"),
                    help="the FluidR3 evaluation set (default: cache/corpus/evalset/fluidr3)")
    ap.add_argument("--out", default=str(ROOT / "engine/assets/demo"), help="output folder")
    args = ap.parse_args()
    es = load_evalset(args.evalset)
    ids = [it["id"] for it in es.manifest["items"]]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folders = []
    for item_id in pick_items(es.manifest):
        item = es[ids.index(item_id)]
        info = write_example(item, es.soundfont, out / item_id)
        folders.append(item_id)
        print(f"{item_id}: {info['description']}; reference {info['reference_description']}")
    rule = __doc__.split("**")[1]
    (out / "demo.json").write_text(json.dumps({"rule": rule, "evalset": es.soundfont, "examples": folders},
                                              indent=1) + "\n")
    print(f"wrote {out}/demo.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
