"""Linux and Windows (Wine) outputs of rnds-drop, compared byte for byte
after normalising only what must differ between two runs:

- build instants: the bundles' "timestamp" and "meta.lastUpdated", the
  .xlsx core properties' dcterms:created / dcterms:modified, the
  AAAAMMDDTHHMMSS stamp in the service's report names (demo);
- the output folder's path in console lines (each run writes its own);
- the program name in --help (rnds-drop vs rnds-drop.exe);
- demo only: the RNDS id of each sent row (the simulator makes a new one
  per document, by design) and the sha256 of the demo's own .xlsx input
  (written at demo time, its zip holds its creation instant).

Everything else is compared as bytes: line endings, path separators in
report text, number formatting and encodings included. .xlsx files are
compared member by member (the zip container's own timestamps aside).

Usage: compare.py console LINUX.txt WIN.txt [LINUX_OUT WIN_OUT]
       compare.py reports LINUX_DIR WIN_DIR
       compare.py demo LINUX_SAIDA WIN_SAIDA
Exit 1 with a diff of the first difference.
"""

import difflib
import io
import pathlib
import re
import sys
import zipfile

INSTANTS = re.compile(rb'"(timestamp|lastUpdated)":"[^"]*"')
XLSX_INSTANTS = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)")
# A service report's name carries the instant its input was received:
# `<stem>.<AAAAMMDDTHHMMSS>_<extension>.<report>` (or `.<report>` before).
REPORT_STAMP = re.compile(r"\.\d{8}T\d{6}(?=[._])")
# ...and its resumo.json when and from which folder (a Windows path there).
RECEIVED = re.compile(rb'"(received_at|inbox)": "[^"]*"')
RNDS_ID = re.compile(rb";[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9a-z]{4};")
SHA256 = re.compile(rb'"sha256": "[0-9a-f]{64}"')


def differ(name, a, b):
    print(f"  compare: {name} differs between Linux (-) and Windows (+):", file=sys.stderr)
    lines = difflib.unified_diff(
        a.decode("utf-8", "replace").splitlines(keepends=True),
        b.decode("utf-8", "replace").splitlines(keepends=True),
        n=1,
    )
    for i, line in enumerate(lines):
        if i > 40:
            print("    …", file=sys.stderr)
            break
        print("    " + repr(line)[1:-1], file=sys.stderr)
    return False


def xlsx_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {
            info.filename: XLSX_INSTANTS.sub(rb"\1*\2", z.read(info))
            for info in z.infolist()
        }


def same_report(name, a, b, demo=False):
    if name.endswith(".xlsx"):
        ma, mb = xlsx_members(a), xlsx_members(b)
        if sorted(ma) != sorted(mb):
            return differ(name + " (zip members)", "\n".join(sorted(ma)).encode(), "\n".join(sorted(mb)).encode())
        return all(ma[m] == mb[m] or differ(f"{name}:{m}", ma[m], mb[m]) for m in sorted(ma))
    if name.endswith((".json", ".ndjson")):
        a, b = INSTANTS.sub(rb'"\1":"*"', a), INSTANTS.sub(rb'"\1":"*"', b)
    if demo and name.endswith(".enviados.csv"):
        a, b = RNDS_ID.sub(b";<id RNDS>;", a), RNDS_ID.sub(b";<id RNDS>;", b)
    if demo and name.endswith(".resumo.json"):
        a, b = RECEIVED.sub(rb'"\1": "*"', a), RECEIVED.sub(rb'"\1": "*"', b)
    if demo and name.startswith("exames-planilha.") and name.endswith(".resumo.json"):
        a, b = SHA256.sub(b'"sha256": "*"', a), SHA256.sub(b'"sha256": "*"', b)
    return a == b or differ(name, a, b)


def reports(linux, win, demo=False):
    linux, win = pathlib.Path(linux), pathlib.Path(win)
    name = (lambda p: REPORT_STAMP.sub(".*", p.name)) if demo else (lambda p: p.name)
    files_a = {name(p): p for p in linux.iterdir() if p.is_file()}
    files_b = {name(p): p for p in win.iterdir() if p.is_file()}
    if sorted(files_a) != sorted(files_b):
        return differ("the list of reports", "\n".join(sorted(files_a)).encode(), "\n".join(sorted(files_b)).encode())
    if not any(n.endswith(".resumo.json") for n in files_a):
        print(f"  compare: no resumo.json in {linux}", file=sys.stderr)
        return False
    ok = True
    for n in sorted(files_a):
        ok = same_report(n, files_a[n].read_bytes(), files_b[n].read_bytes(), demo) and ok
    if ok:
        print(f"  compare: {len(files_a)} reports identical ({', '.join(sorted(files_a))})")
    return ok


def console(linux_txt, win_txt, linux_out=None, win_out=None):
    a, b = pathlib.Path(linux_txt).read_bytes(), pathlib.Path(win_txt).read_bytes()
    if linux_out:
        # The Windows program joins the folder given on the command line
        # (forward slashes) and a report name with a backslash.
        a = re.sub(re.escape(linux_out.encode()) + rb"[/\\]", b"<out>/", a)
        b = re.sub(re.escape(win_out.encode()) + rb"[/\\]", b"<out>/", b)
    else:
        b = b.replace(b"rnds-drop.exe", b"rnds-drop")
    return a == b or differ(pathlib.Path(win_txt).name, a, b)


def main(argv):
    mode, *args = argv
    ok = {
        "console": console,
        "reports": reports,
        "demo": lambda a, b: reports(a, b, demo=True),
    }[mode](*args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
