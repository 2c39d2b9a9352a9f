#!/usr/bin/env bash
# The release rnds-drop.exe under Wine (../shared/windows/cross.sh wine):
#   --help; check on examples/ with the same reports as the Linux binary
#   (byte-identical once the build instants `timestamp`/`lastUpdated` are
#   masked) and the same exit code; demo (exit 0, same errors report and
#   counts as on Linux); run stopped by Ctrl+C (SIGINT, which Wine turns into
#   a console CTRL_C_EVENT) with exit 0.
# Usage: packaging/windows/smoke.sh LINUX_RNDS_DROP_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
linux=$(realpath "$1")
cross=../shared/windows/cross.sh
# Under the repository so that Wine (Z:\ = /) and Linux use the same
# relative paths.
work=$(mktemp -d -p . .smoke-XXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '  wine: %s\n' "$*"; }
fail() { printf '  wine: ✗ %s\n' "$*" >&2; exit 1; }

"$cross" wine --help >"$work/help.txt" 2>&1 || { cat "$work/help.txt" >&2; fail "--help"; }
grep -q "servico" "$work/help.txt" || fail "--help lacks the servico command"
say "--help: ok"

code() { local c=0; "$@" >"$work/last.txt" 2>&1 || c=$?; echo "$c"; }
win_code=$(code "$cross" wine check --config examples/rnds-drop.toml --out "$work/check-win" examples/exames.csv)
cat "$work/last.txt"
linux_code=$(code "$linux" check --config examples/rnds-drop.toml --out "$work/check-linux" examples/exames.csv)
[ "$win_code" = "$linux_code" ] || fail "check exit code: Windows $win_code, Linux $linux_code"
python3 - "$work/check-linux" "$work/check-win" <<'PY'
import pathlib, re, sys
linux, win = map(pathlib.Path, sys.argv[1:3])
mask = lambda b: re.sub(rb'"(timestamp|lastUpdated)":"[^"]*"', rb'"\1":"*"', b)
names = sorted(p.name for p in linux.iterdir())
assert names == sorted(p.name for p in win.iterdir()), (names, list(win.iterdir()))
assert any(n.endswith(".resumo.json") for n in names), names
for n in names:
    a, b = (linux / n).read_bytes(), (win / n).read_bytes()
    assert mask(a) == mask(b), f"{n} differs between Linux and Windows"
    print(f"  wine: check {n}: identical" + (" (timestamps masked)" if a != b else ""))
PY
say "check: exit $win_code on both, reports identical"

demo_code=$(code "$cross" wine demo --dir "$work/demo-win")
[ "$demo_code" = 0 ] || { cat "$work/last.txt" >&2; fail "demo exit $demo_code"; }
"$linux" demo --dir "$work/demo-linux" >/dev/null 2>&1 || fail "Linux demo"
python3 - "$work/demo-linux/saida" "$work/demo-win/saida" <<'PY'
import json, pathlib, sys
linux, win = map(pathlib.Path, sys.argv[1:3])
for p in sorted(linux.glob("*.erros.csv")):
    assert p.read_bytes() == (win / p.name).read_bytes(), f"demo {p.name} differs"
    print(f"  wine: demo {p.name}: identical")
for p in sorted(linux.glob("*.resumo.json")):
    a, b = json.loads(p.read_bytes()), json.loads((win / p.name).read_bytes())
    keys = [k for k in a if k.startswith("rows_")] + ["issues", "sha256"]
    assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}, f"demo {p.name} differs"
    print(f"  wine: demo {p.name}: same counts and issues (RNDS ids differ by design)")
PY
say "demo: exit 0"

# run, then Ctrl+C: the demo's workspace config (its simulator is gone, so
# rows would stay pending; nothing is dropped, only start and stop matter).
setsid "$cross" wine run --config "$work/demo-win/rnds-drop.toml" >"$work/run.txt" 2>&1 &
run_pid=$!
for _ in $(seq 300); do grep -q "rnds-drop" "$work/run.txt" 2>/dev/null && break; sleep 0.2; done
sleep 2
# Ctrl+C in a terminal: SIGINT to the foreground process group (setsid
# made one); Wine delivers it to the .exe as CTRL_C_EVENT.
kill -INT -- "-$run_pid"
status=0
timeout 60 tail --pid="$run_pid" -f /dev/null || fail "run did not stop within 60 s of Ctrl+C"
wait "$run_pid" || status=$?
cat "$work/run.txt"
[ "$status" = 0 ] || fail "run exit $status after Ctrl+C"
grep -q "sinal de parada" "$work/run.txt" || fail "run did not log the graceful stop"
say "run: Ctrl+C → graceful stop, exit 0"
