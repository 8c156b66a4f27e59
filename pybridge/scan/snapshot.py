"""The tenant as a scan sees it: one paged read of its users, groups and contacts, matched in memory.

SnapshotTenant implements the Tenant port (sync/ports.py) over indexes built from that read, so a
scan runs exactly the steps a single staging run runs, answering each question from memory
instead of a Graph request. It only reads: a scan never writes to Entra ID.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..connectors.entra import GraphClient
from ..core.model import CloudObject
from ..core.rules import RuleSet
from ..core.rules.engine import GRAPH_READ_ONLY
from ..core.plan import REFERENCE_ATTRIBUTES, SINGLE_REFERENCES
from ..sync.ports import Properties, WriteDescription

KINDS = ("user", "group", "contact")
_MV_TYPE = {"user": "person", "group": "group"}


class ScanWritesNothing(RuntimeError):
    """A scan asked the tenant to write: a bug, since every scan runs in staging mode."""


def exported_targets(rules: RuleSet, kind: str) -> list[str]:
    """The properties the outbound rules may export for *kind*: what a single run reads besides the base."""
    mv_type = _MV_TYPE.get(kind)
    if mv_type is None:
        return []
    skip = REFERENCE_ATTRIBUTES | SINGLE_REFERENCES
    return sorted((t for t in rules.outbound_targets(mv_type, kind)
                   if "." not in t and t not in skip and t.lower() not in GRAPH_READ_ONLY
                   and not t.lower().startswith("onpremisesextensionattributes")), key=str.lower)


class SnapshotTenant:
    """Every object of the tenant once, then indexes: by id, source anchor, UPN and SMTP address."""

    def __init__(self, live: GraphClient, rules: RuleSet) -> None:
        self.live = live
        self._objects: dict[str, tuple[str, Properties]] = {}
        self._by_anchor: dict[tuple[str, str], list[str]] = {}
        self._by_upn: dict[str, list[str]] = {}
        self._by_address: dict[str, list[str]] = {}
        self._by_names: dict[tuple[str, str], list[str]] = {}  # groups: (mailNickname, displayName)
        self._roles: dict[str, list[Properties]] = {}
        self._app_roles: list[Properties] | None = None
        self._members: dict[str, list[str]] = {}
        self._rules = rules
        self.read_requests = 0

    # -- the one read -------------------------------------------------------------------------------------
    def load(self) -> "SnapshotTenant":
        live = self.live
        live.authenticate()
        before = live.requests
        anchor_property = live.entra.group_anchor_property
        for kind in KINDS:
            for obj in live.all_objects(kind, exported_targets(self._rules, kind), with_manager=kind == "user"):
                self._index(kind, obj, anchor_property)
        self._roles = live.role_holders()
        self.read_requests = live.requests - before
        return self

    def _index(self, kind: str, obj: Properties, anchor_property: str | None) -> None:
        object_id = str(obj["id"])
        self._objects[object_id] = (kind, obj)
        anchor = obj.get("onPremisesImmutableId") if kind == "user" else \
            obj.get(anchor_property) if kind == "group" and anchor_property else None
        if anchor:
            self._by_anchor.setdefault((kind, str(anchor)), []).append(object_id)
        if kind == "user" and obj.get("userPrincipalName"):
            self._by_upn.setdefault(str(obj["userPrincipalName"]).lower(), []).append(object_id)
        addresses = {str(a).split(":", 1)[-1].lower() for a in obj.get("proxyAddresses") or []
                     if str(a).lower().startswith("smtp:")}
        if obj.get("mail"):
            addresses.add(str(obj["mail"]).lower())
        for address in addresses:
            self._by_address.setdefault(address, []).append(object_id)
        if kind == "group":
            self._by_names.setdefault((str(obj.get("mailNickname")), str(obj.get("displayName"))), []).append(object_id)

    def __len__(self) -> int:
        return len(self._objects)

    def _view(self, object_id: str, properties: Iterable[str] = ()) -> Properties:
        """The object as a single run's read of these properties would return it: those selected, null ones too."""
        kind, obj = self._objects[object_id]
        select = self.live.select(kind, properties)
        return {k: (list(obj[k]) if isinstance(obj.get(k), list) else obj.get(k)) for k in select}

    # -- the Tenant port: reads ---------------------------------------------------------------------------
    def start_run(self) -> None:
        pass

    def authenticate(self) -> None:
        pass  # done once, by load()

    def get(self, kind: str, object_id: str, properties: Iterable[str] = (), *,
            with_manager: bool = False) -> Properties | None:
        found = self._objects.get(object_id)
        if found is None or found[0] != kind:
            return None
        view = self._view(object_id, properties)
        if with_manager and kind == "user":
            view["manager"] = self.manager_id(object_id)
        return view

    def find_by_anchor(self, kind: str, source_anchor: str, properties: Iterable[str] = ()) -> list[Properties]:
        return [self._view(i, properties) for i in self._by_anchor.get((kind, source_anchor), [])]

    def address_holders(self, *, user_principal_name: str | None = None, addresses: Iterable[str] = (),
                        kinds: Sequence[str] = ("user", "group"),
                        properties: Iterable[str] = ()) -> list[CloudObject]:
        ids: dict[str, None] = {}
        if user_principal_name and "user" in kinds:
            ids.update(dict.fromkeys(self._by_upn.get(user_principal_name.lower(), [])))
        for address in addresses:
            ids.update(dict.fromkeys(self._by_address.get(address.lower(), [])))
        return [CloudObject(self._objects[i][0], self._view(i, properties)) for i in ids
                if self._objects[i][0] in kinds]

    def directory_roles(self, user_id: str) -> list[Properties]:
        return list(self._roles.get(user_id, []))

    def app_directory_roles(self) -> list[Properties]:
        if self._app_roles is None:
            self._app_roles = self.live.app_directory_roles()
        return list(self._app_roles)

    def verified_domains(self) -> list[Properties]:
        return self.live.verified_domains()

    def member_ids(self, group_id: str) -> list[str]:
        """Read per group, when a scanned group is matched (groups are few beside users), and kept."""
        if group_id not in self._members:
            self._members[group_id] = self.live.member_ids(group_id)
        return list(self._members[group_id])

    def manager_id(self, user_id: str) -> str | None:
        found = self._objects.get(user_id)
        manager = found[1].get("manager") if found else None
        return str(manager) if manager else None

    def find_created(self, kind: str, source_anchor: str, body: Properties) -> Properties | None:
        hits = self._by_anchor.get((kind, source_anchor), [])
        if not hits and kind == "user" and body.get("userPrincipalName"):
            hits = [i for i in self._by_upn.get(str(body["userPrincipalName"]).lower(), [])
                    if self._objects[i][1].get("onPremisesImmutableId") == source_anchor]
        if not hits and kind == "group" and not self.live.entra.group_anchor_property:
            hits = self._by_names.get((str(body.get("mailNickname")), str(body.get("displayName"))), [])
        return self._view(hits[0]) if len(hits) == 1 else None

    def read_back(self, kind: str, object_id: str, properties: Iterable[str] = ()) -> Properties | None:
        return self.get(kind, object_id, properties)

    # -- the Tenant port: writes (never) ------------------------------------------------------------------
    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ScanWritesNothing("a scan runs in staging mode and writes nothing to Entra ID")

    create = update = change_members = set_manager = remove_manager = _refuse

    def members_in_create(self) -> int:
        return self.live.members_in_create()

    def describe_write(self, kind: str, body: Properties, object_id: str | None = None) -> WriteDescription:
        return self.live.describe_write(kind, body, object_id)

    def describe_manager_change(self, manager_id: str | None) -> str:
        return self.live.describe_manager_change(manager_id)

    def backoff(self, attempt: int, why: str | None = None) -> bool:
        return False  # the snapshot does not change while the scan runs: looking again finds nothing new
