#!/usr/bin/env bash
# Vendors the WASI WIT packages that wit/world.wit imports into wit/deps/.
#
# The source is the wasmtime-wasi-http crate pinned in Cargo.lock: it ships the exact WASI WIT
# our host links, so guests and host are always built against the same interface versions, and
# the copy needs nothing but the crates.io registry. Run it after bumping wasmtime.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fetch --quiet
crate_dir=$(cargo metadata --format-version 1 --locked |
    python3 -c 'import json,sys,os
m=json.load(sys.stdin)
p=[p for p in m["packages"] if p["name"]=="wasmtime-wasi-http"]
sys.exit("wasmtime-wasi-http is not in Cargo.lock") if not p else print(os.path.dirname(p[0]["manifest_path"]))')
rm -rf wit/deps
mkdir -p wit/deps
# wasi:http's imports pull in io, clocks, random, cli, filesystem and sockets.
for pkg in cli clocks filesystem http io random sockets; do
    cp "$crate_dir/wit/deps/$pkg.wit" "wit/deps/$pkg.wit"
done
echo "vendored WASI WIT from $(basename "$crate_dir") into wit/deps/"
