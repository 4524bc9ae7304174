#!/usr/bin/env bash
# Builds the Python and JavaScript example tools into target/polyglot/, installing the pinned
# toolchains into .tools/ first if needed (componentize-py from PyPI, componentize-js from npm).
# Re-running is cheap: a component is rebuilt only when its sources or the WIT changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

COMPONENTIZE_PY_VERSION=0.25.1
COMPONENTIZE_JS_VERSION=0.23.0
tools="$root/.tools"
out="$root/target/polyglot"
mkdir -p "$out"

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "build-polyglot: '$1' is required ($2)" >&2; exit 1; }
}

py="$tools/venv/bin/componentize-py"
if ! "$py" --version 2>/dev/null | grep -q "$COMPONENTIZE_PY_VERSION"; then
    need python3 "install Python 3.10+"
    echo "build-polyglot: installing componentize-py $COMPONENTIZE_PY_VERSION into .tools/venv"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

js="$tools/node/node_modules/.bin/componentize-js"
if ! grep -q "\"version\": \"$COMPONENTIZE_JS_VERSION\"" "$tools/node/node_modules/@bytecodealliance/componentize-js/package.json" 2>/dev/null; then
    need npm "install Node.js 18+"
    echo "build-polyglot: installing componentize-js $COMPONENTIZE_JS_VERSION into .tools/node"
    mkdir -p "$tools/node"
    npm install --prefix "$tools/node" --no-audit --no-fund --loglevel=error \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION" >/dev/null
fi

# up_to_date OUTPUT SOURCES...: true when OUTPUT exists and is newer than every source file.
up_to_date() {
    local output=$1; shift
    [ -f "$output" ] || return 1
    [ -z "$(find "$@" -newer "$output" -type f -print -quit)" ]
}

if up_to_date "$out/word_stats.wasm" plugins/python/word-stats wit; then
    echo "build-polyglot: word_stats.wasm is up to date"
else
    echo "build-polyglot: building plugins/python/word-stats -> target/polyglot/word_stats.wasm"
    "$py" -d wit -w tool-plugin componentize -p plugins/python/word-stats app -o "$out/word_stats.wasm.tmp" >/dev/null
    mv "$out/word_stats.wasm.tmp" "$out/word_stats.wasm"
fi

if up_to_date "$out/unit_convert.wasm" plugins/js/unit-convert wit; then
    echo "build-polyglot: unit_convert.wasm is up to date"
else
    echo "build-polyglot: building plugins/js/unit-convert -> target/polyglot/unit_convert.wasm"
    "$js" plugins/js/unit-convert/app.js --wit wit -n tool-plugin -o "$out/unit_convert.wasm.tmp" >/dev/null
    mv "$out/unit_convert.wasm.tmp" "$out/unit_convert.wasm"
fi
