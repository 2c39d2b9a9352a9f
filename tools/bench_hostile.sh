#!/usr/bin/env bash
# Peak memory, time and exit code of `rnds-drop check` on each file of the
# hostile set (tools/make_hostile_set.py). Every file must end with exit 1
# or 2 and a resumo.json with a pt-BR reason; peak RSS must stay <= 300 MB.
# Usage: tools/bench_hostile.sh [DIR]   Prints the table kept in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/rnds-drop-hostile}
[ -f "$dir/bomba.xlsx" ] || python3 tools/make_hostile_set.py "$dir"
cargo build --release --quiet
printf '%-24s %5s %9s %9s  %s\n' file exit wall_s rss_MB reason
for input in "$dir"/*.csv "$dir"/*.xlsx; do
    name=$(basename "$input")
    out=$(mktemp -d)
    set +e
    /usr/bin/time -v target/release/rnds-drop check --config tests/fixtures/lab.toml \
        --out "$out" "$input" >/dev/null 2>"$out/time.txt"
    code=$?
    set -e
    python3 - "$out" "$name" "$code" <<'PY'
import glob, json, re, sys
out, name, code = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(f"{out}/time.txt").read()
m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", t)
h, mi, s = m.groups()
wall = (int(h or 0) * 60 + int(mi)) * 60 + float(s)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
reason = ""
for path in glob.glob(f"{out}/*.resumo.json"):
    s = json.load(open(path))
    reason = s.get("error") or (s["issues"][0]["message"] if s["issues"] else "")
print(f"{name:<24} {code:>5} {wall:>9.2f} {rss:>9.0f}  {reason[:90]}")
PY
    rm -rf "$out"
done
