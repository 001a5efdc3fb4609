#!/usr/bin/env bash
# Ready an unattended GPU session (run here, before the first device call): the wheels the GPU
# image lacks (it has torch, numpy, pillow, click, safetensors, tqdm) in .whl/, and the training
# images in data-local/train. Both are git-ignored: name them in the device call's `carry`.
# The carry and the tracked tree share 64 MiB: run from a throwaway branch without the weights
# the run does not need, e.g. `git switch -c gpu && git rm -q weights/teacher.safetensors && git commit -qm gpu`
# (scripts/gpu_train.sh says how a teacher run with its 24 MB of weights gets all the photos).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl constriction==0.5.0 pytorch-msssim==1.0.0
mkdir -p data-local
rm -rf data-local/train
cp -r "$SHARED/data/train" data-local/train
du -sh .whl data-local/train
