"""Write the bundled demo example (engine/assets/example) from one evaluation-set item.

    .venv/bin/python scripts/make_example.py --item ITEM_ID [--evalset cache/corpus/evalset/fluidr3]

The item's mixture, its true target stem and its reference clip (same class, a different test piece)
are copied as 16-bit FLAC with an example.json describing them; `eventsep demo` reads that folder.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from make_demo_set import write_example  # scripts/ is on the path when a script runs

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
    info = write_example(item, es.soundfont, out)
    print(f"wrote {out}: {info['description']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
