#!/usr/bin/env bash
# Builds the Python example mods into target/mods-py/ (NAME_py.wasm, the
# greeter's next version in target/mods-py/next/, and the tests' own mods in
# target/mods-py/tests/), with componentize-py in a
# virtual environment of the project's own (target/python/). Needs python3;
# everything else comes from PyPI, pinned. A mod whose sources did not
# change since its last build is not built again.
#
#   bash mods/python/build.sh            # every mod in mods/python/
#   bash mods/python/build.sh mover      # only these
set -euo pipefail
cd "$(dirname "$0")/../.."

# componentize-py and msgpack (pure Python), at the versions pinned there.
. mods/tools.env

py=target/python
out=target/mods-py
if [ ! -x "$py/venv/bin/componentize-py" ] ||
    [ "$("$py/venv/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY" ]; then
    echo "installing componentize-py $COMPONENTIZE_PY into $py/venv" >&2
    python3 -m venv "$py/venv" || {
        echo "python3 cannot make a virtual environment: install its venv module" \
            "(on Debian and Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    }
    "$py/venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
fi
if [ ! -f "$py/site/msgpack-$MSGPACK.dist-info/METADATA" ]; then
    echo "installing msgpack $MSGPACK (pure Python) into $py/site" >&2
    rm -rf "$py/site"
    MSGPACK_PUREPYTHON=1 "$py/venv/bin/pip" install --quiet --disable-pip-version-check \
        --no-binary msgpack --target "$py/site" "msgpack==$MSGPACK"
fi

# Builds mod folder $1 (its main module app.py) into $2.
build() {
    local dir=$1 wasm=$2
    local newest
    newest=$(find "$dir" mod-api/python wit -type f \
        \( -name '*.py' -o -name '*.wit' \) -newer "$wasm" 2>/dev/null | head -1 || true)
    if [ -f "$wasm" ] && [ -z "$newest" ]; then
        return
    fi
    mkdir -p "$(dirname "$wasm")"
    echo "building $wasm" >&2
    "$py/venv/bin/componentize-py" -d wit -w game-mod componentize app \
        -p "$dir" -p mod-api/python -p "$py/site" -o "$wasm.part" >/dev/null
    mv "$wasm.part" "$wasm"
}

mods=("$@")
if [ ${#mods[@]} -eq 0 ]; then
    for d in mods/python/*/; do mods+=("$(basename "$d")"); done
fi
for m in "${mods[@]}"; do
    build "mods/python/$m" "$out/${m}_py.wasm"
done

# The tests' own Python mods (tests/mods/python/NAME), into $out/tests/,
# when every mod is built.
if [ $# -eq 0 ]; then
    for d in tests/mods/python/*/; do
        build "$d" "$out/tests/$(basename "$d")_py.wasm"
    done
fi

# The greeter's next version (greets "Welcome back", version 0.2.0): the
# same app.py with NEXT set, for tests of live updates.
if [[ " ${mods[*]} " == *" greeter "* ]]; then
    next=$py/next-greeter
    mkdir -p "$next"
    sed 's/^NEXT = False$/NEXT = True/' mods/python/greeter/app.py >"$next/app.py.new"
    cmp -s "$next/app.py.new" "$next/app.py" || mv "$next/app.py.new" "$next/app.py"
    rm -f "$next/app.py.new"
    build "$next" "$out/next/greeter_py.wasm"
fi
