#!/usr/bin/env bash
# Measures check_cron_file under candidate release profiles: binary size and the wall time of
# `check_cron_file --help` (hyperfine, 30+ runs after warm-up). Prints a Markdown table.
# Usage: bench/release-profile.sh [BINARY]   (default check_cron_file)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-check_cron_file}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name | environment overriding [profile.release]
variants=(
  "cargo default (opt 3, no LTO, 16 CGUs, unwind, not stripped)|CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
  "strip only|CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
  "fat LTO + 1 CGU + strip|CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
  "fat LTO + 1 CGU + strip + panic=abort|CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
  "fat LTO + 1 CGU + strip + panic=abort + opt-level s|CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
)
echo "| profile | size (bytes) | \`$bin --help\` wall, mean ± σ | user | sys |"
echo "|---|---:|---:|---:|---:|"
i=0
for v in "${variants[@]}"; do
  name=${v%%|*}; envs=${v#*|}
  i=$((i+1))
  env $envs cargo build -q --release -p "$bin" --target-dir "target/profile-$i" >&2
  exe="target/profile-$i/release/$bin"
  size=$(stat -c %s "$exe")
  hyperfine -N -i --warmup 5 --min-runs 50 --export-json "$out/$i.json" "$exe --help" >/dev/null 2>&1
  read -r mean sd user sys < <(python3 -c "
import json; r=json.load(open('$out/$i.json'))['results'][0]
print(f\"{r['mean']*1000:.2f} {r['stddev']*1000:.2f} {r['user']*1000:.2f} {r['system']*1000:.2f}\")")
  echo "| $name | $size | $mean ± $sd ms | $user ms | $sys ms |"
done
