#!/usr/bin/env bash
# Measures the effect of each tuning key of config/irp.toml on this machine: one key varied at a
# time from the defaults, each run against the same seeded input. Prints a markdown table (the
# figures quoted next to the keys in config/irp.toml come from it).
#
# Knobs: N (check input, default 200000), REG_N (register input, default 8000),
# FULL_DB (a pre-filled registry from scripts/bench.sh for the bloom/cache rows; optional).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
REG_N=${REG_N:-8000}
WORK=${WORK:-bench-data/tune}
NOW="2025-06-20 11:30:00"
cargo build --release --locked >&2
BIN=$PWD/target/release/irp
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
[ -f "$WORK/check.json" ] || "$BIN" gen --count "$N" --seed 52 --now "$NOW" --out "$WORK/check.json" 2>/dev/null
[ -f "$WORK/reg.json" ] || "$BIN" gen --count "$REG_N" --seed 53 --now "$NOW" --out "$WORK/reg.json" 2>/dev/null
[ -d "$WORK/keys" ] || "$BIN" keygen --out "$WORK/keys" >/dev/null
[ -d "$WORK/keys-es" ] || "$BIN" keygen --algorithm es256 --out "$WORK/keys-es" >/dev/null

rate() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"{s['invoices_per_second']:.0f} {s.get('peak_rss_mb') or 0:.0f}\")" "$1"; }

# run CMD LABEL SECTION KEY VALUE
run() {
  local cmd=$1 label=$2 section=$3 key=$4 value=$5
  local cfg="$WORK/cfg.toml"
  local keys=$WORK/keys
  [ "$value" = '"es256"' ] && keys=$WORK/keys-es
  printf '[signing]\nkey = "%s"\ncert = "%s"\n' "$keys/irp-signing-key.pem" "$keys/irp-signing-cert.pem" > "$cfg"
  if [ -n "$section" ]; then
    if [ "$section" = signing ]; then
      printf '%s = %s\n' "$key" "$value" >> "$cfg"
    else
      printf '[%s]\n%s = %s\n' "$section" "$key" "$value" >> "$cfg"
    fi
  fi
  rm -rf "$WORK/out" "$WORK/db"
  local input=$WORK/check.json db=()
  if [ "$cmd" = register ]; then input=$WORK/reg.json; db=(--db "$WORK/db"); fi
  "$BIN" "$cmd" "$input" --config "$cfg" "${db[@]}" --now "$NOW" --quiet --out "$WORK/out" >/dev/null 2>&1
  read -r ips rss < <(rate "$WORK/out/summary.json")
  printf '| %s | %s | %s | %s |\n' "$cmd" "$label" "$ips" "$rss"
}

echo "| command | setting | invoices/s | peak RSS MB |"
echo "|---|---|---:|---:|"
run check "defaults" "" "" ""
for b in 256 1024 8192; do run check "pipeline.batch_size = $b" pipeline batch_size "$b"; done
for c in 1 16; do run check "pipeline.channel_capacity_batches = $c" pipeline channel_capacity_batches "$c"; done
run check "pipeline.threads = 1" pipeline threads 1
run register "defaults (rs256)" "" "" ""
run register "registry.sync_per_batch = false" registry sync_per_batch false
run register "registry.compression = \"zstd\"" registry compression '"zstd"'
for b in 256 8192; do run register "pipeline.batch_size = $b" pipeline batch_size "$b"; done
run register "signing.algorithm = \"es256\" (not NIC)" signing algorithm '"es256"'
