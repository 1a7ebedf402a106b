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
for m in mover greeter raw_spinner; do
    cp "target/mods/wasm32-wasip2/release/$m.wasm" assets/mods/
done

# A package: a folder holding mod.toml, the component as mod.wasm, and
# assets/. Made afresh, with no lone file of the same id beside it. The
# storm, the fireflies and the beacons (one example in each language) ship
# the pictures they are drawn with.
package() {
    local id=$1 wasm=$2 source=$3
    rm -rf "assets/mods/$id" "assets/mods/$id.wasm"
    mkdir -p "assets/mods/$id"
    cp "$source/mod.toml" "assets/mods/$id/"
    cp "$wasm" "assets/mods/$id/mod.wasm"
    cp -r "$source/assets" "assets/mods/$id/"
}
package storm target/mods/wasm32-wasip2/release/storm.wasm mods/storm
bash mods/python/build.sh
for m in target/mods-py/*_py.wasm; do
    id=$(basename "$m" .wasm)
    if [ -f "mods/python/${id%_py}/mod.toml" ]; then
        package "$id" "$m" "mods/python/${id%_py}"
    else
        cp "$m" assets/mods/
    fi
done
bash mods/js/build.sh
for m in target/mods-js/*_js.wasm; do
    id=$(basename "$m" .wasm)
    if [ -f "mods/js/${id%_js}/mod.toml" ]; then
        package "$id" "$m" "mods/js/${id%_js}"
    else
        cp "$m" assets/mods/
    fi
done
ls -l assets/mods/*.wasm assets/mods/*/mod.wasm
