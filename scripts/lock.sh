#!/usr/bin/env bash
# `make lock`: resolves pyproject.toml (with the `test` extra) into the committed locks under
# requirements/, every package at one version with the sha256 of each of its files:
#   cpu.lock      the default environment: torch's CPU build (requirements/torch-cpu.in)
#   gpu.lock      the same with the default index's CUDA build of torch (torch-gpu.in) and its
#                 nvidia-* libraries; every other package at cpu.lock's version
#   nodeps.lock   mistral-common and the test-only lm-eval + accelerate, installed --no-deps
#                 (requirements/nodeps.in says why)
#   workers.txt   what Beam workers install (--requirements_file): the run-time dependencies of
#                 pyproject.toml (no test extra) at gpu.lock's versions, one `name==version` a
#                 line, without hashes (Beam hands each line to `pip download` on its own)
# Versions already locked stay unless pyproject.toml needs another: `make lock UPGRADE=1` moves
# every package to the newest allowed, `make lock UPGRADE=numpy` one. The diff is the review.
# The resolver is uv (pinned below), installed from the package index into .cache/lock-tools:
# it resolves all four in seconds, for a stated Python and platform rather than the machine's.
#   PYTHON        interpreter whose X.Y the locks target (default python3); setup checks it
#   UPGRADE       empty, 1 (all packages) or a package name
# torch's CPU build is looked up in pip's find-links (pip's configuration or PIP_FIND_LINKS) or
# in UV_EXTRA_INDEX_URL when set (the PyTorch CPU wheel index).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}
TOOLS=.cache/lock-tools
REQ=requirements
say() { echo "[lock] $*"; }

if [ "$("$TOOLS/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION into $TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "uv==$UV_VERSION"
fi
UV=$TOOLS/bin/uv
PYV=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
FIND_LINKS=${PIP_FIND_LINKS:-$("$PYTHON" -m pip config get global.find-links 2>/dev/null || true)}
upgrade=()
case "${UPGRADE:-}" in "") ;; 1) upgrade=(--upgrade) ;; *) upgrade=(--upgrade-package "$UPGRADE") ;; esac
# A stated target, not this machine: CPython X.Y on x86_64 Linux (manylinux_2_28).
common=(--python-version "$PYV" --python-platform x86_64-unknown-linux-gnu
        --custom-compile-command "make lock (Python $PYV, x86_64 Linux)" --quiet "${upgrade[@]}")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# name==version lines of a lock, for constraints (no hashes, no local tag on torch).
pins() { grep -E '^[A-Za-z0-9._-]+==' "$1" | sed -E 's/ *\\$//; s/\+[A-Za-z0-9.]+$//' | grep -v "^torch==" || true; }

say "cpu.lock (Python $PYV, $(grep -v '^#' $REQ/torch-cpu.in))"
fl=(); for d in $FIND_LINKS; do fl+=(--find-links "$d"); done
"$UV" pip compile pyproject.toml $REQ/build.in $REQ/torch-cpu.in --extra test --generate-hashes \
  "${fl[@]}" "${common[@]}" -o $REQ/cpu.lock

say "gpu.lock ($(grep -v '^#' $REQ/torch-gpu.in), every other package as in cpu.lock)"
pins $REQ/cpu.lock >"$tmp/cpu-pins.txt"
UV_FIND_LINKS= UV_EXTRA_INDEX_URL= "$UV" pip compile pyproject.toml $REQ/build.in $REQ/torch-gpu.in \
  --extra test --generate-hashes -c "$tmp/cpu-pins.txt" "${common[@]}" -o $REQ/gpu.lock
# The constraints' temporary path in the annotations, named by what it holds (a stable diff).
sed -i "s|-c $tmp/cpu-pins.txt|-c requirements/cpu.lock|" $REQ/gpu.lock

say "nodeps.lock"
"$UV" pip compile $REQ/nodeps.in --no-deps --generate-hashes "${common[@]}" -o $REQ/nodeps.lock

say "workers.txt"
pins $REQ/gpu.lock >"$tmp/gpu-pins.txt"
grep -E '^torch==' $REQ/gpu.lock | sed -E 's/ *\\$//' >>"$tmp/gpu-pins.txt"
{
  echo "# Beam workers' requirements (--requirements_file requirements/workers.txt), made by"
  echo "# \`make lock\` from pyproject.toml's run-time dependencies at gpu.lock's versions (the"
  echo "# default index's builds; the launcher's cpu.lock has the same versions, torch's +cpu aside)."
  UV_FIND_LINKS= UV_EXTRA_INDEX_URL= "$UV" pip compile pyproject.toml -c "$tmp/gpu-pins.txt" \
    --no-header --no-annotate "${common[@]}" -o "$tmp/workers.txt"
  cat "$tmp/workers.txt"
} >$REQ/workers.txt
say "done: git diff requirements/ shows what moved"
