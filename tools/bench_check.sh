#!/usr/bin/env bash
# Throughput and memory of `rnds-drop check` on the synthetic 1,000,000-row
# file, against ../shared/perf/limit (the minimal converter) in the same run.
# Usage: tools/bench_check.sh [ROWS]   (default 1000000). Prints the figures
# recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
work=${BENCH_DIR:-/tmp/rnds-drop-bench}
mkdir -p "$work"
data="$work/exames_$rows.csv"
[ -f "$data" ] || python3 ../shared/perf/gen_exames.py "$rows" "$data"

cargo build --release --quiet
cargo build --release --quiet --manifest-path ../shared/perf/limit/Cargo.toml --target-dir "$work/limit-target"

cat > "$work/bench.toml" <<TOML
[lab]
cnes = "2337991"
requester_id = "12345"
requester_cns = "980016287385192"
timezone = "America/Sao_Paulo"
uf = "SP"
[rnds]
environment = "homologacao"
certificate = "unused.pfx"
[defaults]
reference_range = "Não detectável"
category = "0202"
TOML

echo "== limit (same file) =="
"$work/limit-target/release/limit" seq "$data"
"$work/limit-target/release/limit" par "$data"

echo "== rnds-drop check =="
rm -rf "$work/out"
/usr/bin/time -v target/release/rnds-drop check --config "$work/bench.toml" --out "$work/out" "$data" \
    2> "$work/time.txt" || true
grep -E "Elapsed|Maximum resident|User time|System time|Percent of CPU" "$work/time.txt"
python3 - "$work/time.txt" "$rows" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
h, mi, s = m.groups()
secs = (int(h or 0) * 60 + int(mi)) * 60 + float(s)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
rows = int(sys.argv[2])
print(f"rows/s: {rows / secs:,.0f}   wall: {secs:.2f} s   peak RSS: {rss:.0f} MB")
PY
ls -la "$work/out"
