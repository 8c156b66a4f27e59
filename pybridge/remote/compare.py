"""Where results of the same object differ, attribute by attribute.

An active and a staging server, or two servers before and after an upgrade, can
compute different things for the same object. ``pybridge compare`` (and ``sync
--compare``) flattens each adsync JSON document into paths such as
``Step 10 ExportSpecificObject / Attribute mail / Value`` and lists the paths whose
values are not the same everywhere. Times, report paths and computer names always
differ and are left out, and so are metaverse object ids (each server has its own). Pure functions on plain data: no I/O here.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from msgspec import Struct

IGNORED_TOP = frozenset({"StartTime", "EndTime", "ReportPath", "ComputerName"})
#: Details that are each server's own identifiers and differ between servers by nature.
IGNORED_DETAILS = frozenset({"Connected Object in Metaverse"})
_ATTRIBUTE_FIELDS = ("Value", "Add", "Delete", "Operation", "SyncRule", "MappingType", "DataSource", "Type",
                     "IsMultiValued")


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


#: Stands for a path one result does not have.
MISSING: Any = _Missing()


class Difference(Struct, frozen=True):
    """One path whose values differ between the results compared."""

    path: str
    values: tuple[Any, ...]  # one per result, MISSING where the result lacks the path


class Comparison(Struct, frozen=True):
    labels: tuple[str, ...]
    differences: tuple[Difference, ...]
    compared_paths: int
    distinguished_names: tuple[str | None, ...]

    @property
    def identical(self) -> bool:
        return not self.differences

    @property
    def same_object(self) -> bool:
        return len({(dn or "").lower() for dn in self.distinguished_names}) <= 1


def _decoded(value: Any) -> Any:
    """A Details value that is itself JSON (AttributeInfoJson, Graph request body), decoded; else the value."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _loads(value)
        except ValueError:
            return value
    return value


def _flatten_json(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, list) and all(isinstance(v, dict) and "Name" in v for v in value):
        seen: dict[str, int] = {}
        for attr in value:  # AttributeInfo list: one entry per attribute (and per rule when it flows twice)
            name = str(attr.get("Name"))
            seen[name] = seen.get(name, 0) + 1
            key = name if seen[name] == 1 else f"{name} #{seen[name]}"
            for fld in _ATTRIBUTE_FIELDS:
                if fld in attr:
                    out[f"{prefix} / Attribute {key} / {fld}"] = attr[fld]
    elif isinstance(value, dict):
        for k, v in value.items():
            out[f"{prefix} / {k}"] = v if not isinstance(v, (dict, list)) else json.dumps(v, sort_keys=True)
    else:
        out[prefix] = value


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """The comparable paths of one adsync document, in document order."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in IGNORED_TOP:
            continue
        if key == "ModifiedProperties" and isinstance(value, list):
            for prop in value:
                if isinstance(prop, dict):
                    name = prop.get("Name")
                    out[f"ModifiedProperties / {name} / OldValue"] = prop.get("OldValue")
                    out[f"ModifiedProperties / {name} / NewValue"] = prop.get("NewValue")
        elif key == "ProvisioningSteps" and isinstance(value, list):
            for i, step in enumerate(value, 1):
                if not isinstance(step, dict):
                    continue
                prefix = f"Step {i} {step.get('Name', '')}".rstrip()
                for fld in ("Status", "Type", "Description"):
                    if fld in step:
                        out[f"{prefix} / {fld}"] = step[fld]
                for dkey, dval in (step.get("Details") or {}).items():
                    if dkey in IGNORED_DETAILS:
                        continue
                    _flatten_json(f"{prefix} / {dkey}", _decoded(dval), out)
        elif isinstance(value, dict):
            for sub, sval in value.items():
                out[f"{key} / {sub}"] = sval if not isinstance(sval, (dict, list)) else json.dumps(sval, sort_keys=True)
        elif isinstance(value, list):
            out[key] = json.dumps(value, sort_keys=True)
        else:
            out[key] = value
    return out


def labels_for(docs: Sequence[dict[str, Any]], fallback: Sequence[str] | None = None) -> tuple[str, ...]:
    """ComputerName of each result (else the fallback, e.g. its file), made unique with #n."""
    raw = []
    for i, doc in enumerate(docs):
        name = doc.get("ComputerName")
        raw.append(str(name) if name else (fallback[i] if fallback and i < len(fallback) else f"#{i + 1}"))
    out = []
    for i, name in enumerate(raw):
        out.append(name if raw.count(name) == 1 else f"{name} #{i + 1}")
    return tuple(out)


