#!/usr/bin/env bash
# One command from a fresh clone: install build prerequisites if missing, build, and register
# the bundled sample with the built-in defaults (registry in data/registry, a development key
# made on first use in data/keys/). Outputs land in out/.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so >/dev/null 2>&1 || need+=(libclang-dev)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (needed to build RocksDB's bindings)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}"
fi

cargo build --release --locked
./target/release/irp register tests/data/bulk_sample.json --out out/ "$@"
echo
echo "per-invoice status: out/status.csv; NIC responses: out/results.jsonl; counts: out/summary.json"
