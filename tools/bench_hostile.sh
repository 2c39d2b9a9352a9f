#!/usr/bin/env bash
# Peak memory, time and exit code of `rnds-drop check` on each file of the
# hostile set (tools/make_hostile_set.py), then the same files through the
# service (`rnds-drop run` against `rnds-drop simulate`): one file per
# fresh service, then the whole set plus one good file in one service.
# Every file must end with a resumo.json holding a pt-BR reason; peak RSS
# must stay <= 300 MB, and the outbox <= 2x the input bytes + 10 MB.
# Usage: tools/bench_hostile.sh [DIR] [check|run|both]   Prints the tables
# kept in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/rnds-drop-hostile}
mode=${2:-both}
[ -f "$dir/bomba.xlsx" ] || python3 tools/make_hostile_set.py "$dir"
cargo build --release --quiet
bin=$PWD/target/release/rnds-drop

if [ "$mode" != run ]; then
printf '%-26s %5s %9s %9s  %s\n' file exit wall_s rss_MB reason
for input in "$dir"/*.csv "$dir"/*.xlsx; do
    name=$(basename "$input")
    out=$(mktemp -d)
    set +e
    /usr/bin/time -v "$bin" check --config tests/fixtures/lab.toml \
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
print(f"{name:<26} {code:>5} {wall:>9.2f} {rss:>9.0f}  {reason[:90]}")
PY
    rm -rf "$out"
done
fi

[ "$mode" = check ] && exit 0
python3 - "$bin" "$dir" <<'PY'
"""The service on each file, then on the whole set plus one good file."""
import glob, json, os, re, shutil, signal, subprocess, sys, tempfile, time

binary, hostile = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="rnds-drop-run-")
sim = subprocess.Popen([binary, "simulate", "--listen", "127.0.0.1:18479", "--dir", f"{work}/sim"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(600):
    if os.path.exists(f"{work}/sim/rnds-drop.toml"):
        break
    time.sleep(0.1)
time.sleep(1)

GOOD = ("Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n"
        "P-1;Ana;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;Swab nasofaríngeo;RT-PCR\n")

def service(case, inputs):
    # A million rows to send take minutes; a refused file, seconds.
    limit_s = 1800 if any(os.path.getsize(p) > (30 << 20) for p in inputs) else 180
    root = f"{work}/{case}"
    os.makedirs(f"{root}/entrada")
    for name in ("rnds-drop.toml", "lab.pfx", "lab.pfx.senha", "ca.pem"):
        shutil.copy(f"{work}/sim/{name}", root)
    timing = open(f"{root}/time.txt", "w")
    # The XLSX scan says what it cost (inflated MB, ms) at debug level.
    env = dict(os.environ, RUST_LOG="info,rnds_drop::input::xlsx_scan=debug")
    proc = subprocess.Popen(["/usr/bin/time", "-v", binary, "run", "--config", "rnds-drop.toml"],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=timing, env=env)
    time.sleep(2)
    size = 0
    for path in inputs:
        shutil.copy(path, f"{root}/entrada/")
        size += os.path.getsize(path)
    start = time.time()
    while time.time() - start < limit_s:
        if len(glob.glob(f"{root}/saida/*.resumo.json")) >= len(inputs):
            break
        time.sleep(0.5)
    wall = time.time() - start
    child = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in child:
        os.kill(int(pid), signal.SIGTERM)
    proc.wait(timeout=120)
    t = open(f"{root}/time.txt").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    outbox = sum(os.path.getsize(p) for p in glob.glob(f"{root}/saida/**", recursive=True) if os.path.isfile(p))
    reason = ""
    for path in sorted(glob.glob(f"{root}/saida/*.resumo.json")):
        s = json.load(open(path))
        reason = s.get("error") or (s["issues"][0]["message"] if s["issues"] else f"enviadas {s.get('rows_sent')}")
    scan = re.findall(r"inflated_mb=(\d+) ms=(\d+)", t)
    if scan:
        reason = f"[scan {scan[-1][0]} MB in {scan[-1][1]} ms] " + reason
    bound = 2 * size + (10 << 20)
    print(f"{case:<26} {wall:>8.1f} {rss:>7.0f} {size / 2**20:>9.1f} {outbox / 2**20:>9.2f} "
          f"{'ok' if outbox <= bound else 'OVER':>5}  {reason[:70]}")
    shutil.rmtree(root)

print(f"{'run: file':<26} {'wall_s':>8} {'rss_MB':>7} {'input_MB':>9} {'outbox_MB':>9} {'<=2x+10':>5}  reason")
files = sorted(glob.glob(f"{hostile}/*.csv") + glob.glob(f"{hostile}/*.xlsx"))
for path in files:
    service(os.path.basename(path), [path])
good = f"{work}/bom.csv"
open(good, "w").write(GOOD)
# The hostile set (the million good rows aside: they are not hostile and
# were sent above) plus one good file, in one service.
service("conjunto+bom.csv", [f for f in files if not f.endswith("exames_1m.xlsx")] + [good])
sim.terminate()
sim.wait()
shutil.rmtree(work)
PY
