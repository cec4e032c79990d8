#!/usr/bin/env bash
# Fetch, on a machine with network access, the wheels emastats needs that the GPU machine's image lacks
# (it has torch, triton, numpy, scipy, sympy, statsmodels, pandas, matplotlib, scikit-learn, rich, pytest,
# hypothesis, markdown-it-py, mpmath, pyyaml, ...; see the device notes). Then run benchmarks/gpu_check.sh there
# with .whl/ carried: it installs them into /tmp/site before anything else.
#   benchmarks/gpu_wheels.sh            # from the repository root; writes .whl/ (git-ignored through .git/info/exclude)
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
# emastats' own dependencies missing there, then what they need in turn (pure Python unless noted)
WANTED=(
  "antlr4-python3-runtime==4.11.1" latex2mathml jsonschema jsonschema-specifications referencing rpds-py
  nbformat fastjsonschema jupyter_core traitlets platformdirs pypdf
  "dask[distributed]" distributed partd locket tblib zict tornado
)
"${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl "${WANTED[@]}"
du -sh .whl
