#!/usr/bin/env bash
# `rnds-drop check` against `../shared/perf/limit par` on the same file,
# alternating, three runs each, with the output on the work disk and on
# tmpfs (/dev/shm); then the plain-Python peer against `check` on 200,000
# rows. Prints one line per run: what, where, wall seconds, peak RSS (MB),
# user and system CPU seconds, and the 1-minute load average after it.
# Usage: tools/bench_check_ratio.sh [BINARY...]  (default
# target/release/rnds-drop; build it with `cargo build --release` first);
# several binaries (e.g. before/after copies) run in turn after each limit. BENCH_DIR picks the folder
# for data and disk outputs (default /tmp/rnds-drop-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- target/release/rnds-drop
bins=()
for b in "$@"; do bins+=("$(realpath "$b")"); done
work=${BENCH_DIR:-/tmp/rnds-drop-bench}
mkdir -p "$work"
big="$work/exames_1000000.csv"
small="$work/exames_200000.csv"
[ -f "$big" ] || python3 ../shared/perf/gen_exames.py 1000000 "$big"
[ -f "$small" ] || python3 ../shared/perf/gen_exames.py 200000 "$small"
limit="$work/limit-target/release/limit"
[ -x "$limit" ] || cargo build --release --quiet \
    --manifest-path ../shared/perf/limit/Cargo.toml --target-dir "$work/limit-target"
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

timed() { # label, command...
    local label=$1; shift
    /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" > /dev/null 2>&1 || true
    read -r wall rss user sys < "$work/time.txt"
    printf '%-40s %6.2f s  %4d MB  user %6.2f s  sys %5.2f s  load %s\n' "$label" "$wall" \
        $((rss / 1024)) "$user" "$sys" "$(cut -d' ' -f1 /proc/loadavg)"
}

for where in disk tmpfs; do
    if [ "$where" = tmpfs ]; then out=/dev/shm/rnds-drop-bench-out; else out="$work/out"; fi
    for run in 1 2 3; do
        timed "limit par ($where #$run)" "$limit" par "$big"
        for bin in "${bins[@]}"; do
            rm -rf "$out"
            timed "$(basename "$bin") 1M -> $where #$run" "$bin" check --config "$work/bench.toml" --out "$out" "$big"
        done
    done
    rm -rf "$out"
done
timed "python peer 200k" python3 ../shared/perf/peer_stdlib.py "$small"
rm -rf /dev/shm/rnds-drop-bench-out
for bin in "${bins[@]}"; do
    timed "$(basename "$bin") 200k -> tmpfs" "$bin" check --config "$work/bench.toml" --out /dev/shm/rnds-drop-bench-out "$small"
    rm -rf /dev/shm/rnds-drop-bench-out
done
