#!/usr/bin/env bash
# Builds the example mods and puts them in assets/mods/, the folder the game
# loads at start-up: the Rust ones for wasm32-wasip2, the Python ones with
# componentize-py and the JavaScript ones with componentize-js
# (mods/python/build.sh and mods/js/build.sh install them, pinned, on first
# use).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2 --target-dir target/mods -p mover -p greeter -p storm -p raw-spinner
mkdir -p assets/mods
for m in mover greeter storm raw_spinner; do
    cp "target/mods/wasm32-wasip2/release/$m.wasm" assets/mods/
done
bash mods/python/build.sh
cp target/mods-py/*_py.wasm assets/mods/
bash mods/js/build.sh
cp target/mods-js/*_js.wasm assets/mods/
ls -l assets/mods/*.wasm
