#!/usr/bin/env bash
# Build the fan-out consumers' Lambda layer: worker/requirements.txt as manylinux wheels for the
# Lambda runtime (Python 3.11, x86_64), unpacked under build/lambda-layer/python/ as Lambda expects.
# Runs anywhere pip runs (no Docker): pip picks binary wheels for the target platform, not this host.
# Usage: scripts/build_lambda_layer.sh [output dir]   (the program reads orders:consumerLayerDir)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/lambda-layer}"
python="${PYTHON:-.venv/bin/python}"
rm -rf "$out"
mkdir -p "$out/python"
# The whole runtime file, as the Spot instances install it: one description of the runtime. boto3 is in the
# Lambda runtime already, but pinned here so the function runs the tested version; pydantic-settings
# (the FIFO worker's settings, with python-dotenv) is not imported by the consumers and costs well under 1 MB.
"$python" -m pip install --quiet --disable-pip-version-check \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all: \
  --target "$out/python" -r worker/requirements.txt
find "$out/python" -name '__pycache__' -type d -prune -exec rm -rf {} +
du -sh "$out/python" | awk '{print "layer: " $2 " (" $1 " unzipped; Lambda allows 250 MB)"}'
