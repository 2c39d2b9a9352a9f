#!/usr/bin/env python3
"""Writes the hostile input set of issue 13 into a folder (default
/tmp/rnds-drop-hostile): files a lab, a broken export or an attacker could
drop. The big ones (the XLSX bomb, a 200 MB line) are made here, never
committed. Used by tools/bench_hostile.sh.

Usage: tools/make_hostile_set.py [DIR]
"""
import os
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
    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(p(name)):>12,}  {name}")


if __name__ == "__main__":
    main()
