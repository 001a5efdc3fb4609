#!/usr/bin/env bash
# Ready an unattended GPU session (run here, before the first device call; scripts/gpu_train.sh
# runs there): the wheels the GPU image lacks (it has torch, numpy, pillow, click, safetensors,
# tqdm) in .whl/, the training images in data-local/train (EXTRA=1: also data-local/train-extra),
# and for the cross-machine determinism check 6 Kodak images with the streams this CPU encodes
# from them (data-local/cross). All git-ignored: name .whl and data-local in the call's `carry`.
# The carry and the tracked tree share 64 MiB: run from a throwaway branch without the weights
# the run does not need (`git switch -c gpu && git rm -q weights/teacher.safetensors && git commit -qm gpu`;
# a leg that starts from weights/campaign/ also drops weights/student.safetensors, 7.6 MB);
# train/ (46 MB) and train-extra/ (50 MB) need two calls: carry one with `stage`, the other with `start`.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
PYTHON="${PYTHON:-.venv/bin/python}"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl constriction==0.5.0 pytorch-msssim==1.0.0
mkdir -p data-local
rm -rf data-local/train data-local/train-extra data-local/cross
cp -r "$SHARED/data/train" data-local/train
[ "${EXTRA:-0}" = 1 ] && cp -r "$SHARED/data/train-extra" data-local/train-extra
mkdir -p data-local/cross/images
for n in 01 04 08 13 19 23; do cp "$SHARED/data/kodak/kodim$n.png" data-local/cross/images/; done
"$PYTHON" scripts/cross_machine.py write data-local/cross/images/*.png -o data-local/cross/cpu --device cpu
du -sh .whl data-local/*
