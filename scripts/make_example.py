"""Write the bundled demo example (engine/assets/example) from one evaluation-set item.

    .venv/bin/python scripts/make_example.py --item ITEM_ID [--evalset cache/corpus/evalset/fluidr3]

The item's mixture, its true target stem and its reference clip (same class, a different test piece)
are copied as 16-bit FLAC with an example.json describing them; `eventsep demo` reads that folder.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import soundfile as sf

from engine.corpus.evalset import load_evalset

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--item", required=True, help="evaluation-set item id (see its manifest.json)")
    ap.add_argument("--evalset", default=str(ROOT / "cache/corpus/evalset/fluidr3"))
    ap.add_argument("--out", default=str(ROOT / "engine/assets/example"))
    args = ap.parse_args()
    es = load_evalset(args.evalset)
    ids = [it["id"] for it in es.manifest["items"]]
    if args.item not in ids:
        print(f"no item {args.item!r} in {args.evalset}", file=sys.stderr)
        return 2
    item = es[ids.index(args.item)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, audio in (("mixture", item.mixture), ("target", item.target), ("reference", item.reference)):
        sf.write(out / f"{name}.flac", audio, item.sample_rate, subtype="PCM_16")
    m = item.meta
    info = {"mixture": "mixture.flac", "target": "target.flac", "reference": "reference.flac",
            "target_class": item.target_class, "target_fine": m["target_fine"],
            "description": f"{item.target_class} ({m['target_fine']}) with {', '.join(m['others_fine'])}, "
                           f"from {m['piece']} (test split, {es.soundfont})",
            "reference_description": f"{m['reference_fine']} from {m['reference_piece']}",
            "evalset_item": item.id, "soundfont": es.soundfont, "sample_rate": item.sample_rate}
    (out / "example.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {out}: {info['description']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
