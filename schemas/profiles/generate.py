#!/usr/bin/env python3
"""Converts the REL StructureDefinitions in shared/rnds/definitions into the
rule files of schemas/profiles/ read by src/conformance.

Each rule is {"path", optional "min", "max", "fixed", "allowed", "systems",
"check"} with a path relative to the resource. Rules come from the
differential (slices merged: their fixed systems become an "allowed" list),
then base FHIR R4 minimums and the contract's bindings are added by hand
below. The 2.0 profiles are not published: they are derived from 1.1 / 1.0
with the differences CONTRACT.md states.

Usage: python3 schemas/profiles/generate.py ../shared/rnds/definitions
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

NS = {"f": "http://hl7.org/fhir"}
SD = "http://www.saude.gov.br/fhir/r4/StructureDefinition/"
CS = "http://www.saude.gov.br/fhir/r4/CodeSystem/"
HERE = os.path.dirname(os.path.abspath(__file__))

# Base R4 minimums the differentials do not repeat, and the contract's rules.
EXTRA = {
    "Composition": [
        {"path": "status", "min": 1, "fixed": "final", "note": "R4 1..1; contrato: final"},
        {"path": "type", "min": 1, "note": "R4 1..1"},
        {"path": "type.coding", "systems": [CS + "BRTipoDocumento"]},
        {"path": "type.coding.code", "fixed": "REL", "note": "contrato: BRTipoDocumento#REL"},
        {"path": "subject.identifier.value", "check": "cns"},
        {"path": "date", "min": 1, "max": 1, "check": "dateTime", "note": "R4 1..1"},
        {"path": "author", "min": 1, "note": "R4 1..*"},
        {"path": "author.identifier.system",
         "allowed": [SD + "BREstabelecimentoSaude-1.0", SD + "BRPessoaJuridicaProfissionalLiberal-1.0"]},
        {"path": "author.identifier.value", "check": "organization"},
        {"path": "title", "min": 1, "note": "R4 1..1"},
        {"path": "section.entry", "max": 1, "check": "reference:Observation",
         "note": "contrato: uma Observation por documento"},
    ],
    "Observation": [
        {"path": "status", "min": 1, "fixed": "final", "note": "R4 1..1; contrato: final"},
        {"path": "category.coding", "systems": [CS + "BRSubgrupoTabelaSUS"]},
        {"path": "code", "min": 1, "note": "R4 1..1"},
        {"path": "issued", "check": "instant", "note": "instante com fuso"},
        {"path": "code.coding", "systems": [CS + "BRNomeExameLOINC", CS + "BRNomeExameGAL"]},
        {"path": "subject.identifier.value", "check": "cns"},
        {"path": "performer.identifier.system",
         "allowed": [SD + "BREstabelecimentoSaude-1.0", SD + "BRPessoaJuridicaProfissionalLiberal-1.0",
                     SD + "BRLotacaoProfissional-1.0"]},
        {"path": "performer.identifier.value", "check": "organization"},
        {"path": "value[x]", "max": 1, "check": "result"},
        {"path": "valueCodeableConcept.coding", "systems": [CS + "BRResultadoQualitativoExame"]},
        {"path": "interpretation.coding", "systems": [CS + "BRResultadoQualitativoExame"]},
        {"path": "method.text", "min": 1, "max": 1, "note": "contrato: method.text obrigatório"},
        {"path": "note.text", "min": 1},
        {"path": "specimen", "max": 1, "check": "reference:Specimen"},
    ],
    "Specimen": [
        {"path": "type.coding", "systems": [CS + "BRTipoAmostraGAL", "http://terminology.hl7.org/CodeSystem/v2-0487"]},
    ],
}


def differential(path):
    root = ET.parse(path).getroot()
    url = root.find("f:url", NS).get("value")
    rtype = root.find("f:type", NS).get("value")
    merged = {}
    order = []
    for e in root.find("f:differential", NS).findall("f:element", NS):
        eid = e.get("id")
        if "." not in eid:
            continue
        sliced = ":" in eid
        rel = ".".join(p.split(":")[0] for p in eid.split(".")[1:])
        rule = merged.get(rel)
        if rule is None:
            rule = {"path": rel}
            merged[rel] = rule
            order.append(rel)
        mn = e.find("f:min", NS)
        mx = e.find("f:max", NS)
        if mn is not None and int(mn.get("value")) > 0:
            rule["min"] = max(rule.get("min", 0), int(mn.get("value")))
        # A slice's max bounds the slice, not the element; 0 forbids the
        # sub-element in every slice, which is what the profile means.
        if mx is not None and (not sliced or mx.get("value") == "0"):
            rule["max"] = 0 if mx.get("value") == "0" else (
                None if mx.get("value") == "*" else int(mx.get("value")))
            if rule["max"] is None:
                del rule["max"]
        for child in e:
            tag = child.tag.split("}")[1]
            if tag.startswith("fixed") and rule.get("max") != 0:
                if sliced:
                    rule.setdefault("allowed", []).append(child.get("value"))
                else:
                    rule["fixed"] = child.get("value")
    rules = [merged[p] for p in order if len(merged[p]) > 1]
    return url, rtype, rules


def merge(rules, extra):
    by_path = {r["path"]: dict(r) for r in rules}
    order = [r["path"] for r in rules]
    for x in extra:
        r = by_path.get(x["path"])
        if r is None:
            by_path[x["path"]] = dict(x)
            order.append(x["path"])
        else:
            for k, v in x.items():
                if k == "allowed":
                    r[k] = v  # the contract's list is the complete one
                elif k != "path":
                    r.setdefault(k, v)
    return [by_path[p] for p in order]


def write(name, url, rtype, source, rules, **more):
    doc = {"url": url, "resourceType": rtype, "source": source}
    doc.update(more)
    doc["rules"] = rules
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main(defs):
    src = "shared/rnds/definitions/"
    comp11 = differential(os.path.join(defs, "BRResultadoExameLaboratorial.xml"))
    comp10 = differential(os.path.join(defs, "BRResultadoExameLaboratorial-duplicate-2.xml"))
    obs10 = differential(os.path.join(defs, "BRDiagnosticoLaboratorioClinico.xml"))
    spec10 = differential(os.path.join(defs, "BRAmostraBiologica.xml"))
    obs1 = SD + "BRDiagnosticoLaboratorioClinico-1.0"
    obs2 = SD + "BRDiagnosticoLaboratorioClinico-2.0"
    spec = SD + "BRAmostraBiologica-1.0"

    write("Composition-1.1.json", comp11[0], "Composition", src + "BRResultadoExameLaboratorial.xml",
          merge(comp11[2], EXTRA["Composition"]), observation_profiles=[obs1])
    write("Composition-1.0.json", comp10[0], "Composition", src + "BRResultadoExameLaboratorial-duplicate-2.xml",
          merge(comp10[2], EXTRA["Composition"]), observation_profiles=[obs1])
    write("Observation-1.0.json", obs10[0], "Observation", src + "BRDiagnosticoLaboratorioClinico.xml",
          merge(obs10[2], EXTRA["Observation"]), specimen_profiles=[spec])
    write("Specimen-1.0.json", spec10[0], "Specimen", src + "BRAmostraBiologica.xml",
          merge(spec10[2], EXTRA["Specimen"]))

    derived = ("not published in shared/rnds/definitions: derived from the -1.x file "
               "named in 'source' plus the differences stated in CONTRACT.md")
    write("Composition-2.0.json", SD + "BRResultadoExameLaboratorial-2.0", "Composition",
          src + "BRResultadoExameLaboratorial.xml", merge(comp11[2], EXTRA["Composition"]),
          derivation=derived + " (same rules as -1.1; its section entry is an Observation -2.0)",
          observation_profiles=[obs2])
    obs2_rules = [r for r in merge(obs10[2], EXTRA["Observation"]) if r["path"] != "effective[x]"]
    obs2_rules.append({"path": "effective[x]", "min": 1, "max": 1, "only": "effectiveDateTime",
                       "check": "dateTime", "note": "contrato: data da coleta"})
    write("Observation-2.0.json", obs2, "Observation", src + "BRDiagnosticoLaboratorioClinico.xml",
          obs2_rules, derivation=derived + " (effective[x] required as effectiveDateTime, "
          "the specimen collection time; -1.0 forbids it)", specimen_profiles=[spec])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/rnds/definitions")
