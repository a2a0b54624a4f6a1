#!/usr/bin/env bash
# Rewrites the golden files in tests/data/golden/ from the current binary's output.
# Run it only after a deliberate change to the output, and review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
IRP_BLESS=1 cargo test --release --test e2e golden
git --no-pager diff --stat -- tests/data/golden
