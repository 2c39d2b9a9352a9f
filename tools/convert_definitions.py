#!/usr/bin/env python3
"""Convert the published RNDS FHIR definitions (XML) into schemas/codesystems/*.json.

Run once by a developer when the definitions change:
    python3 tools/convert_definitions.py ../shared/rnds/definitions schemas/codesystems
The output is committed; the build never runs this script."""
import json, os, sys
import xml.etree.ElementTree as ET

NS = {"f": "http://hl7.org/fhir"}

def val(el, path):
    e = el.find(path, NS)
    return e.get("value") if e is not None else None

def concepts(parent):
    out = []
    for c in parent.findall("f:concept", NS):
        out.append({"code": val(c, "f:code"), "display": val(c, "f:display")})
    return out

def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(src, name)).getroot()
        kind = root.tag.split("}")[1]
        doc = {"source": f"shared/rnds/definitions/{name}", "url": val(root, "f:url"),
               "name": val(root, "f:name"), "version": val(root, "f:version")}
        if kind == "CodeSystem":
            doc["concepts"] = concepts(root)
            out = doc["url"].rsplit("/", 1)[1]
        elif kind == "ValueSet":
            includes = []
            for inc in root.findall("f:compose/f:include", NS):
                includes.append({"system": val(inc, "f:system"), "concepts": concepts(inc)})
            if not any(i["concepts"] for i in includes):
                doc["include_systems"] = [i["system"] for i in includes]
            else:
                doc["include"] = includes
            out = "ValueSet-" + doc["url"].rsplit("/", 1)[1]
        else:
            continue
        with open(os.path.join(dst, out + ".json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
