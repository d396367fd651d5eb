#!/usr/bin/env bash
# Ship a checkpoint as the default model: its weights, config and class latents into
# engine/assets/default_model, and the ONNX bundle of the streaming runtime re-exported (with its parity
# check) into engine/assets/default_onnx. The first time, the thesis-recipe model that shipped before is
# kept as engine/assets/thesis_model (benchmarks/results.py reports it beside the default). The presence
# calibration (engine/assets/presence.json) is refitted to the new separator.
#   scripts/ship_default.sh runs/tcn_sisdr/best
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:?usage: scripts/ship_default.sh CHECKPOINT_DIR}
for f in config.json model.safetensors latents.json latents.safetensors; do
  [ -f "$ckpt/$f" ] || { echo "$ckpt: no $f (a checkpoint with class latents is needed)" >&2; exit 2; }
done
if [ ! -d engine/assets/thesis_model ]; then
  git mv engine/assets/default_model engine/assets/thesis_model
fi
mkdir -p engine/assets/default_model
cp "$ckpt"/{config.json,model.safetensors,latents.json,latents.safetensors} engine/assets/default_model/
.venv/bin/eventsep export engine/assets/default_model --out engine/assets/default_onnx
# WHETHER is calibrated to the separator's own outputs: refit it on the valid look-alike set (built once)
if [ ! -f cache/corpus/evalset/valid-fluidr3/manifest.json ]; then
  .venv/bin/eventsep corpus eval-set --split valid --soundfont fluidr3
fi
.venv/bin/python -m engine.presence_fit --set valid-fluidr3
