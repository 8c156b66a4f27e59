"""Scoping decisions on plain data: partition, container (OU) filtering, object type, group filtering."""
from __future__ import annotations

from typing import Sequence

from msgspec import Struct

from ..config import ADConnector
from . import dn as dnlib

# Structural classes checked most-specific first (objectClass lists the whole chain).
_STRUCTURAL_ORDER = ("inetOrgPerson", "computer", "user", "contact", "group", "foreignSecurityPrincipal",
                     "organizationalUnit", "container", "person")


class PartitionMatch(Struct, frozen=True):
    """The connector and selected partition a DN belongs to."""

    connector: ADConnector
    partition: str


def find_partition(connectors: Sequence[ADConnector], dn: str) -> PartitionMatch | None:
    """The connector and selected partition holding *dn*; the most specific partition wins."""
    best: PartitionMatch | None = None
    for c in connectors:
        for p in c.partitions:
            if dnlib.is_descendant(dn, p) and (best is None or dnlib.depth(p) > dnlib.depth(best.partition)):
                best = PartitionMatch(c, p)
    return best


class ContainerDecision(Struct, frozen=True):
    """Whether a DN is in sync scope by container, and which container decided."""

    included: bool
    container: str | None  # the deciding (most specific) container, None when nothing matched
    kind: str  # "include", "exclude" or "none"


def container_decision(connector: ADConnector, dn: str) -> ContainerDecision:
    """The most specific of the inclusion and exclusion containers decides (as Entra Connect's OU filter)."""
    best: tuple[int, str, str] | None = None
    for kind, items in (("include", connector.include), ("exclude", connector.exclude)):
        for container in items:
            if dnlib.is_descendant(dn, container):
                d = dnlib.depth(container)
                # on equal depth an exclusion wins: never sync what an admin excluded
                if best is None or d > best[0] or (d == best[0] and kind == "exclude"):
                    best = (d, container, kind)
    if best is None:
        return ContainerDecision(False, None, "none")
    return ContainerDecision(best[2] == "include", best[1], best[2])


def structural_class(object_classes: Sequence[str]) -> str | None:
    lowered = {c.lower() for c in object_classes}
    for c in _STRUCTURAL_ORDER:
        if c.lower() in lowered:
            return c
    return object_classes[-1] if object_classes else None


def type_in_scope(connector: ADConnector, object_class: str | None) -> bool:
    return object_class is not None and object_class.lower() in {t.lower() for t in connector.object_types}


def is_direct_member(member_of: Sequence[str], group_dn: str) -> bool:
    key = dnlib.canonical(group_dn)
    for g in member_of:
        try:
            if dnlib.canonical(g) == key:
                return True
        except dnlib.InvalidDnError:
            continue
    return False
