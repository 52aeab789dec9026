#!/usr/bin/env bash
# Install onnxruntime-web at the version package-lock.json pins (npm ci: integrity-checked) and put in place
# only the files the app serves to the browser: the WebAssembly build's ES module (its .mjs loader bundled
# in) and its .wasm, plus a gzipped copy of the .wasm that the app sends to browsers that accept gzip.
# Not the WebGPU builds. Safe to re-run: nothing is downloaded or copied when it is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

DIST=node_modules/onnxruntime-web/dist
RUNTIME=mnist_cnn/web/pad/runtime
FILES=(ort.wasm.bundle.min.mjs ort-wasm-simd-threaded.wasm)

if ! command -v npm >/dev/null; then
    echo "web_runtime.sh: npm is not installed; the pad will read drawings on the server." >&2
    exit 1
fi
wanted=$(node -p "require('./package-lock.json').packages['node_modules/onnxruntime-web'].version")
installed=$(node -p "try { require('./$DIST/../package.json').version } catch { '' }")
if [ "$installed" != "$wanted" ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

mkdir -p "$RUNTIME"
for name in "${FILES[@]}"; do
    cmp -s "$DIST/$name" "$RUNTIME/$name" || cp "$DIST/$name" "$RUNTIME/$name"
done
wasm="$RUNTIME/ort-wasm-simd-threaded.wasm"
if [ ! -f "$wasm.gz" ] || [ "$wasm" -nt "$wasm.gz" ]; then
    gzip -9 --no-name --stdout "$wasm" > "$wasm.gz.tmp" && mv "$wasm.gz.tmp" "$wasm.gz"
fi
echo "$wanted" > "$RUNTIME/VERSION"
