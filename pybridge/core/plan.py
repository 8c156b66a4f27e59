"""The pending export: what Entra ID must receive to match the computed object.

Pure logic: compares the values the outbound flows computed with the Entra
connector-space object (what Graph holds now) and produces the attribute-level
changes, the Graph request body, and the ModifiedProperties of the result.
"""
from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from .model import Action, AttributeInfo, ModifiedProperty
from .values import display

# Graph properties pybridge writes that are multi-valued references.
REFERENCE_ATTRIBUTES = {"members"}
# Single-valued references, written through their own $ref endpoint, never in the object's body.
SINGLE_REFERENCES = {"manager"}
# Properties Graph only accepts on create (changing them later needs another API or is impossible).
CREATE_ONLY = {"mailEnabled", "securityEnabled"}
# Properties Graph never lets a write clear (null): the user resource documents usageLocation as "Not
# nullable", displayName as "can't be cleared during updates", and userPrincipalName, mailNickname and
# accountEnabled as required; the group resource requires displayName, mailNickname, mailEnabled and
# securityEnabled (learn.microsoft.com/graph/api/resources/user, .../resources/group).
NON_NULLABLE = {"user": frozenset({"usageLocation", "displayName", "userPrincipalName", "mailNickname",
                                   "accountEnabled"}),
                "group": frozenset({"displayName", "mailNickname", "mailEnabled", "securityEnabled"})}


class AttributeChange(Struct):
    name: str
    old: Any
    new: Any
    multi_valued: bool = False
    adds: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)


class PendingExport(Struct):
    operation: Action  # CREATE, UPDATE or OTHER (nothing to export)
    target_type: str
    changes: list[AttributeChange]
    desired: dict[str, Any]
    not_cleared: list[str] = field(default_factory=list)  # flows that would clear what Graph cannot clear

    @property
    def is_empty(self) -> bool:
        return self.operation == Action.OTHER


def _same(old: object, new: object) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old == new
    return old == new


def compute(target_type: str, desired: dict[str, Any], current: dict[str, Any] | None,
            managed: list[str]) -> PendingExport:
    """Diff *desired* (attribute -> value, absent = null) against *current* for the *managed* attributes.

    *current* is None when no Entra object matched: the export is then a create of every
    non-null desired value.
    """
    changes: list[AttributeChange] = []
    if current is None:
        for name in managed:
            value = desired.get(name)
            if value is None or value == []:
                continue
            if isinstance(value, list):
                changes.append(AttributeChange(name, None, list(value), True, adds=[str(v) for v in value]))
            else:
                changes.append(AttributeChange(name, None, value))
        return PendingExport(Action.CREATE, target_type, changes, desired)
    not_cleared: list[str] = []
    for name in managed:
        new = desired.get(name)
        old = current.get(name)
        if new is None and old not in (None, "", []) and name in NON_NULLABLE.get(target_type, ()):
            not_cleared.append(name)  # reported, never sent: Graph refuses null here
            continue
        if name in REFERENCE_ATTRIBUTES or isinstance(new, list) or isinstance(old, list):
            new_set = [str(v) for v in (new or [])]
            old_set = [str(v) for v in (old or [])]
            old_keys = {v.lower() for v in old_set}
            new_keys = {v.lower() for v in new_set}
            adds = [v for v in new_set if v.lower() not in old_keys]
            removes = [v for v in old_set if v.lower() not in new_keys]
            if adds or removes:
                changes.append(AttributeChange(name, old_set, new_set, True, adds=adds, removes=removes))
            continue
        if name in CREATE_ONLY:
            continue
        if (old is None or old == "") and new is None:
            continue
        if not _same(old, new):
            changes.append(AttributeChange(name, old, new))
    return PendingExport(Action.UPDATE if changes else Action.OTHER, target_type, changes, desired, not_cleared)


def graph_body(export: PendingExport) -> dict[str, Any]:
    """The JSON body of the POST or PATCH, without members (written separately) and passwords."""
    body: dict[str, Any] = {}
    for c in export.changes:
        if c.name in REFERENCE_ATTRIBUTES or c.name in SINGLE_REFERENCES:
            continue
        body[c.name] = c.new
    return body


def modified_properties(export: PendingExport) -> list[ModifiedProperty]:
    """The result's ModifiedProperties: old and new value; multi-valued as '<attr> - Count' (as the original)."""
    out = []
    for c in export.changes:
        if c.multi_valued:
            out.append(ModifiedProperty(f"{c.name} - Count", str(len(c.old)) if c.old is not None else None,
                                        str(len(c.new or []))))
        else:
            out.append(ModifiedProperty(c.name, display(c.old), display(c.new)))
    return out


def attribute_info(export: PendingExport, rule_of: dict[str, str]) -> list[AttributeInfo]:
    """The export step's attribute table."""
    op = "Add" if export.operation == Action.CREATE else "Replace"
    out = []
    for c in export.changes:
        if c.multi_valued:
            out.append(AttributeInfo(name=c.name, is_multi_valued=True,
                                     type="Reference" if c.name in REFERENCE_ATTRIBUTES else "String",
                                     value=f"{len(c.new or [])} value(s)",
                                     add="; ".join(c.adds) or None, delete="; ".join(c.removes) or None,
                                     operation="Update", sync_rule=rule_of.get(c.name),
                                     mapping_type="Direct", data_source="Metaverse"))
        else:
            out.append(AttributeInfo(name=c.name, is_multi_valued=False,
                                     type="Boolean" if isinstance(c.new, bool) else "String",
                                     value=display(c.new), add=display(c.new),
                                     delete=display(c.old) if c.old is not None else None,
                                     operation=op if c.new is not None else "Delete",
                                     sync_rule=rule_of.get(c.name), mapping_type="Direct",
                                     data_source="Metaverse"))
    return out
