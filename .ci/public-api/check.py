#!/usr/bin/env python3
"""Lists every type and trait from another crate that meshward's public API names, and fails
when one is not in allowed.txt: a dependency's type in our API ties our semver to theirs, so
each one there is a decision, not an accident.

Reads the rustdoc JSON of the crate (see .ci/run for the command that writes it). Walks from
the crate root through public modules, re-exports, items, fields, variants, and the public
items and trait headers of impls (blanket and auto-trait impls excepted), and collects every
path whose crate is not meshward.
Usage: check.py <meshward.json> <allowed.txt>
"""
import json
import sys


def main(doc_path, allowed_path):
    doc = json.load(open(doc_path))
    index, paths = doc["index"], doc["paths"]
    crates = {int(k): v["name"] for k, v in doc["external_crates"].items()}
    allowed = []
    for line in open(allowed_path):
        line = line.split("#", 1)[0].strip()
        if line:
            allowed.append(line)

    found = {}  # external path -> first place it was seen
    seen = set()

    def external(node, where):
        """Collects the external paths anywhere inside a type, bound or signature."""
        if isinstance(node, dict):
            for key in ("resolved_path", "trait"):
                target = node.get(key)
                if isinstance(target, dict) and "id" in target:
                    info = paths.get(str(target["id"]))
                    if info and info["crate_id"] != 0:
                        crate = crates.get(info["crate_id"], "?")
                        if crate not in ("core", "alloc", "std"):
                            name = "::".join([crate] + info["path"][1:])
                            found.setdefault(name, where)
            for value in node.values():
                external(value, where)
        elif isinstance(node, list):
            for value in node:
                external(value, where)

    def walk(item_id, where):
        if item_id is None or item_id in seen:
            return
        seen.add(item_id)
        item = index.get(str(item_id))
        if item is None or item["crate_id"] != 0:
            return
        name = item.get("name") or ""
        here = f"{where}::{name}" if where and name else (name or where)
        kind, inner = next(iter(item["inner"].items()))
        if kind == "module":
            for child in inner["items"]:
                child_item = index.get(str(child))
                if child_item and child_item["visibility"] == "public":
                    walk(child, here)
        elif kind == "use":
            walk(inner.get("id"), where)
        elif kind in ("struct", "enum", "union"):
            external(inner.get("generics"), here)
            if kind == "struct":
                fields = inner["kind"].get("plain", {}).get("fields", []) if isinstance(inner["kind"], dict) else []
                fields += inner["kind"].get("tuple", []) if isinstance(inner["kind"], dict) else []
                for field in fields:
                    field_item = field is not None and index.get(str(field))
                    if field_item and field_item["visibility"] == "public":
                        external(field_item["inner"], f"{here}.{field_item['name']}")
            if kind == "enum":
                for variant in inner["variants"]:
                    v = index.get(str(variant))
                    if v:
                        for field in json_fields(v["inner"]["variant"]["kind"]):
                            f = index.get(str(field))
                            if f:
                                external(f["inner"], f"{here}::{v['name']}")
            for impl in inner.get("impls", []):
                walk_impl(impl, here)
        elif kind == "trait":
            external(inner.get("generics"), here)
            external(inner.get("bounds"), here)
            for child in inner["items"]:
                c = index.get(str(child))
                if c:
                    external(c["inner"], f"{here}::{c['name']}")
        elif kind in ("function", "type_alias", "constant", "static"):
            external(inner, here)

    def walk_impl(impl_id, where):
        impl = index.get(str(impl_id))
        if impl is None:
            return
        inner = impl["inner"]["impl"]
        if inner.get("blanket_impl") is not None or inner.get("is_synthetic"):
            return
        if inner.get("trait") is not None:
            external({"trait": inner["trait"]}, f"impl for {where}")
            external(inner.get("generics"), f"impl for {where}")
            for child in inner["items"]:
                c = index.get(str(child))
                if c and next(iter(c["inner"])) == "assoc_type":
                    external(c["inner"], f"{where} as {inner['trait']['path']}::{c['name']}")
            return
        for child in inner["items"]:
            c = index.get(str(child))
            if c and c["visibility"] == "public":
                external(c["inner"], f"{where}::{c['name']}")

    def json_fields(kind):
        if isinstance(kind, dict):
            if "tuple" in kind:
                return [f for f in kind["tuple"] if f is not None]
            if "struct" in kind:
                return kind["struct"]["fields"]
        return []

    walk(doc["root"], "")
    unexpected = []
    for name in sorted(found):
        ok = any(name == a or (a.endswith("::*") and name.startswith(a[:-1])) for a in allowed)
        print(f"{'  ' if ok else '! '}{name}    (first seen at {found[name]})")
        if not ok:
            unexpected.append(name)
    if unexpected:
        print(f"\n{len(unexpected)} external type(s) in the public API not in {allowed_path}:")
        for name in unexpected:
            print(f"  {name}")
        return 1
    print(f"\n{len(found)} external types in the public API, all allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
