"""The two ports the ten steps talk through: the Directory (Active Directory) and the Tenant (Entra ID).

They are written in the words of the sync, not of the wire: the steps ask "who holds
these addresses?" or "create this user", never for a URL, an OData filter or an LDAP
search. connectors/ad.py implements Directory with ldap3; connectors/entra.py
implements Tenant with Microsoft Graph. Unit tests implement both in memory.

Objects of the tenant travel as plain dicts of Entra property names
(userPrincipalName, proxyAddresses...) without any protocol annotation; where the
kind of an object matters and is not implied by the call, it comes as a CloudObject.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

from msgspec import Struct, field

from ..core.model import Attributes, CloudObject, Value

#: An Entra object as the tenant returns it: property name -> value (lists for multi-valued properties).
Properties = dict[str, Any]


class DirectoryObject(Struct):
    """One object as the directory returned it: its DN as the directory spells it, and its attributes."""

    dn: str
    attributes: Attributes
    ranged: dict[str, int] = field(default_factory=dict)  # attribute -> range requests made for it


class Members(Struct, frozen=True):
    """A group's member DNs, read completely, and how many extra range requests that took."""

    values: list[Value]
    range_requests: int = 0


class Directory(Protocol):
    """One connector's view of Active Directory, for one run."""

    def connect(self) -> str:
        """Reach a domain controller and bind; returns the server that answered. Raises SourceError."""
        ...

    def read(self, dn: str, attributes: Sequence[str]) -> DirectoryObject | None:
        """The object named *dn*, or None when the connector account cannot see it."""
        ...

    def read_members(self, dn: str) -> Members:
        """Every member DN of the group *dn* (ranged retrieval where the server needs it)."""
        ...

    def is_nested_member(self, dn: str, group_dn: str) -> bool:
        """Whether *dn* is a member of *group_dn*, directly or through nested groups."""
        ...

    def find(self, kind: str, value: str) -> list[DirectoryObject]:
        """The objects of the connector's partitions that *value* names as their *kind*: "userPrincipalName",
        "sAMAccountName" (DOMAIN\\name, DOMAIN being the domain's NetBIOS or DNS name) or "objectGUID" (the
        GUID's string form). Each comes with its objectGUID; at most a few are returned (enough to tell one
        from several)."""
        ...

    def close(self) -> None:
        ...


class WriteDescription(Struct, frozen=True):
    """A write as an admin reads it in staging mode: the request line and the body that would be sent."""

    request: str
    body: Properties


class Tenant(Protocol):
    """The Entra ID tenant, as one run sees it."""

    def start_run(self) -> None:
        """A new run begins: a fresh budget for retries and waits."""
        ...

    def authenticate(self) -> None:
        """Make sure the app can act in the tenant (a token). Raises AuthenticationError."""
        ...

    # -- reads --------------------------------------------------------------------------------------
    def get(self, kind: str, object_id: str, properties: Iterable[str] = (), *,
            with_manager: bool = False) -> Properties | None:
        """The *kind* ("user", "group") with this id, with the matching properties and *properties*; None if gone.
        *with_manager* (users): also "manager", the manager's id or None, read with the object."""
        ...

    def find_by_anchor(self, kind: str, source_anchor: str, properties: Iterable[str] = ()) -> list[Properties]:
        """Objects of *kind* carrying *source_anchor* (the hard match): users by onPremisesImmutableId, groups
        only where the tenant has a place for their anchor (else none)."""
        ...

    def address_holders(self, *, user_principal_name: str | None = None, addresses: Iterable[str] = (),
                        kinds: Sequence[str] = ("user", "group"),
                        properties: Iterable[str] = ()) -> list[CloudObject]:
        """Objects of *kinds* holding this UPN, or one of *addresses* (SMTP addresses without prefix) as their
        mail or in their proxyAddresses, primary or secondary: the one uniqueness query of soft match,
        conflict checks and conflict explanations."""
        ...

    def directory_roles(self, user_id: str) -> list[Properties]:
        """The directory (administrator) roles the user holds: id, displayName, roleTemplateId."""
        ...

    def app_directory_roles(self) -> list[Properties]:
        """The directory roles this app itself holds."""
        ...

    def verified_domains(self) -> list[Properties]:
        """The tenant's domains: id, isVerified, isDefault, isInitial, authenticationType."""
        ...

    def member_ids(self, group_id: str) -> list[str]:
        ...

    def manager_id(self, user_id: str) -> str | None:
        ...

    def find_created(self, kind: str, source_anchor: str, body: Properties) -> Properties | None:
        """The object a create of *body* for *source_anchor* made, when its answer was lost (None: not found,
        or not unique)."""
        ...

    def read_back(self, kind: str, object_id: str, properties: Iterable[str] = ()) -> Properties | None:
        """An object just written; while the tenant does not show it yet, wait within the run's budget."""
        ...

    # -- writes -------------------------------------------------------------------------------------
    def create(self, kind: str, body: Properties, *, members: Sequence[str] = (),
               source_anchor: str | None = None) -> Properties:
        """Create the object; a group with the first of *members* the create can carry (the step adds the rest
        with change_members once the new id is recorded) and its *source_anchor* where the tenant keeps one."""
        ...

    def members_in_create(self) -> int:
        """How many members a group's create can carry."""
        ...

    def update(self, kind: str, object_id: str, body: Properties) -> None:
        ...

    def change_members(self, group_id: str, adds: Sequence[str], removes: Sequence[str], *,
                       added_before: int = 0) -> int:
        """Add and remove members; returns the number of requests it took. Like set_manager, it waits (within
        the run's budget) while the tenant answers that an object named does not exist yet. *added_before*:
        members the create already bound (progress counts them)."""
        ...

    def set_manager(self, user_id: str, manager_id: str) -> None:
        ...

    def remove_manager(self, user_id: str) -> None:
        ...

    # -- staging mode and waiting -----------------------------------------------------------------
    def describe_write(self, kind: str, body: Properties, object_id: str | None = None) -> WriteDescription:
        """The create (no *object_id*) or update as it would be sent, secrets replaced by a note."""
        ...

    def describe_manager_change(self, manager_id: str | None) -> str:
        ...

    def backoff(self, attempt: int, why: str | None = None) -> bool:
        """Wait before looking again (attempt 0, 1, ...) within the run's wait budget; False when it is spent.
        *why* says what is awaited (it is announced with the wait)."""
        ...
