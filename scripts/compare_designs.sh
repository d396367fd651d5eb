#!/usr/bin/env bash
# The design comparison of issue 16: three streamable separators trained with the class-query recipe on
# the stem bank, at equal CPU time (--max-cpu-seconds; one thread each, so they may share the cores).
# Resumable: rerun the same command (with a larger BUDGET to go on). Then:
#   .venv/bin/python benchmarks/design_curves.py runs/cmp_fcgru runs/cmp_melgru runs/cmp_tcn --at-seconds $BUDGET
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-1500}
common=(--source bank --recipe classquery --hidden 256 --batch-size 16 --segment-seconds 3 --lr 1e-3
        --steps 1000000 --threads 1 --validate-every 200 --valid-batches 6 --checkpoint-every 100
        --max-cpu-seconds "$BUDGET" --quiet)
for design in fcgru melgru tcn; do
  layers=2; [ "$design" = tcn ] && layers=6
  nice -n 5 .venv/bin/eventsep train --out "runs/cmp_$design" --arch "$design" --core-layers "$layers" \
      "${common[@]}" > "runs/cmp_$design.log" 2>&1 &
done
wait
