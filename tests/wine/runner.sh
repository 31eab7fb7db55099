#!/bin/sh
# Cargo's runner for x86_64-pc-windows-gnu programs (.cargo/config.toml):
# runs them under Wine (Debian's wine64, whose binary is not on PATH) in a
# prefix of their own, target/wine-prefix. Wine 8 lacks bcryptprimitives.dll,
# whose ProcessPrng every program built by Rust >= 1.78 imports: the prefix's
# system32 gets the test-only stand-in built from bcryptprimitives.c. It is
# never shipped: bundles on Windows use the system's.
set -e
here=$(cd "$(dirname "$0")" && pwd)
prefix="$(cd "$here/../.." && pwd)/target/wine-prefix"
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
if [ ! -x "$wine" ]; then
    echo "runner.sh: Wine not found (Debian: apt-get install wine64)" >&2
    exit 127
fi
standin="$prefix/drive_c/windows/system32/bcryptprimitives.dll"
export WINEPREFIX="$prefix" WINEDEBUG="${WINEDEBUG:--all}"
if [ ! -f "$standin" ]; then
    mkdir -p "$prefix"
    "$wine" wineboot --init >/dev/null 2>&1
    # Let the new prefix settle (wineboot's services exit) before programs run in it.
    "$(dirname "$wine")/wineserver" -w 2>/dev/null || true
    x86_64-w64-mingw32-gcc -shared -O2 -o "$standin" "$here/bcryptprimitives.c" -ladvapi32
fi
exec "$wine" "$@"
