#!/usr/bin/env bash
# Walks the README's "Início rápido (pt-BR)" start to end, as a new lab
# would, on this clone (.ci/run's "quick start" stage).
#
# The commands are not copied here: they are read from the README section
# itself (every `cargo install …` and `rnds-drop …` code span, in order), so
# the walk and the README cannot drift. A command this walk does not know
# fails it: a new step in the README needs its check here.
#
# Step 1 runs `cargo install --path . --locked` with `--root <temp>` (so
# nothing lands in ~/.cargo) and `--target-dir target` (the release build
# .ci/run's deb stage made is reused: no second build). Every later command
# runs with only that installed binary on the PATH. Steps 2–4 (no network)
# run on the files of examples/; from step 5 on, the lab's configuration is
# the one `rnds-drop simulate` writes (CI has no ICP-Brasil certificate),
# with the simulator serving on 127.0.0.1.
#
# Local try without a release build: QUICK_START_INSTALL_FLAGS=--debug.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    printf 'quick start: %s\n' "$*" >&2
    exit 1
}

# `expect CODE LOG cmd…`: runs cmd, its output in LOG, and fails unless it
# exits with CODE.
expect() {
    local want=$1 log=$2 code=0
    shift 2
    "$@" >"$log" 2>&1 || code=$?
    if [ "$code" != "$want" ]; then
        cat "$log" >&2
        fail "\`$*\` exited $code, expected $want"
    fi
}

# `shows LOG TEXT`: the output says TEXT.
shows() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "the output lacks \"$2\""; }
}

section=$(awk '/^## Início rápido \(pt-BR\)/ { on = 1; next } on && /^## / { exit } on' "$repo/README.md")
[ -n "$section" ] || fail "README.md has no \"## Início rápido (pt-BR)\" section"
mapfile -t commands < <(printf '%s\n' "$section" | tr '\n' ' ' | grep -oE '`(cargo install|rnds-drop) [^`]*`' | tr -d '`')
[ "${#commands[@]}" -ge 7 ] || fail "only ${#commands[@]} commands found in the quick start: ${commands[*]}"

# The lab's first files: the example export (deliberate errors included).
cp "$repo/examples/exames.csv" "$work/exames.csv"
cp "$repo/examples/exames.csv" "$work/exportacao.csv"
cp "$repo/examples/rnds-drop.toml" "$work/rnds-drop.toml"
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
here=$work
installed=

# The simulator as the lab's RNDS (step 5's configuration).
start_simulator() {
    [ -n "$sim_pid" ] && return 0
    (cd "$work" && exec rnds-drop simulate --listen 127.0.0.1:0 --dir sim >"$work/simulate.log" 2>&1) &
    sim_pid=$!
    for _ in $(seq 100); do
        grep -q '^Documentos recebidos' "$work/simulate.log" 2>/dev/null && break
        sleep 0.2
    done
    grep -q '^Documentos recebidos' "$work/simulate.log" || { cat "$work/simulate.log" >&2; fail "the simulator did not start"; }
    here=$work/sim
}

step=0
for command in "${commands[@]}"; do
    step=$((step + 1))
    read -r -a words <<<"$command"
    log="$work/step$step.log"
    printf -- '-- %s\n' "$command"
    case "$command" in
    "cargo install --path . --locked")
        # shellcheck disable=SC2086 # the flags are words
        (cd "$repo" && expect 0 "$log" "${words[@]}" --root "$work/root" --target-dir target ${QUICK_START_INSTALL_FLAGS:-})
        [ -x "$work/root/bin/rnds-drop" ] || fail "cargo install left no $work/root/bin/rnds-drop"
        export PATH="$work/root/bin:$PATH"
        [ "$(command -v rnds-drop)" = "$work/root/bin/rnds-drop" ] || fail "rnds-drop on the PATH is not the installed one"
        installed=yes
        ;;
    rnds-drop\ *)
        [ -n "$installed" ] || fail "\`$command\` comes before the step that installs rnds-drop"
        case "${words[1]}" in
        demo)
            (cd "$here" && expect 0 "$log" "${words[@]}")
            shows "$log" "Entrada (já lida):"
            shows "$log" "Relatórios:"
            shows "$log" ".erros.xlsx"
            shows "$log" ".enviados.csv"
            config=$(sed -n 's/^ *Configuração: *//p' "$log")
            [ -f "$config" ] || fail "demo names no configuration file that exists"
            ;;
        inspecionar)
            # 1: the example has rows with problems (src/exit.rs).
            (cd "$here" && expect 1 "$log" "${words[@]}")
            shows "$log" "[[inbox]]"
            ;;
        check)
            (cd "$here" && expect 1 "$log" "${words[@]}")
            shows "$log" "4 válidas, 2 com problema"
            # Every output file step 4 names is there.
            for name in $(printf '%s\n' "$section" | grep -oE '`exames\.[a-z.]+`' | tr -d '`'); do
                [ -s "$here/saida/$name" ] || fail "check wrote no saida/$name (README step 4)"
            done
            ;;
        doctor)
            start_simulator
            (cd "$here" && expect 0 "$log" "${words[@]}")
            shows "$log" "✓ token"
            ;;
        run)
            start_simulator
            (cd "$here" && exec "${words[@]}") >"$log" 2>&1 &
            run_pid=$!
            cp "$work/exames.csv" "$here/entrada/"
            for _ in $(seq 600); do
                [ -n "$(find "$here/saida" -name 'exames.*.enviados.csv' 2>/dev/null)" ] && break
                kill -0 "$run_pid" 2>/dev/null || break
                sleep 0.2
            done
            kill -TERM "$run_pid" 2>/dev/null || true
            code=0
            wait "$run_pid" || code=$?
            [ "$code" = 0 ] || { cat "$log" >&2; fail "run exited $code after SIGTERM"; }
            [ -n "$(find "$here/saida" -name 'exames.*.enviados.csv')" ] || { cat "$log" >&2; fail "run wrote no report in saida/"; }
            ;;
        status)
            start_simulator
            (cd "$here" && expect 0 "$log" "${words[@]}")
            shows "$log" "enviados à RNDS: 4 hoje"
            shows "$log" "✓ certificado"
            ;;
        homologacao)
            start_simulator
            (cd "$here" && expect 0 "$log" "${words[@]}")
            report=$(sed -n 's/^ *relatório: *//p' "$log")
            [ -f "$here/$report" ] || [ -f "$report" ] || fail "homologacao names no report that exists"
            ;;
        --help)
            expect 0 "$log" "${words[@]}"
            shows "$log" "Uso: rnds-drop"
            ;;
        "<"*)
            # `rnds-drop <comando> --help`: a placeholder, shown by --help above.
            ;;
        *) fail "the README quick start has \`$command\`, which this walk does not know: add its check to tools/quick_start.sh" ;;
        esac
        ;;
    *) fail "the README quick start has \`$command\`, which this walk does not know: add its check to tools/quick_start.sh" ;;
    esac
done
printf 'quick start: %d commands walked\n' "$step"
