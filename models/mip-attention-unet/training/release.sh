#!/usr/bin/env bash
# Releases a checkpoint as the shipped model: model.onnx, model.pt, evaluation.json and model.json
# (GENERATED fields only; curated ones such as suvWhite are kept). Then run the parity test:
#
#   models/mip-attention-unet/training/release.sh 0.1.0 [checkpoint, default runs/cpu/best.pt]
#   npx jest test/model
#
# Environment: THRESHOLD, MIN_AREA, SEED_THRESHOLD, CONFIRMED_SEED_THRESHOLD, CONFIRMED_MIN_AREA and FLIP_TTA=1
# (from tune_postprocess.py; defaults 0.5, the training config's area, no hysteresis, no separate rule for
# confirmed images, no flip),
# MIPSEG_MIP_PET (default ../shared/data/mip-pet beside the checkout), TORCH_PYTHON
# (default /usr/bin/python3, the interpreter that has torch), THREADS for evaluation (default 1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
model_dir="$(dirname "$here")"
version="${1:?usage: release.sh VERSION [CHECKPOINT]}"
checkpoint="$(realpath "${2:-$here/runs/cpu/best.pt}")"
data="$(realpath "${MIPSEG_MIP_PET:-$here/../../../../shared/data/mip-pet}")"
python="${TORCH_PYTHON:-/usr/bin/python3}"
# Output post-processing, chosen on the TRAINING split by tune_postprocess.py (never on validation).
threshold="${THRESHOLD:-0.5}"
postprocess=()
[ -n "${SEED_THRESHOLD:-}" ] && postprocess+=(--seed-threshold "$SEED_THRESHOLD")
[ -n "${CONFIRMED_SEED_THRESHOLD:-}" ] && postprocess+=(--confirmed-seed-threshold "$CONFIRMED_SEED_THRESHOLD")
[ -n "${CONFIRMED_MIN_AREA:-}" ] && postprocess+=(--confirmed-min-area "$CONFIRMED_MIN_AREA")
[ "${FLIP_TTA:-0}" = 1 ] && postprocess+=(--flip-tta)
# In words, for model.json: how the checkpoint was chosen (SELECTION) and what it was fine-tuned from (INITIALISED_FROM).
provenance=()
[ -n "${SELECTION:-}" ] && provenance+=(--selection "$SELECTION")
[ -n "${INITIALISED_FROM:-}" ] && provenance+=(--initialised-from "$INITIALISED_FROM")

# A running training rewrites best.pt every few minutes: snapshot it so every artefact has the same weights.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$checkpoint" "$tmp/checkpoint.pt"
cd "$here"
min_area="${MIN_AREA:-$("$python" -c 'import sys, torch
print(torch.load(sys.argv[1], map_location="cpu")["config"].get("min_component_area", 0))' "$tmp/checkpoint.pt")}"

echo "exporting $checkpoint (min component area $min_area px, threshold $threshold ${postprocess[*]})"
"$python" export_onnx.py --weights "$tmp/checkpoint.pt" --onnx "$model_dir/model.onnx" --state-dict "$model_dir/model.pt"
echo "evaluating on the validation split"
OMP_NUM_THREADS="${THREADS:-1}" "$python" evaluate.py --checkpoint "$tmp/checkpoint.pt" --data "$data" \
  --threshold "$threshold" --min-area "$min_area" "${postprocess[@]}" > "$model_dir/evaluation.json"
"$python" write_manifest.py --checkpoint "$tmp/checkpoint.pt" --evaluation "$model_dir/evaluation.json" \
  --data "$data" --model-dir "$model_dir" --threshold "$threshold" --min-area "$min_area" "${postprocess[@]}" "${provenance[@]}" --version "$version"
echo "released $version; now run: npx jest test/model"