def compare(docs: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> Comparison:
    """Compare two or more adsync documents path by path."""
    flat = [flatten(d) for d in docs]
    order: dict[str, None] = {}
    for f in flat:
        for path in f:
            order.setdefault(path, None)
    diffs = []
    for path in order:
        values = tuple(f.get(path, MISSING) for f in flat)
        if any(v != values[0] or (v is MISSING) != (values[0] is MISSING) for v in values[1:]):
            diffs.append(Difference(path, values))
    dns = tuple((d.get("SourceIdentity") or {}).get("Name") if isinstance(d.get("SourceIdentity"), dict) else None
                for d in docs)
    return Comparison(labels=tuple(labels) if labels else labels_for(docs), differences=tuple(diffs),
                      compared_paths=len(order), distinguished_names=dns)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value)


def render_text(c: Comparison) -> str:
    lines = [f"Compared {len(c.labels)} results: {', '.join(c.labels)} (times, report paths, computer names and "
             "metaverse ids ignored)"]
    if not c.same_object:
        lines.append("WARNING: the results are for different objects: "
                     + "; ".join(f"{lab}: {dn}" for lab, dn in zip(c.labels, c.distinguished_names)))
    if c.identical:
        lines.append(f"No differences in {c.compared_paths} compared values.")
        return "\n".join(lines)
    lines.append(f"{len(c.differences)} difference(s) in {c.compared_paths} compared values:")
    width = max(len(lab) for lab in c.labels)
    for d in c.differences:
        lines.append(f"  {d.path}")
        for lab, value in zip(c.labels, d.values):
            lines.append(f"    {lab.ljust(width)}  {_show(value)}")
    return "\n".join(lines)


def to_json(c: Comparison) -> dict[str, Any]:
    return {"Results": list(c.labels), "Identical": c.identical, "SameObject": c.same_object,
            "ComparedValues": c.compared_paths,
            "Differences": [{"Path": d.path, "Values": {lab: (None if v is MISSING else v)
                                                        for lab, v in zip(c.labels, d.values)},
                             "AbsentIn": [lab for lab, v in zip(c.labels, d.values) if v is MISSING]}
                            for d in c.differences]}


def _loads(text: str) -> Any:
    """json.loads, with nesting too deep for the parser (thousands of '[') a ValueError like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def parse_documents(text: str, source: str) -> list[dict[str, Any]]:
    """Every JSON document in *text*: one per line (pybridge's output) or one pretty-printed document."""
    text = text.strip()
    if not text:
        return []
    try:
        whole = _loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list) and all(isinstance(d, dict) for d in whole):
        return list(whole)
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            doc = _loads(line)
        except ValueError as exc:
            raise ValueError(f"{source}, line {n}: not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{source}, line {n}: not a JSON object")
        docs.append(doc)
    return docs


def check_adsync(doc: dict[str, Any], source: str) -> None:
    if "provisioningSteps" in doc and "ProvisioningSteps" not in doc:
        raise ValueError(f"{source}: a --format graph result; compare needs the adsync shape (the default format)")
    if "StatusInfo" not in doc or "ProvisioningSteps" not in doc:
        raise ValueError(f"{source}: not a Single Object Sync result (no StatusInfo / ProvisioningSteps)")


__all__ = ["compare", "flatten", "render_text", "to_json", "parse_documents", "check_adsync", "labels_for",
           "Comparison", "Difference", "MISSING"]
