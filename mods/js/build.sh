#!/usr/bin/env bash
# Builds the JavaScript example mods into target/mods-js/ (NAME_js.wasm, the
# greeter's next version in target/mods-js/next/, and the tests' own mods
# in target/mods-js/tests/), with componentize-js
# from npm, pinned, installed into target/js/. Needs node and npm. A mod
# whose sources did not change since its last build is not built again.
#
# componentize-js, pinned in mods/tools.env (with why), called directly.
# `-d http fetch-event` leaves out the HTTP imports the game does not
# provide (mods get no network).
#
#   bash mods/js/build.sh            # every mod in mods/js/
#   bash mods/js/build.sh mover      # only these
set -euo pipefail
cd "$(dirname "$0")/../.."

. mods/tools.env
js=target/js
out=target/mods-js
if [ ! -f "$js/node_modules/@bytecodealliance/componentize-js/package.json" ] ||
    ! grep -q "\"version\": \"$COMPONENTIZE_JS\"" "$js/node_modules/@bytecodealliance/componentize-js/package.json"; then
    echo "installing componentize-js $COMPONENTIZE_JS into $js" >&2
    mkdir -p "$js"
    [ -f "$js/package.json" ] || echo '{"private": true}' >"$js/package.json"
    (cd "$js" && npm install --silent --no-audit --no-fund "@bytecodealliance/componentize-js@$COMPONENTIZE_JS")
fi

# Builds $1 (a mod's main module) into $2.
build() {
    local main=$1 wasm=$2
    local newest
    newest=$(find "$(dirname "$main")" mod-api/js wit -type f \
        \( -name '*.js' -o -name '*.wit' \) -newer "$wasm" 2>/dev/null | head -1 || true)
    if [ -f "$wasm" ] && [ -z "$newest" ]; then
        return
    fi
    mkdir -p "$(dirname "$wasm")"
    echo "building $wasm" >&2
    node "$js/node_modules/@bytecodealliance/componentize-js/src/cli.js" \
        --wit wit --world-name game-mod -d http fetch-event -o "$wasm.part" "$main" >/dev/null
    mv "$wasm.part" "$wasm"
}

mods=("$@")
if [ ${#mods[@]} -eq 0 ]; then
    for d in mods/js/*/; do mods+=("$(basename "$d")"); done
fi
for m in "${mods[@]}"; do
    build "mods/js/$m/$m.js" "$out/${m}_js.wasm"
done

# The tests' own JavaScript mods (tests/mods/js/NAME/NAME.js), into
# $out/tests/, when every mod is built.
if [ $# -eq 0 ]; then
    for d in tests/mods/js/*/; do
        m=$(basename "$d")
        build "$d$m.js" "$out/tests/${m}_js.wasm"
    done
fi

# The greeter's next version (greets "Welcome back", version 0.2.0): the
# same module with NEXT set, beside the original so its import resolves.
if [[ " ${mods[*]} " == *" greeter "* ]]; then
    next=mods/js/greeter/.next-greeter.js
    sed 's/^const NEXT = false;$/const NEXT = true;/' mods/js/greeter/greeter.js >"$next.new"
    cmp -s "$next.new" "$next" || mv "$next.new" "$next"
    rm -f "$next.new"
    build "$next" "$out/next/greeter_js.wasm"
fi
