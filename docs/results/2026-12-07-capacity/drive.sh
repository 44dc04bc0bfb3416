#!/bin/bash
# One configuration of the capacity measurement (docs/results/2026-12-07-capacity.md), from the repository
# root: world, tokenizer, pretrain (1 epoch), sft-data and the SFT arms of the `toy` recipe, then
# `psft probe` on base and the SFT checkpoints (no evaluation, no RL: the probe set is the first 300 `test`
# tasks, as the probe reads them when nothing was evaluated).
# usage: drive.sh NAME NAMING LAYERS HIDDEN INTERMEDIATE ARMS     e.g. drive.sh pl-8x192 per_language 8 192 512 parallel
set -u
NAME=$1; NAMING=$2; L=$3; H=$4; I=$5; ARMS=$6
OUT=artifacts/runs/capacity-$NAME
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
SETS=(--set runtime.bf16_autocast=false --set runtime.threads=1 --set world.naming=$NAMING
      --set model.num_layers=$L --set model.hidden_size=$H --set model.intermediate_size=$I
      --set pretrain.epochs=1.0)
STAGES="world tokenizer pretrain sft-data"
for a in ${ARMS//,/ }; do STAGES="$STAGES sft-$a"; done
for s in $STAGES; do
  echo "== $(date +%T) stage $s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  .venv/bin/psft run --recipe toy --out $OUT --resume --quiet "${SETS[@]}" --stage $s || { echo "FAILED $s"; exit 1; }
done
CK=base; for a in ${ARMS//,/ }; do CK="$CK,sft-$a"; done
echo "== $(date +%T) probe $CK (load $(cut -d' ' -f1-3 /proc/loadavg))"
.venv/bin/psft probe $OUT --ckpt $CK --pooling mean --norms raw,centered --threads 1 --split test || { echo "FAILED probe"; exit 1; }
echo "== $(date +%T) done (load $(cut -d' ' -f1-3 /proc/loadavg))"
