#!/usr/bin/env bash
# Render, on a new machine, every cache the default model's training and model choice read (all under
# cache/corpus, git-ignored; each step skips what is already there, so an interrupted run continues):
#   the score cache (music21 note lists), the stem banks of the training source
#   `banks:fluidr3,csound,opl3+ensembles:fluidr3,csound`, the valid bank that training validates on, and
#   the two valid look-alike sets the checkpoints are chosen on (FluidR3 and TimGM; never the test split).
# About 40 minutes on 2 cores, most of it the score cache.
#   scripts/prepare_training_data.sh
set -euo pipefail
cd "$(dirname "$0")/.."
es=.venv/bin/eventsep
$es corpus scores
$es corpus bank --split valid --per-class 128
$es corpus bank --split train --per-class 1024
$es corpus bank --split train --soundfont csound --per-class 512
$es corpus bank --split train --soundfont opl3 --per-class 512
$es corpus ensembles --split train --per-class 512
$es corpus ensembles --split train --soundfont csound --per-class 512
$es corpus eval-set --split valid --soundfont fluidr3
$es corpus eval-set --split valid --soundfont timgm
