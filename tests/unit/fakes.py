"""In-memory stand-ins for the two ports (sync/ports.py), for unit tests of the ten steps.

They hold plain data and record every call, so a test can say what the directory
holds, what the tenant holds, run the steps, and assert what was read and written.
They model only what the ports promise; the Graph emulator and Samba (tests/integration)
remain the proof that the real connectors keep those promises.
"""
from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from pybridge import config as configlib
from pybridge.core import dn as dnlib
from pybridge.core.model import CloudObject
from pybridge.core.rules import RuleSet
from pybridge.errors import PyBridgeError, SourceError, TargetError
from pybridge.store import Store
from pybridge.sync.ports import DirectoryObject, Members, WriteDescription
from pybridge.sync.state import Environment

BASE = "DC=contoso,DC=com"


class FakeDirectory:
    """A directory of DN -> attributes; what the connector account may not read is simply absent."""

    def __init__(self, objects: dict[str, dict[str, list[Any]]] | None = None) -> None:
        self.objects = objects or {}
        self.nested: set[tuple[str, str]] = set()  # (member DN, group DN) pairs through nested groups
        self.aliases: dict[str, str] = {}  # other spellings the DC resolves (e.g. an escaped trailing space)
        self.connect_error: PyBridgeError | None = None
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    def add(self, dn: str, **attributes: Any) -> dict[str, list[Any]]:
        attrs = {k: v if isinstance(v, list) else [v] for k, v in attributes.items()}
        attrs.setdefault("objectGUID", [uuid.uuid4().bytes_le])
        self.objects[dn] = attrs
        return attrs

    def _find(self, dn: str) -> tuple[str, dict[str, list[Any]]] | None:
        dn = self.aliases.get(dn, dn)
        key = dnlib.canonical(dn)
        return next(((d, a) for d, a in self.objects.items() if dnlib.canonical(d) == key), None)

    def connect(self) -> str:
        self.calls.append(("connect",))
        if self.connect_error is not None:
            raise self.connect_error
        return "ldaps://dc1.contoso.com"

    def read(self, dn: str, attributes: Sequence[str]) -> DirectoryObject | None:
        self.calls.append(("read", dn))
        found = self._find(dn)
        if found is None:
            return None
        wanted = {a.lower() for a in attributes}
        return DirectoryObject(found[0], {k: list(v) for k, v in found[1].items() if k.lower() in wanted})

    def read_members(self, dn: str) -> Members:
        self.calls.append(("read_members", dn))
        found = self._find(dn)
        values = list(found[1].get("member", [])) if found else []
        return Members(values, range_requests=len(values) // 1500)

    def is_nested_member(self, dn: str, group_dn: str) -> bool:
        self.calls.append(("is_nested_member", dn, group_dn))
        return (dnlib.canonical(dn), dnlib.canonical(group_dn)) in {
            (dnlib.canonical(a), dnlib.canonical(b)) for a, b in self.nested}

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeTenant:
    """A tenant of users and groups (and domains, roles); writes are recorded and applied."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_roles: list[dict[str, Any]] = field(default_factory=list)  # directory roles the app itself holds
    group_anchor: str | None = None  # the property groups keep their source anchor in (None: nowhere)
    hidden_reads: int = 0  # a new object stays invisible to this many reads (replication delay)
    lookups_hide_new: bool = False  # address_holders leaves out objects still invisible (as Graph's $filter does)
    _hidden: dict[str, int] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    managers: dict[str, str] = field(default_factory=dict)
    ignores_expand: bool = False  # a service that answers GET with $expand=manager without the manager
    roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user id -> directory roles
    domains: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": "contoso.com", "isVerified": True, "isDefault": True, "isInitial": False,
         "authenticationType": "Managed"},
        {"id": "contoso.onmicrosoft.com", "isVerified": True, "isDefault": False, "isInitial": True,
         "authenticationType": "Managed"}])
    auth_error: PyBridgeError | None = None
    fail: dict[str, PyBridgeError] = field(default_factory=dict)  # method name -> error it raises (once)
    lose_create_answer: bool = False  # the create happens, but its answer is lost
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    waits: int = 0

    def _collection(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"user": self.users, "group": self.groups, "contact": self.contacts}[kind]

    def _visible(self, object_id: str) -> bool:
        """A new object answers Not Found for its first hidden_reads reads (replication)."""
        left = self._hidden.get(object_id, 0)
        if left:
            self._hidden[object_id] = left - 1
            return False
        return True

    def _check(self, method: str) -> None:
        error = self.fail.pop(method, None)
        if error is not None:
            raise error

    @property
    def writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] in ("create", "update", "change_members", "set_manager",
                                                  "remove_manager")]

    # -- reads
    def start_run(self) -> None:
        self.calls.append(("start_run",))

    def authenticate(self) -> None:
        self.calls.append(("authenticate",))
        if self.auth_error is not None:
            raise self.auth_error

    def get(self, kind: str, object_id: str, properties: Iterable[str] = (), *,
            with_manager: bool = False) -> dict[str, Any] | None:
        self.calls.append(("get", kind, object_id, with_manager))
        self._check("get")
        found = self._collection(kind).get(object_id)
        if found is None or not self._visible(object_id):
            return None
        found = copy.deepcopy(found)
        if with_manager and kind == "user":
            found["manager"] = None if self.ignores_expand else self.managers.get(object_id)
        return found

    def read_back(self, kind: str, object_id: str, properties: Iterable[str] = ()) -> dict[str, Any] | None:
        attempt = 0
        while True:
            found = self.get(kind, object_id, properties)
            if found is not None or not self.backoff(attempt):
                return found
            attempt += 1

    def find_by_anchor(self, kind: str, source_anchor: str, properties: Iterable[str] = ()) -> list[dict[str, Any]]:
        self.calls.append(("find_by_anchor", kind, source_anchor))
        prop = "onPremisesImmutableId" if kind == "user" else self.group_anchor
        return [copy.deepcopy(o) for o in self._collection(kind).values()
                if prop and o.get(prop) == source_anchor and not self._hidden.get(o["id"])]

    def address_holders(self, *, user_principal_name: str | None = None, addresses: Iterable[str] = (),
                        kinds: Sequence[str] = ("user", "group"), properties: Iterable[str] = ()) -> list[CloudObject]:
        wanted = {a.lower() for a in addresses}
        self.calls.append(("address_holders", user_principal_name, tuple(sorted(wanted)), tuple(kinds)))
        out = []
        for kind in kinds:
            for obj in self._collection(kind).values():
                if self.lookups_hide_new and self._hidden.get(obj["id"]):
                    continue
                held = {str(p).split(":", 1)[-1].lower() for p in obj.get("proxyAddresses") or []}
                upn = str(obj.get("userPrincipalName") or "").lower()
                if (user_principal_name and kind == "user" and upn == user_principal_name.lower()) or \
                        str(obj.get("mail") or "").lower() in wanted or held & wanted:
                    out.append(CloudObject(kind, copy.deepcopy(obj)))
        return out

    def directory_roles(self, user_id: str) -> list[dict[str, Any]]:
        self.calls.append(("directory_roles", user_id))
        return list(self.roles.get(user_id, []))

    def app_directory_roles(self) -> list[dict[str, Any]]:
        self.calls.append(("app_directory_roles",))
        return list(self.app_roles)

    def verified_domains(self) -> list[dict[str, Any]]:
        return list(self.domains)

    def member_ids(self, group_id: str) -> list[str]:
        return list(self.members.get(group_id, []))

    def manager_id(self, user_id: str) -> str | None:
        self.calls.append(("manager_id", user_id))
        return self.managers.get(user_id)

    def find_created(self, kind: str, source_anchor: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.calls.append(("find_created", kind))
        hits = self.find_by_anchor(kind, source_anchor)
        if not hits and kind == "group" and not self.group_anchor:
            hits = [g for g in self.groups.values() if g.get("mailNickname") == body.get("mailNickname")
                    and g.get("displayName") == body.get("displayName") and not self._hidden.get(g["id"])]
        return hits[0] if len(hits) == 1 else None

    # -- writes
    def members_in_create(self) -> int:
        return 20

    def create(self, kind: str, body: dict[str, Any], *, members: Sequence[str] = (),
               source_anchor: str | None = None) -> dict[str, Any]:
        self.calls.append(("create", kind, dict(body), list(members)))
        self._check("create")
        assert len(members) <= self.members_in_create()
        upn = str(body.get("userPrincipalName") or "").lower()
        holder = next((u for u in self.users.values() if str(u.get("userPrincipalName")).lower() == upn), None)
        if kind == "user" and holder is not None:
            raise TargetError("Creating the user failed: Graph answered 400 Request_BadRequest: Another object with "
                              "the same value for property userPrincipalName already exists.",
                              error_code="AttributeValueMustBeUnique", status=400, holders=[holder["id"]])
        new = dict(body, id=str(uuid.uuid4()))
        if kind == "user":
            new.setdefault("onPremisesSyncEnabled", True)
        if kind == "group" and self.group_anchor and source_anchor:
            new[self.group_anchor] = source_anchor
        self._collection(kind)[new["id"]] = new
        self._hidden[new["id"]] = self.hidden_reads
        if kind == "group":
            self.members[new["id"]] = list(members)
        if self.lose_create_answer:
            self.lose_create_answer = False
            raise TargetError("Creating the object failed: no answer", error_code="GraphUnavailable", uncertain=True)
        return copy.deepcopy(new)

    def update(self, kind: str, object_id: str, body: dict[str, Any]) -> None:
        self.calls.append(("update", kind, object_id, dict(body)))
        self._check("update")
        self._collection(kind)[object_id].update(body)

    def change_members(self, group_id: str, adds: Sequence[str], removes: Sequence[str], *,
                       added_before: int = 0) -> int:
        self.calls.append(("change_members", group_id, list(adds), list(removes)))
        self._check("change_members")
        current = self.members.setdefault(group_id, [])
        current += [m for m in adds if m not in current]
        self.members[group_id] = [m for m in current if m not in removes]
        return 1

    def set_manager(self, user_id: str, manager_id: str) -> None:
        self.calls.append(("set_manager", user_id, manager_id))
        self._check("set_manager")
        self.managers[user_id] = manager_id

    def remove_manager(self, user_id: str) -> None:
        self.calls.append(("remove_manager", user_id))
        self.managers.pop(user_id, None)

    # -- staging and waiting
    def describe_write(self, kind: str, body: dict[str, Any], object_id: str | None = None) -> WriteDescription:
        return WriteDescription(f"PATCH /{kind}s/{object_id}" if object_id else f"POST /{kind}s", dict(body))

    def describe_manager_change(self, manager_id: str | None) -> str:
        return f"set manager {manager_id}" if manager_id else "remove manager"

    def backoff(self, attempt: int, why: str | None = None) -> bool:
        self.waits += 1
        return attempt < 2


def anchor_of(attrs: dict[str, list[Any]]) -> str:
    """The source anchor the default rules compute: mS-DS-ConsistencyGuid, else objectGUID, in base64."""
    raw = (attrs.get("mS-DS-ConsistencyGuid") or attrs["objectGUID"])[0]
    return base64.b64encode(raw).decode()


def user_attributes(name: str, **extra: Any) -> dict[str, Any]:
    """A plain enabled user as AD holds it."""
    attrs: dict[str, Any] = {"objectClass": ["top", "person", "organizationalPerson", "user"], "cn": name,
                             "sAMAccountName": name.lower().replace(" ", "."),
                             "userPrincipalName": f"{name.lower().replace(' ', '.')}@contoso.com",
                             "displayName": name, "givenName": name.split()[0], "sn": name.split()[-1],
                             "userAccountControl": 512}
    attrs.update(extra)
    return attrs


def config_data(tmp_path: Path, **connector: Any) -> dict[str, Any]:
    ad = {"name": "contoso.com", "servers": ["ldaps://dc1.contoso.com"],
          "account": {"username": "CONTOSO\\svc", "password_env": "PYBRIDGE_FAKE_PW"},
          "partitions": [BASE],
          "containers": {"include": [f"OU=Corp,{BASE}"], "exclude": [f"OU=Excluded,OU=Corp,{BASE}"]}}
    ad.update(connector)
    return {"ad_connectors": [ad],
            "entra": {"tenant_id": "tenant-1", "client_id": "app-1", "client_secret_env": "PYBRIDGE_FAKE_SECRET"},
            "state": {"path": str(tmp_path / "state" / "pybridge.db")}, "report": {"directory": str(tmp_path)}}


_RULES: dict[str, RuleSet] = {}


def environment(tmp_path: Path, directory: FakeDirectory, tenant: FakeTenant, *, sync: dict[str, Any] | None = None,
                rules: RuleSet | None = None, **connector: Any) -> Environment:
    """The configuration of a one-forest, one-tenant deployment, a state file in *tmp_path*, and the fakes."""
    data = config_data(tmp_path, **connector)
    if sync:
        data["sync"] = sync
    cfg = configlib.parse(data, path=tmp_path / "pybridge.yaml", check_secrets=False)
    if rules is None:
        if cfg.sync.source_anchor not in _RULES:  # compiled once per test session: the defaults never change
            _RULES[cfg.sync.source_anchor] = RuleSet.load(source_anchor=cfg.sync.source_anchor)
        rules = _RULES[cfg.sync.source_anchor]
    return Environment(config=cfg, store=Store.open(cfg.state_path), rules=rules,
                       directory_for=lambda connector: directory, tenant_for=lambda config: tenant)


def unreachable(server: str = "ldaps://dc1.contoso.com") -> SourceError:
    return SourceError(f"No domain controller could be reached: {server}", error_code="LdapServerUnavailable")
