#!/usr/bin/env python3
"""Writes the hostile input set of issues 13 and 18 into a folder (default
/tmp/rnds-drop-hostile): files a lab, a broken export or an attacker could
drop. The big ones (the XLSX bomb, a 200 MB line, an 800 MB cell, a zip
directory that lies, two 1,000,000-row workbooks) are made here, never
committed. Used by tools/bench_hostile.sh.

Usage: tools/make_hostile_set.py [DIR]
"""
import os
import struct
import subprocess
import sys
import zipfile

HEADER = "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia"
ROW = "P-{n};Ana;759010928159013;03/11/2026 08:15;03/11/2026 16:40;94309-2;Detectável;Swab nasofaríngeo;RT-PCR"

WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook '
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Plan1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships '
    'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def text(path, content, encoding="utf-8"):
    with open(path, "wb") as f:
        f.write(content.encode(encoding) if isinstance(content, str) else content)


def bomb(path, rows=1_500_000):
    """1.5 M rows of one 1 KB inline string: 1.57 GB of sheet XML in a
    zip of a few MB."""
    cell = "x" * 1000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Paciente</t></is></c>'
                b'<c r="B1" t="inlineStr"><is><t>Resultado</t></is></c></row>'
            )
            batch = []
            for n in range(2, rows + 2):
                batch.append(
                    f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{cell}</t></is></c></row>'
                )
                if len(batch) == 10_000:
                    sheet.write("".join(batch).encode())
                    batch = []
            sheet.write("".join(batch).encode())
            sheet.write(b"</sheetData></worksheet>")


def huge_inline_cell(path, size=800 << 20):
    """One inline cell of 800 MB under a good header and row: a 3.6 MB zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(sheet_head(2).encode())
            sheet.write(b'<row r="3"><c r="A3" t="inlineStr"><is><t>')
            chunk = b"x" * (1 << 20)
            for _ in range(size >> 20):
                sheet.write(chunk)
            sheet.write(b"</t></is></c></row></sheetData></worksheet>")


def lying_directory(path, size=900 << 20, declared=1000):
    """sharedStrings.xml of 900 MB whose zip directory (and local header)
    say 1,000 bytes."""
    item = b"<si><t>x</t></si>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet_head(2) + "</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            batch = item * ((1 << 20) // len(item))
            for _ in range(size >> 20):
                strings.write(batch)
            strings.write(b"</sst>")
    data = bytearray(open(path, "rb").read())
    name = b"xl/sharedStrings.xml"
    patched = 0
    for sig, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = data.find(sig)
        while at >= 0:
            (name_len,) = struct.unpack_from("<H", data, at + name_len_at)
            if data[at + name_at : at + name_at + name_len] == name:
                struct.pack_into("<I", data, at + size_at, declared)
                patched += 1
            at = data.find(sig, at + 4)
    assert patched == 2, patched
    open(path, "wb").write(data)


def sheet_head(rows):
    """Sheet XML up to the header and `rows - 1` good rows, sheetData open."""
    cols = "ABCDEFGHI"
    lines = [HEADER.split(";")] + [ROW.format(n=n).split(";") for n in range(1, rows)]
    xml = "".join(
        f'<row r="{r + 1}">'
        + "".join(
            f'<c r="{cols[c]}{r + 1}" t="inlineStr"><is><t>{v}</t></is></c>'
            for c, v in enumerate(values)
        )
        + "</row>"
        for r, values in enumerate(lines)
    )
    return '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + xml


def xlsx_from_csv(csv_path, path, spoil=None):
    """A workbook of inline strings with every line of `csv_path` (`;`),
    as a LIS would export it; `spoil(cells)` changes each data row."""
    def col(c):
        return chr(ord("A") + c)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            batch = []
            with open(csv_path, encoding="utf-8") as lines:
                for r, line in enumerate(lines, start=1):
                    cells = line.rstrip("\n").split(";")
                    if spoil and r > 1:
                        cells = spoil(cells)
                    batch.append(
                        f'<row r="{r}">'
                        + "".join(
                            f'<c r="{col(c)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
                            for c, v in enumerate(cells)
                            if v
                        )
                        + "</row>"
                    )
                    if len(batch) == 10_000:
                        sheet.write("".join(batch).encode())
                        batch = []
            sheet.write("".join(batch).encode())
            sheet.write(b"</sheetData></worksheet>")


def good_xlsx_bytes():
    """A small valid workbook by hand (inline strings)."""
    import io

    def cell(ref, value):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    cols = "ABCDEFGHI"
    rows = [HEADER.split(";"), ROW.format(n=1).split(";")]
    xml = "".join(
        f'<row r="{r + 1}">'
        + "".join(cell(f"{cols[c]}{r + 1}", v) for c, v in enumerate(values))
        + "</row>"
        for r, values in enumerate(rows)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        z.writestr(
            "xl/worksheets/sheet1.xml",
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{xml}</sheetData></worksheet>",
        )
    return out.getvalue()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/rnds-drop-hostile"
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    text(p("vazio.csv"), "")
    text(p("vazio.xlsx"), "")
    text(p("binario.csv"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64)
    text(p("utf16.csv"), "\ufeff" + HEADER + "\r\n" + ROW.format(n=1) + "\r\n", "utf-16-le")
    text(p("cabecalho_repetido.csv"), "\n".join([HEADER, ROW.format(n=1), HEADER, ROW.format(n=2)]) + "\n")
    text(p("aspas_abertas.csv"), HEADER + "\n" + ROW.format(n=1) + '\nP-2;"Bia\n' + "\n".join(ROW.format(n=n) for n in range(3, 200_003)) + "\n")
    # 1,048,576 rows of `x;` (3 MB): every row invalid.
    text(p("lixo_1m.csv"), HEADER + "\n" + "x;\n" * 1_048_576)
    text(p("formula.csv"), HEADER + "\n" + '=HYPERLINK("http://x.example","x")' + ROW.format(n=1)[3:] + "\n" + ROW.format(n=2).replace(";Ana;", ";=1+1;") + "\n")
    good = good_xlsx_bytes()
    text(p("xlsx_truncado.xlsx"), good[: len(good) * 2 // 3])
    with open(p("linha_enorme.csv"), "wb") as f:
        f.write((HEADER + "\n" + ROW.format(n=1) + "\nP-2;").encode())
        chunk = b"x" * (1 << 20)
        for _ in range(200):
            f.write(chunk)
        f.write(("\n" + ROW.format(n=3) + "\n").encode())
    bomb(p("bomba.xlsx"))
    huge_inline_cell(p("celula_800mb.xlsx"))
    lying_directory(p("diretorio_mentiroso.xlsx"))
    rows_csv = p("exames_1m.csv.fonte")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(
        [sys.executable, os.path.join(here, "..", "..", "shared", "perf", "gen_exames.py"), "1000000", rows_csv],
        check=True,
    )
    xlsx_from_csv(rows_csv, p("exames_1m.xlsx"))
    # Every row's CNS made invalid: a 1,000,000-row file of bad rows.
    xlsx_from_csv(rows_csv, p("invalidas_1m.xlsx"), lambda cells: cells[:2] + ["123"] + cells[3:])
    os.remove(rows_csv)
    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(p(name)):>12,}  {name}")


if __name__ == "__main__":
    main()
