#!/usr/bin/env bash
# Installs the rnds-drop .deb on this Debian machine (as root) and checks
# the whole life of the package:
#   1. dpkg -i: binary, unit, /etc/rnds-drop/rnds-drop.toml, the rnds-drop
#      system user, /var/lib/rnds-drop; `systemd-analyze verify` on the unit;
#   2. the packaged config edited as the README says (certificate, password
#      file, CNES...) to point at a local RNDS simulator on 127.0.0.1;
#   3. the unit's ExecStart line run as the unit's User= (no systemd runs
#      PID 1 here): a file dropped in the inbox is sent and reported; SIGTERM
#      (systemd's KillSignal) stops it with exit 0;
#   4. dpkg -r (conffile kept), dpkg -P (config gone, ledger kept on purpose).
# Usage: packaging/deb/test-install.sh path/to/rnds-drop_*.deb
set -euo pipefail
deb=$(realpath "$1")
work=$(mktemp -d)
sim_pid= service_pid=
say() { printf '  deb: %s\n' "$*"; }
fail() { printf '  deb: ✗ %s\n' "$*" >&2; exit 1; }
cleanup() {
    [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
    dpkg -P rnds-drop >/dev/null 2>&1 || true
    # Test machine only: a real purge keeps the ledger (see postrm).
    rm -rf /var/lib/rnds-drop "$work"
    getent passwd rnds-drop >/dev/null && userdel rnds-drop 2>/dev/null || true
    getent group rnds-drop >/dev/null && groupdel rnds-drop 2>/dev/null || true
}
trap cleanup EXIT
dpkg -P rnds-drop >/dev/null 2>&1 || true

# 1. Install.
dpkg -i "$deb" >/dev/null
unit=/lib/systemd/system/rnds-drop.service
for f in /usr/bin/rnds-drop /etc/rnds-drop/rnds-drop.toml "$unit" \
         /usr/share/doc/rnds-drop/README.md /usr/share/doc/rnds-drop/examples/exames.csv; do
    [ -f "$f" ] || fail "missing $f"
done
getent passwd rnds-drop >/dev/null || fail "no rnds-drop user"
[ "$(stat -c '%U:%G %a' /var/lib/rnds-drop/entrada)" = "rnds-drop:rnds-drop 2770" ] \
    || fail "inbox owner/mode: $(stat -c '%U:%G %a' /var/lib/rnds-drop/entrada)"
[ "$(stat -c '%U:%G %a' /etc/rnds-drop/rnds-drop.toml)" = "root:rnds-drop 640" ] \
    || fail "config owner/mode: $(stat -c '%U:%G %a' /etc/rnds-drop/rnds-drop.toml)"
/usr/bin/rnds-drop --version >/dev/null
if command -v systemd-analyze >/dev/null; then
    # Warnings about the machine (no running systemd, missing units it
    # would pull in) are not errors of this unit; a syntax error fails.
    systemd-analyze verify "$unit" 2>"$work/verify.txt" \
        || { cat "$work/verify.txt" >&2; fail "systemd-analyze verify"; }
    say "systemd-analyze verify: ok"
else
    say "systemd-analyze not installed: unit verification skipped"
fi
say "installed: files, user, folders in place"

# 2. A local RNDS and the packaged config edited as the README says.
sim=$work/simulador
/usr/bin/rnds-drop simulate --listen 127.0.0.1:0 --dir "$sim" >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [ -f "$sim/rnds-drop.toml" ] && grep -q auth_url "$sim/rnds-drop.toml" && break; sleep 0.2; done
[ -f "$sim/rnds-drop.toml" ] || { cat "$work/sim.log" >&2; fail "simulator did not start"; }
install -o rnds-drop -g rnds-drop -m 600 "$sim/lab.pfx" /etc/rnds-drop/certificado-laboratorio.pfx
install -o rnds-drop -g rnds-drop -m 600 "$sim/lab.pfx.senha" /etc/rnds-drop/pfx.senha
install -o root -g rnds-drop -m 640 "$sim/ca.pem" /etc/rnds-drop/ca-simulador.pem
python3 - "$sim/rnds-drop.toml" /etc/rnds-drop/rnds-drop.toml <<'PY'
import re, sys, tomllib
sim = tomllib.load(open(sys.argv[1], "rb"))
path = sys.argv[2]
text = open(path, encoding="utf-8").read()
def set_key(text, key, value):
    new, n = re.subn(rf'^#?\s*{key} = .*$', f'{key} = "{value}"', text, count=1, flags=re.M)
    assert n == 1, key
    return new
for key in ("cnes", "requester_id", "requester_cns"):
    text = set_key(text, key, sim["lab"][key])
text = set_key(text, "environment", "simulador")
text = set_key(text, "extra_ca", "ca-simulador.pem")
text = set_key(text, "auth_url", sim["rnds"]["auth_url"])
text = set_key(text, "ehr_url", sim["rnds"]["ehr_url"])
open(path, "w", encoding="utf-8").write(text)
PY
runuser -u rnds-drop -- /usr/bin/rnds-drop doctor --config /etc/rnds-drop/rnds-drop.toml \
    >"$work/doctor.txt" 2>&1 || { cat "$work/doctor.txt" >&2; fail "doctor with the edited config"; }
say "config edited for the simulator; doctor: ok"

# 3. The unit's own command line, as its own user.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
[ "$user" = rnds-drop ] || fail "unit User=$user"
read -r -a argv <<<"$exec_start"
# setpriv execs (runuser would fork and turn SIGTERM into a kill).
setpriv --reuid="$user" --regid="$user" --init-groups -- "${argv[@]}" >"$work/service.log" 2>&1 &
service_pid=$!
install -o rnds-drop -g rnds-drop -m 660 /usr/share/doc/rnds-drop/examples/exames.csv \
    /var/lib/rnds-drop/entrada/exames.csv
summary=
for _ in $(seq 600); do
    summary=$(ls /var/lib/rnds-drop/saida/exames*.resumo.json 2>/dev/null | head -1 || true)
    [ -n "$summary" ] && break; sleep 0.2
done
[ -n "$summary" ] || { cat "$work/service.log" >&2; fail "no report after 120 s"; }
python3 - "$summary" <<'PY'
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
assert s.get("rows_sent", 0) > 0 and s.get("rows_pending", 0) == 0, s
print(f"  deb: exames.csv: {s['rows_sent']} enviadas, {s['rows_invalid']} inválidas, 0 pendentes")
PY
kill -TERM "$service_pid"   # systemd's KillSignal=SIGTERM
status=0; wait "$service_pid" || status=$?
service_pid=
[ "$status" -eq 0 ] || { cat "$work/service.log" >&2; fail "service exit $status after SIGTERM"; }
[ "$(stat -c %U /var/lib/rnds-drop/rnds-drop.sqlite)" = rnds-drop ] || fail "ledger not owned by rnds-drop"
say "ExecStart as $user: file sent and reported; SIGTERM → exit 0"

# 4. Remove, then purge.
dpkg -r rnds-drop >/dev/null
[ ! -e /usr/bin/rnds-drop ] && [ ! -e "$unit" ] || fail "binary or unit left after remove"
[ -f /etc/rnds-drop/rnds-drop.toml ] || fail "edited config lost on remove"
dpkg -P rnds-drop >/dev/null 2>&1
[ ! -e /etc/rnds-drop ] || fail "/etc/rnds-drop left after purge"
[ -f /var/lib/rnds-drop/rnds-drop.sqlite ] || fail "ledger deleted on purge"
say "remove: binary and unit gone, config kept; purge: config gone, ledger kept"
