#!/usr/bin/env bash
# The release rnds-drop.exe under Wine (../shared/windows/cross.sh wine),
# compared with the Linux binary given as argument:
#   1. --help: same text (the program name is the only difference allowed).
#   2. check on examples/exames.csv and on every real export of
#      ../shared/samples with the example config tests/it/layouts.rs pairs
#      it with: same exit code, same files, same console text, reports
#      byte-identical once normalised (see compare.py: build instants and
#      the output folder's path only).
#   3. demo: exit 0, same report files, same errors reports, same summaries.
#   4. run in a terminal, stopped by Ctrl+C typed there (ctrl_c.py): exit
#      0, the graceful-stop line logged, the ledger closed (no -wal left,
#      integrity ok), and a second run takes the same ledger (its lock was
#      released) and stops the same way.
# Usage: packaging/windows/smoke.sh LINUX_RNDS_DROP_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
linux=$(realpath "$1")
cross=../shared/windows/cross.sh
samples=../shared/samples
compare=packaging/windows/compare.py
# Under the repository so that Wine (Z:\ = /) and Linux read the same
# relative paths.
work=$(mktemp -d -p . .smoke-XXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '  wine: %s\n' "$*"; }
fail() {
    printf '  wine: ✗ %s\n' "$*" >&2
    exit 1
}
# Exit code of a command, its output in $work/last.txt.
code() {
    local c=0
    "$@" >"$work/last.txt" 2>&1 || c=$?
    echo "$c"
}

# 1. --help
"$cross" wine --help >"$work/help-win.txt" 2>&1 || {
    cat "$work/help-win.txt" >&2
    fail "--help"
}
"$linux" --help >"$work/help-linux.txt" 2>&1
grep -q "servico" "$work/help-win.txt" || fail "--help lacks the servico command"
python3 "$compare" console "$work/help-linux.txt" "$work/help-win.txt" || fail "--help differs"
say "--help: same text as on Linux"

# 2. check: (config, inputs) as in tests/it/layouts.rs
checks=(
    "examples/rnds-drop.toml|examples/exames.csv $samples/e_sus_notifica.csv $samples/sivep_gripe.xlsx $samples/exemploseegene.xlsx $samples/de_para.csv"
    "examples/layouts/gal-exportacao.toml|$samples/GAL_export_header_only.csv"
    "examples/layouts/gal-lote.toml|$samples/gal_20251211T004603Z_exame.csv $samples/vr2.csv"
    "examples/layouts/fleury-analitos.toml|$samples/GrupoFleury_Exames_4.csv"
    "examples/layouts/esus-opendatasus.toml|$samples/dados-ac.head.csv $samples/dados-ac.rare-values.csv"
)
n=0
for entry in "${checks[@]}"; do
    n=$((n + 1))
    config=${entry%%|*}
    read -r -a inputs <<<"${entry#*|}"
    win_code=$(code "$cross" wine check --config "$config" --out "$work/check-$n-win" "${inputs[@]}")
    cp "$work/last.txt" "$work/check-$n-win.txt"
    linux_code=$(code "$linux" check --config "$config" --out "$work/check-$n-linux" "${inputs[@]}")
    cp "$work/last.txt" "$work/check-$n-linux.txt"
    [ "$win_code" = "$linux_code" ] || {
        cat "$work/check-$n-win.txt" >&2
        fail "check $config: exit $win_code on Windows, $linux_code on Linux"
    }
    python3 "$compare" console "$work/check-$n-linux.txt" "$work/check-$n-win.txt" \
        "$work/check-$n-linux" "$work/check-$n-win" || fail "check $config: console text differs"
    python3 "$compare" reports "$work/check-$n-linux" "$work/check-$n-win" ||
        fail "check $config: reports differ"
    say "check --config $config (${#inputs[@]} files): exit $win_code on both, same console text and reports"
done

# 3. demo
demo_code=$(code "$cross" wine demo --dir "$work/demo-win")
[ "$demo_code" = 0 ] || {
    cat "$work/last.txt" >&2
    fail "demo exit $demo_code"
}
"$linux" demo --dir "$work/demo-linux" >/dev/null 2>&1 || fail "Linux demo"
python3 "$compare" demo "$work/demo-linux/saida" "$work/demo-win/saida" || fail "demo reports differ"
say "demo: exit 0 on both, same reports"

# 4. run + Ctrl+C, twice on the same ledger. The demo's workspace config:
# its simulator is gone, so nothing is sent; start, stop and the ledger's
# lock are what matter here. ctrl_c.py runs it in a terminal and types
# Ctrl+C there, as a person does; Wine's console turns it into the
# CTRL_C_EVENT that tokio::signal::ctrl_c() waits for.
run_and_interrupt() {
    local log=$1 status=0
    python3 packaging/windows/ctrl_c.py "$log" "serviço iniciado" 60 \
        "$cross" wine run --config "$work/demo-win/rnds-drop.toml" || status=$?
    grep -q "serviço iniciado" "$log" || {
        cat "$log" >&2
        fail "run did not start (exit $status)"
    }
    [ "$status" != 124 ] || {
        cat "$log" >&2
        fail "run did not stop within 60 s of Ctrl+C"
    }
    [ "$status" = 0 ] || {
        cat "$log" >&2
        fail "run exit $status after Ctrl+C"
    }
    grep -q "sinal de parada" "$log" || {
        cat "$log" >&2
        fail "run did not log the graceful stop"
    }
}
ledger_closed() {
    local ledger=$work/demo-win/rnds-drop.sqlite
    for leftover in "$ledger-wal" "$ledger-journal"; do
        [ ! -s "$leftover" ] || fail "run left $leftover behind: the ledger was not closed"
    done
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); assert c.execute("pragma integrity_check").fetchone()[0] == "ok"' "$ledger" ||
        fail "ledger integrity_check failed after Ctrl+C"
}
run_and_interrupt "$work/run-1.txt"
ledger_closed
say "run: Ctrl+C → graceful stop, exit 0, ledger closed (no -wal left, integrity ok)"
run_and_interrupt "$work/run-2.txt"
ledger_closed
say "run again on the same ledger: started (its lock was released), Ctrl+C → exit 0"
