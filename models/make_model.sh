#!/usr/bin/env bash
# Reproduce the emotiond model: data -> train (fixed seed) -> evaluate -> fp32 ONNX -> int8 QDQ ONNX -> reports.
#   models/make_model.sh [--data DIR]            full recipe (~45-60 min on 2 shared CPU cores)
#   models/make_model.sh --release [--data DIR]  the shipped model: the full recipe, then a second run that
#                                                continues from its export (see MODEL_CARD.md, ~3 h on 2 cores)
#   models/make_model.sh --smoke OUTDIR [--data DIR]   tiny model, a few steps (< 2 min), exported to OUTDIR
#   models/make_model.sh --pack FILE [--data DIR]      the data in one file for the GPU run (distill.py, ~2 min)
#   models/make_model.sh --distill-smoke OUTDIR [--data DIR]   the GPU run of model 2.0 (teacher, distilled
#                                                students, export, int8, results.json) on the CPU, a few steps (~1 min)
# DIR holds the public formats: fer2013.csv [+ fer2013new.csv] [+ CK+48/] [+ CK+/]. Without --data the recipe
# uses models/data/, exporting it from $EMOTIOND_DATA_DIR, else ../shared/data (export_public.py), when it is missing.
# Env overrides: PYTHON (default /usr/bin/python3), EPOCHS (20), EXTRA_EPOCHS (12), STREAM_STEPS (500), THREADS (2),
#   LR (stage-1 peak, 2e-3), SMOOTH (stage-2 smoothing weight, 10), SMOOTH_FROM (first stream frame pair it
#   applies to, 0), INIT_ONNX (continue from an fp32 export),
#   MIRROR=1 (export the two-view graph: mean features of the face and its mirror; +0.8 points, 2x CNN time),
#   CONSIST / CONSIST_FROM (stage-2 steady-stream margin hinge: weight, 0 = off, and first frame it applies to),
#   SWITCH_P / SWITCH_FREE / STREAM_LEN (stage-2 streams: share that switch to another face (0.3), frame pairs
#   after a switch left free of the smoothing penalty (2), frames per stream (20)).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
DATA=""
SMOKE=""
RELEASE=""
PACK=""
DISTILL_SMOKE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="${2:?--data needs a directory}"; shift 2 ;;
    --smoke) SMOKE="${2:?--smoke needs an output directory}"; shift 2 ;;
    --release) RELEASE=1; shift ;;
    --pack) PACK="${2:?--pack needs an output file}"; shift 2 ;;
    --distill-smoke) DISTILL_SMOKE="${2:?--distill-smoke needs an output directory}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "make_model.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "make_model.sh: ERROR: $*" >&2; exit 1; }

if [ -n "$RELEASE" ]; then
  [ -z "$SMOKE" ] || die "--release and --smoke exclude each other"
  DATA_ARGS=(); [ -z "$DATA" ] || DATA_ARGS=(--data "$DATA")
  # Run A: from random weights (stage 1: 40 + 16 epochs; stage 2: 500 stream steps, smoothing 10).
  EPOCHS=40 EXTRA_EPOCHS=16 LR=2e-3 SMOOTH=10 SMOOTH_FROM=0 CONSIST=0 STREAM_STEPS=500 INIT_ONNX="" \
    SWITCH_P=0.3 SWITCH_FREE=2 STREAM_LEN=20 "$0" "${DATA_ARGS[@]}"
  rm -rf "$HERE/work/release-a" && mv "$HERE/work/full" "$HERE/work/release-a"
  # Run B: continue from run A's fp32 export (stage 1: one more 50-epoch cosine cycle at peak LR 1e-3;
  # stage 2 from the new CNN on 30-frame streams, half of which switch to another face, with smoothing 250
  # on frame pairs from the 7th frame on and from the 7th frame after a switch). Its outputs are the shipped files.
  exec env EPOCHS=50 EXTRA_EPOCHS=0 LR=1e-3 SMOOTH=250 SMOOTH_FROM=6 CONSIST=0 STREAM_STEPS=500 INIT_ONNX="$HERE/emotion-cnn-lstm.fp32.onnx" \
    SWITCH_P=0.5 SWITCH_FREE=6 STREAM_LEN=30 "$0" "${DATA_ARGS[@]}"
fi

command -v "$PY" >/dev/null || die "python not found at $PY (Debian: apt-get install python3 python3-torch python3-onnx python3-numpy python3-matplotlib)"
"$PY" -c "import torch, onnx, numpy, matplotlib" 2>/dev/null \
  || die "$PY lacks torch/onnx/numpy/matplotlib (Debian: apt-get install python3-torch python3-onnx python3-numpy python3-matplotlib)"
"$PY" -c "import cv2" 2>/dev/null || echo "make_model.sh: note: python3-opencv missing: CK+ full-sequence evaluation is skipped"

if [ -z "$DATA" ]; then
  DATA="$HERE/data"
  if [ ! -f "$DATA/fer2013.csv" ]; then
    EXPORT="${EMOTIOND_DATA_DIR:-$REPO/../shared/data}/export_public.py"
    [ -f "$EXPORT" ] || die "no data: $DATA/fer2013.csv is missing and $EXPORT not found; pass --data DIR (a folder with fer2013.csv [+ fer2013new.csv, CK+48/, CK+/])"
    echo "== exporting public-format data to $DATA"
    "$PY" "$EXPORT" "$DATA"
  fi
