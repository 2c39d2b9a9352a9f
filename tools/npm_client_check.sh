#!/usr/bin/env bash
# The RNDS guide's npm client (rnds@0.1.7, installed unchanged from the npm
# registry into a temporary folder) makes its five calls against
# `rnds-drop simulate`, with a lab-result bundle shaped like the guide's
# examples (tests/fixtures/rnds-ig/rel-shaped-like-the-guide.json:
# fullUrl urn:uuid:transient-N). Needs node (>= 18) and npm.
#
# Usage: tools/npm_client_check.sh [path/to/rnds-drop]   (default: target/debug/rnds-drop, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=${1:-target/debug/rnds-drop}
if [ ! -x "$bin" ]; then
    cargo build --locked --quiet
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

work=$(mktemp -d)
sim_pid=
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "npm: rnds@0.1.7 em $work/cliente"
mkdir -p "$work/cliente"
(cd "$work/cliente" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error rnds@0.1.7 >/dev/null)

"$bin" simulate --listen 127.0.0.1:0 --dir "$work/simulador" >"$work/simulate.out" 2>&1 &
sim_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's|^Simulador RNDS em https://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$work/simulate.out")
    [ -n "$port" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/simulate.out"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "o simulador não informou a porta"; cat "$work/simulate.out"; exit 1; }
echo "simulador: https://127.0.0.1:$port"

setting() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "$work/simulador/rnds-drop.toml" | head -n 1; }
cp tools/npm_client_check.mjs "$work/cliente/"
cd "$work/cliente"
SIM_PORT=$port \
SIM_CNES=$(setting cnes) \
SIM_BUNDLE="$repo/tests/fixtures/rnds-ig/rel-shaped-like-the-guide.json" \
NODE_EXTRA_CA_CERTS="$work/simulador/ca.pem" \
RNDS_AUTH=ehr-auth-hmg.saude.gov.br \
RNDS_EHR=go-ehr-services.saude.gov.br \
RNDS_REQUISITANTE_UF=go \
RNDS_REQUISITANTE_CNS=$(setting requester_cns) \
RNDS_CERTIFICADO_ENDERECO="$work/simulador/lab.pfx" \
RNDS_CERTIFICADO_SENHA="$(cat "$work/simulador/lab.pfx.senha")" \
    node npm_client_check.mjs
