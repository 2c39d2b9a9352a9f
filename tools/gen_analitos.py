#!/usr/bin/env python3
"""A synthetic analyte-row export (Fleury "EXAMES" layout plus CNS and
release-date columns) for the memory benchmark of layouts: one row per
analyte, visits of 2 rows (SARS-CoV-2 PCR result + specimen) alternating
with hemograma visits of 3 rows. Usage: gen_analitos.py ROWS OUT.csv"""
import random
import sys


def cns(rng):
    # Definitive CNS starting with 7/8/9: 15 digits, weighted sum % 11 == 0.
    while True:
        digits = [rng.choice("789")] + [str(rng.randrange(10)) for _ in range(13)]
        total = sum(int(d) * (15 - i) for i, d in enumerate(digits))
        last = (11 - total % 11) % 11
        if last < 10:
            return "".join(digits) + str(last)


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(12)
    patients = [cns(rng) for _ in range(5000)]
    pcr = "NOVO CORONAVÍRUS 2019 (SARS-CoV-2), DETECÇÃO POR PCR"
    with open(out, "w", encoding="utf-8") as f:
        f.write("ID_PACIENTE|ID_ATENDIMENTO|DT_COLETA|DE_ORIGEM|DE_EXAME|DE_ANALITO|"
                "DE_RESULTADO|CD_UNIDADE|DE_VALOR_REFERENCIA|CNS_PACIENTE|DT_LIBERACAO\n")
        n, visit = 0, 0
        while n < rows:
            visit += 1
            p = rng.randrange(len(patients))
            day = 1 + visit % 28
            head = f"P{p:05d}|V{visit:09d}|{day:02d}/03/2021|LAB|"
            tail = f"|{patients[p]}|{day:02d}/03/2021\n"
            if visit % 2:
                result = rng.choice(["DETECTADO", "NÃO DETECTADO"])
                f.write(head + pcr + f"|Covid 19, Detecção por PCR|{result}||Não detectado" + tail)
                f.write(head + pcr + "|Covid 19, Material|raspado de naso faringe||" + tail)
                n += 2
            else:
                for analyte, value in (("Hemoglobina", "14,1"), ("VCM", "86,1"), ("Leucócitos", "5250")):
                    f.write(head + f"HEMOGRAMA, sangue total|{analyte}|{value}|g/dL|" + tail)
                n += 3


if __name__ == "__main__":
    main()