fi
[ -d "$DATA" ] || die "data directory '$DATA' does not exist"
[ -f "$DATA/fer2013.csv" ] || die "missing $DATA/fer2013.csv (Kaggle FER2013 CSV: emotion,pixels,Usage)"
[ -f "$DATA/fer2013new.csv" ] || echo "make_model.sh: note: $DATA/fer2013new.csv (FER+) missing: training without FER+ soft labels"
[ -d "$DATA/CK+48" ] || echo "make_model.sh: note: $DATA/CK+48/ missing: training on FER2013 only"

if [ -n "$PACK" ]; then
  exec "$PY" "$HERE/explore_stage1.py" pack "$DATA" "$PACK"
fi
if [ -n "$DISTILL_SMOKE" ]; then
  OUT="$(mkdir -p "$DISTILL_SMOKE" && cd "$DISTILL_SMOKE" && pwd)"
  "$PY" "$HERE/explore_stage1.py" pack "$DATA" "$OUT/work/pack.pkl.xz" --limit 800
  exec "$PY" "$HERE/distill.py" run --packed "$OUT/work/pack.pkl.xz" --out "$OUT/out" --work "$OUT/work" --device cpu \
    --smoke --teacher-epochs 1 --teacher-width 0.25 --students C6@1 --deadline 60 --reserve 10 --threads "${THREADS:-2}"
fi

if [ -n "$SMOKE" ]; then
  OUT="$(mkdir -p "$SMOKE" && cd "$SMOKE" && pwd)"
  WORK="$OUT/work"; REPORTS="$OUT/reports"
  FP32="$OUT/emotion-cnn-lstm.fp32.onnx"; INT8="$OUT/emotion-cnn-lstm.int8.onnx"
  TRAIN_ARGS=(--epochs 1 --extra-epochs 0 --limit 800 --ck-repeat 1 --stream-steps 6 --stream-batch 8 --smooth-from 2 --consist 1 --consist-from 6)
  EVAL_ARGS=(--limit 800 --streams 40 --ck-max 3); QUANT_ARGS=(--limit 800 --n 128)
else
  WORK="$HERE/work/full"; REPORTS="$HERE/reports"
  FP32="$HERE/emotion-cnn-lstm.fp32.onnx"; INT8="$HERE/emotion-cnn-lstm.int8.onnx"
  TRAIN_ARGS=(--epochs "${EPOCHS:-20}" --extra-epochs "${EXTRA_EPOCHS:-12}" --stream-steps "${STREAM_STEPS:-500}"
              --lr "${LR:-2e-3}" --smooth "${SMOOTH:-10}" --smooth-from "${SMOOTH_FROM:-0}"
              --consist "${CONSIST:-0}" --consist-from "${CONSIST_FROM:-6}"
              --switch-p "${SWITCH_P:-0.3}" --switch-free "${SWITCH_FREE:-2}" --stream-len "${STREAM_LEN:-20}")
  if [ -n "${INIT_ONNX:-}" ]; then
    [ -f "$INIT_ONNX" ] || die "INIT_ONNX=$INIT_ONNX: no such file"
    mkdir -p "$WORK" && cp -f "$INIT_ONNX" "$WORK/init.fp32.onnx"  # the export below may overwrite INIT_ONNX
    TRAIN_ARGS+=(--init-onnx "$WORK/init.fp32.onnx")
  fi
  EVAL_ARGS=(); QUANT_ARGS=()
fi
mkdir -p "$WORK" "$REPORTS"
T0=$(date +%s)
echo "== train ($WORK/train.log)"
"$PY" "$HERE/train.py" --data "$DATA" --work "$WORK" --threads "${THREADS:-2}" "${TRAIN_ARGS[@]}"
echo "== evaluate (python, fp32)"
"$PY" "$HERE/evaluate.py" --data "$DATA" --work "$WORK" --reports "$REPORTS" "${EVAL_ARGS[@]}"
echo "== export fp32 ONNX -> $FP32"
MIRROR_ARGS=(); [ "${MIRROR:-0}" = 1 ] && MIRROR_ARGS=(--mirror)
"$PY" "$HERE/export_onnx.py" --model "$WORK/model.pt" --out "$FP32" "${MIRROR_ARGS[@]}"
echo "== quantize int8 QDQ -> $INT8"
"$PY" "$HERE/quantize.py" --model "$WORK/model.pt" --fp32 "$FP32" --out "$INT8" --data "$DATA" "${QUANT_ARGS[@]}" "${MIRROR_ARGS[@]}"
"$PY" "$HERE/onnx_info.py" "$FP32" "$INT8" --json "$REPORTS/onnx_info.json" > /dev/null
if command -v node >/dev/null && [ -d "$REPO/node_modules/onnxruntime-node" ]; then
  echo "== onnxruntime-node check"
  node "$HERE/check_ort.cjs" "$WORK" "$FP32" "$INT8" | tee "$REPORTS/ort_check.json"
  "$PY" "$HERE/onnx_info.py" "$WORK"/*.ort-optimized.onnx --json "$REPORTS/ort_optimized_ops.json" > /dev/null || true
else
  echo "make_model.sh: note: node or node_modules/onnxruntime-node missing: skipping the ORT check"
fi
echo "== done in $(( $(date +%s) - T0 )) s: $FP32 $INT8 (reports in $REPORTS)"
