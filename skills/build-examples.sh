#!/usr/bin/env bash
# Builds the example skills into OUTDIR, one folder per skill:
#
#   OUTDIR/summary-py/{SKILL.md, summary-py.wasm, summary-py.toml}   (Python, componentize-py)
#   OUTDIR/weather-js/{SKILL.md, weather-js.wasm, weather-js.toml}   (JavaScript, jco componentize)
#
# Usage: bash skills/build-examples.sh OUTDIR
#
# Needs python3 (with the venv module), node >= 20 and npm. Installs what is
# missing, idempotently:
#   - componentize-py 0.25.1 into a venv at
#     ${OPENPISTA_TOOLCHAIN_DIR:-$HOME/.cache/openpista-toolchains}/venv
#     (python3 -m venv VENV && VENV/bin/pip install componentize-py==0.25.1);
#   - jco + componentize-js with `npm ci` in skills/weather-js when its
#     node_modules is absent or older than package-lock.json.
# Both build against the top-level files of wit/ (the frozen wit/since_v0.1.*
# subfolders are not read: a WIT folder is its *.wit files plus deps/).
# Safe to run again; never reads stdin.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
MIN_NODE_MAJOR=20

die() {
    echo "build-examples: error: $*" >&2
    exit 1
}
say() { echo "build-examples: $*"; }

[[ $# -eq 1 && -n $1 && $1 != -* ]] || die "usage: bash skills/build-examples.sh OUTDIR"

SKILLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SKILLS_DIR")
WIT_DIR=$REPO_DIR/wit
[[ -f $WIT_DIR/worlds.wit ]] || die "no WIT package at $WIT_DIR (run this from an openpista checkout)"

# Everything missing is named at once, before anything is built.
missing=()
for tool in python3 node npm; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    die "missing on PATH: ${missing[*]} (python3 builds summary-py with componentize-py; node >= $MIN_NODE_MAJOR and npm build weather-js with jco)"
fi

mkdir -p "$1" || die "cannot create output folder $1"
OUT_DIR=$(cd "$1" && pwd)

TOOLCHAIN_DIR=${OPENPISTA_TOOLCHAIN_DIR:-$HOME/.cache/openpista-toolchains}
VENV=$TOOLCHAIN_DIR/venv

export CI=true
export PYTHONDONTWRITEBYTECODE=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

WORK=$(mktemp -d "${TMPDIR:-/tmp}/openpista-skills.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Seconds since the epoch with fractions where bash has them (5.0+).
now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s; fi
}
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
size_of() { awk -v n="$(wc -c <"$1" | tr -d ' ')" 'BEGIN { printf "%d bytes (%.1f MiB)", n, n / 1048576 }'; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is not installed or not on PATH; it is needed to $2"
}

# Copies SKILL.md and the manifest of skill $1 and the built $2 into OUT_DIR/$1.
install_skill() {
    local name=$1 wasm=$2 dest=$OUT_DIR/$1
    mkdir -p "$dest"
    cp "$SKILLS_DIR/$name/SKILL.md" "$dest/SKILL.md"
    cp "$SKILLS_DIR/$name/manifest.toml" "$dest/$name.toml"
    cp "$wasm" "$dest/$name.wasm.partial"
    mv -f "$dest/$name.wasm.partial" "$dest/$name.wasm"
}

# --- summary-py (Python) ------------------------------------------------------

python_toolchain() {
    need python3 "build summary-py (componentize-py runs in a Python venv)"
    local have=""
    if [[ -x $VENV/bin/componentize-py ]]; then
        have=$("$VENV/bin/componentize-py" --version 2>/dev/null </dev/null || true)
    fi
    if [[ $have == "componentize-py $COMPONENTIZE_PY_VERSION" ]]; then
        say "componentize-py $COMPONENTIZE_PY_VERSION already in $VENV"
        return
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        say "creating venv $VENV"
        mkdir -p "$TOOLCHAIN_DIR"
        python3 -m venv "$VENV" </dev/null ||
            die "python3 -m venv failed; install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    say "installing componentize-py==$COMPONENTIZE_PY_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        "componentize-py==$COMPONENTIZE_PY_VERSION" </dev/null ||
        die "pip could not install componentize-py==$COMPONENTIZE_PY_VERSION"
    have=$("$VENV/bin/componentize-py" --version </dev/null)
    [[ $have == "componentize-py $COMPONENTIZE_PY_VERSION" ]] || die "expected componentize-py $COMPONENTIZE_PY_VERSION, got: $have"
}

build_summary_py() {
    local src=$SKILLS_DIR/summary-py stage=$WORK/summary-py start
    python_toolchain
    start=$(now)
    say "summary-py: unit tests of summary.py"
    (cd "$src" && python3 -m unittest -q test_summary </dev/null) || die "summary-py: unit tests failed"
    # Only the component's own modules go into the build (not the tests).
    mkdir -p "$stage"
    cp "$src/app.py" "$src/summary.py" "$stage/"
    say "summary-py: componentize-py -d $WIT_DIR -w tool componentize app -o summary-py.wasm"
    (cd "$stage" && "$VENV/bin/componentize-py" -d "$WIT_DIR" -w tool componentize app -o summary-py.wasm </dev/null) ||
        die "summary-py: componentize-py failed"
    install_skill summary-py "$stage/summary-py.wasm"
    say "summary-py: $OUT_DIR/summary-py/summary-py.wasm, $(size_of "$stage/summary-py.wasm"), built in $(elapsed "$start")"
}

# --- weather-js (JavaScript) --------------------------------------------------

js_toolchain() {
    local dir=$1
    need node "build weather-js (jco componentize runs on Node.js >= $MIN_NODE_MAJOR)"
    need npm "install jco and componentize-js for weather-js (npm ci)"
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' </dev/null)
    ((major >= MIN_NODE_MAJOR)) || die "node $(node --version) is too old; weather-js needs Node.js >= $MIN_NODE_MAJOR"
    if [[ -x $dir/node_modules/.bin/jco && -f $dir/node_modules/.package-lock.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        say "weather-js: node_modules up to date"
        return
    fi
    say "weather-js: npm ci"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null) || die "weather-js: npm ci failed"
}

build_weather_js() {
    local src=$SKILLS_DIR/weather-js start
    js_toolchain "$src"
    start=$(now)
    say "weather-js: npm run build (jco componentize weather.js --wit ../../wit --world-name tool --disable fetch-event --out weather-js.wasm)"
    rm -f "$src/weather-js.wasm"
    (cd "$src" && npm run --silent build </dev/null) || die "weather-js: jco componentize failed"
    [[ -s $src/weather-js.wasm ]] || die "weather-js: the build wrote no weather-js.wasm"
    install_skill weather-js "$src/weather-js.wasm"
    say "weather-js: $OUT_DIR/weather-js/weather-js.wasm, $(size_of "$src/weather-js.wasm"), built in $(elapsed "$start")"
}

total=$(now)
build_summary_py
build_weather_js
say "done in $(elapsed "$total"): $OUT_DIR/summary-py, $OUT_DIR/weather-js"
