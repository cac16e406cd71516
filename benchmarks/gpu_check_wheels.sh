#!/usr/bin/env bash
# Wheels of what benchmarks/gpu_check.sh needs and a bare GPU image lacks (jsonschema and the
# packages it imports), fetched here, where pip reaches PyPI, for a machine that cannot:
#
#     bash benchmarks/gpu_check_wheels.sh [DEST]     # default .whl/ (ignored by git)
#
# then bring DEST to the GPU machine beside the repository; gpu_check.sh installs them from there
# (GPU_CHECK_WHEELS, default .whl) into a temporary folder, never into the image's Python.
# The target is the image's interpreter: CPython 3.12 on x86_64 Linux (GPU_CHECK_PYTHON_VERSION
# changes the version).  The versions are those this project is tested with here.
set -euo pipefail

DEST=${1:-.whl}
VERSION=${GPU_CHECK_PYTHON_VERSION:-3.12}
PY=${PYTHON:-python3}
PACKAGES=(
    jsonschema==4.26.0
    jsonschema-specifications==2025.9.1
    referencing==0.37.0
    rpds-py==2026.9.1 # compiled: the wheel for the target interpreter and platform
    attrs==26.1.0
    typing-extensions==4.16.0
)
mkdir -p "$DEST"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "${PACKAGES[@]}"
ls -1 "$DEST"
