"""GraphEmulator: the object tests and the lab start, stop, seed, inspect and break."""
from __future__ import annotations

import copy
import re
import ssl
import threading
from pathlib import Path
from typing import Any, Iterable

from ._auth import TokenService
from ._faults import Fault
from ._http import Server
from ._schema import GROUP, ORG_CONTACT, USER
from ._store import Directory


class GraphEmulator:
    """Microsoft Graph v1.0 and the Microsoft identity platform token endpoint, on loopback
    over TLS, for one tenant and one app registration (client secret and/or certificate).
    Its HTTP side (_http.Server) knows it only as the _http.Emulator it provides.

    base_url serves both as MSAL's authority host (authority = f"{base_url}/{tenant_id}")
    and as the Graph endpoint (f"{base_url}/v1.0/...").
    """

    def __init__(self, *, certfile: str | Path, keyfile: str | Path, tenant_id: str,
                 client_id: str, client_secret: str | None = None,
                 client_certificate_pem: bytes | None = None, host: str = "127.0.0.1",
                 port: int = 0,
                 domains: Iterable[str] = ("contoso.com", "contoso.onmicrosoft.com"),
                 page_size: int = 100, federated_domains: Iterable[str] = (),
                 unverified_domains: Iterable[str] = (), replication_delay: float = 0.0) -> None:
        """*domains* are verified managed domains (the first is the default domain);
        *federated_domains* are verified and federated (a new user there needs
        onPremisesImmutableId); *unverified_domains* are listed by /domains but refused in
        a userPrincipalName. *replication_delay* (seconds): see set_replication_delay."""
        if not 1 <= page_size <= 999:
            raise ValueError("page_size must be between 1 and 999")
        if replication_delay < 0:
            raise ValueError("replication_delay must not be negative")
        self.certfile = Path(certfile)
        self.keyfile = Path(keyfile)
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.host = host
        self.port = port
        self.domains = [d.lower() for d in domains]
        self.federated_domains = [d.lower() for d in federated_domains]
        self.unverified_domains = [d.lower() for d in unverified_domains]
        self.page_size = page_size
        # paging: "Different APIs might behave differently if you specify a page size (via the $top
        # query parameter) that exceeds the maximum page size for that API. Depending on the API,
        # the requested page size might be ignored, it might default to the maximum page size for
        # that API, or Microsoft Graph might return an error." (Paging Microsoft Graph data in your
        # app). set_paging chooses the maximum and which of the three happens.
        self.max_page_size = 999
        self.oversize_top = "error"
        self._initial = {"page_size": page_size, "replication_delay": float(replication_delay)}
        self.verbose = False
        self.base_url = ""
        self._tokens = TokenService(tenant_id=tenant_id, client_id=client_id,
                                    client_secret=client_secret,
                                    client_certificate_pem=client_certificate_pem,
                                    domains=self.domains + self.federated_domains)
        self._dir = Directory(self.domains, self.federated_domains, self.unverified_domains,
                              app_id=client_id)
        self._dir.replication_delay = float(replication_delay)
        self._log: list[dict] = []
        self._log_lock = threading.Lock()
        self._faults: list[Fault] = []
        self._fault_lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "GraphEmulator":
        if self._server is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.certfile), str(self.keyfile))
        server = Server((self.host, self.port), self, context)
        self.port = server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"https://{host}:{self.port}"
        self._tokens.base_url = self.base_url
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"graph-emulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_all_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "GraphEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ request log
    @property
    def requests(self) -> list[dict]:
        """A snapshot of the request log, oldest first. Each entry: method, path (decoded,
        no query), query (dict), body (parsed JSON or form, secrets and passwords as
        "***"), status, headers (Authorization as "Bearer ***"), fault (None, "injected"
        or "dropped"). Each request inside a $batch is an entry of its own, with
        "batch": True and "batch_id" (its id in the batch), logged before the $batch
        request itself. Admin (/_emulator/) requests are not logged."""
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def requests_matching(self, method: str | None = None,
                          path_regex: str | None = None) -> list[dict]:
        """Log entries whose method is *method* (any case; None = any) and whose path
        matches *path_regex* (``re.search``; None = any), oldest first. Requests made
        inside a $batch are entries of their own ("batch": True, "batch_id")."""
        pattern = re.compile(path_regex) if path_regex is not None else None
        return [e for e in self.requests
                if (method is None or e["method"] == method.upper())
                and (pattern is None or pattern.search(e["path"]))]

    def _append_log(self, entry: dict) -> None:
        with self._log_lock:
            self._log.append(entry)

    # ------------------------------------------------------------------ objects
    def add_user(self, **props: Any) -> dict:
        """Seed a user as if it existed in the tenant. Any declared user property may be
        given, read-only ones included (onPremisesSyncEnabled, proxyAddresses, ...);
        userPrincipalName, displayName, mailNickname and accountEnabled get defaults.
        Raises ValueError for an unknown property or a uniqueness conflict."""
        return copy.deepcopy(self._dir.seed(USER, props))

    def add_group(self, **props: Any) -> dict:
        """Seed a group; ``members=[ids]`` seeds its membership too. Registered directory
        extension properties (register_extension) may be given by their full name."""
        return copy.deepcopy(self._dir.seed(GROUP, props))

    def add_contact(self, **props: Any) -> dict:
        """Seed an organizational contact (orgContact: read-only through Graph, as contacts are
        synchronised from on-premises or made in Exchange Online). Its SMTP proxyAddresses share
        the uniqueness space of users and groups (user resource, "mail and proxyAddresses
        properties"): a value another object holds raises ValueError."""
        return copy.deepcopy(self._dir.seed(ORG_CONTACT, props))

    @property
    def contacts(self) -> dict[str, dict]:
        with self._dir.lock:
            return copy.deepcopy(self._dir.contacts)

    # ------------------------------------------------------------------ documented behaviours
    @property
    def replication_delay(self) -> float:
        return self._dir.replication_delay

    def set_replication_delay(self, seconds: float) -> None:
        """Eventual consistency ("Designing for eventual consistency for Microsoft Entra"): every
        user or group created through Graph from now on answers its POST with 201 and the
        object, and is then invisible for *seconds*: GET by id answers 404
        Request_ResourceNotFound, $filter lists leave it out, members@odata.bind and member
        changes naming it or made to it, and manager $ref on or to it, answer that it does not
        exist. 0 turns the delay off for new objects (see replicate_now)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._dir.lock:
            self._dir.replication_delay = float(seconds)

    def replicate_now(self) -> None:
        """Make every object created so far visible at once (the delay has passed)."""
        self._dir.replicate_now()

    def is_visible(self, object_id: str) -> bool:
        """Whether Graph's reads already show *object_id* (False while it replicates)."""
        with self._dir.lock:
            return self._dir.visible(object_id.lower())

    def set_paging(self, *, page_size: int | None = None, max_page_size: int | None = None,
                   oversize_top: str | None = None) -> None:
        """The server-side page size (without $top), the largest page a request may ask for,
        and what a larger $top gets: "error" (400, as for $top above 999), "cap" (pages of
        max_page_size) or "ignore" (the server-side page size). reset() restores 100, 999,
        "error"."""
        if page_size is not None and not 1 <= page_size <= 999:
            raise ValueError("page_size must be between 1 and 999")
        if max_page_size is not None and not 1 <= max_page_size <= 999:
            raise ValueError("max_page_size must be between 1 and 999")
        if oversize_top is not None and oversize_top not in ("error", "cap", "ignore"):
            raise ValueError("oversize_top must be error, cap or ignore")
        if page_size is not None:
            self.page_size = page_size
        if max_page_size is not None:
            self.max_page_size = max_page_size
        if oversize_top is not None:
            self.oversize_top = oversize_top

    def delete_object(self, object_id: str) -> None:
        """Delete a user, group or contact as an administrator would in the admin center (no
        privilege checks, no log entry). Raises ValueError for an unknown id."""
        d = self._dir
        with d.lock:
            oid = object_id.lower()
            for table in (d.users, d.groups, d.contacts):
                if oid in table:
                    del table[oid]
                    d.members.pop(oid, None)
                    d.hidden_until.pop(oid, None)
                    d._forget_member(oid)
                    return
        raise ValueError(f"no object {object_id}")

    def assign_app_role(self, role_name: str) -> dict:
        """Give the app's own service principal a directory role (e.g. "Global Administrator",
        "Privileged Authentication Administrator"), as an admin would in Roles and
        administrators; GET /servicePrincipals(appId='{client_id}')/memberOf lists it, and with
        one of those two roles the app may change privileged users' sensitive properties
        (user-update). Returns the directoryRole."""
        return copy.deepcopy(self._dir.assign_app_role(role_name))

    @property
    def service_principal(self) -> dict:
        return copy.deepcopy(self._dir.service_principal)

    def register_extension(self, name: str, targets: Iterable[str] = ("User", "Group"),
                           data_type: str = "String") -> str:
        """Register a directory extension property on the emulator's own app (its client_id)
        and return its full name, extension_{client_id without dashes}_{name}; users and groups
        then take it in POST/PATCH, $select and $filter (eq). An unregistered extension_ name is
        refused as Graph refuses an unknown property."""
        return self._dir.register_extension(name, targets, data_type)

    def assign_role(self, user_id: str, role_name: str = "Global Administrator") -> dict:
        """Make a user a member of a directory role, activating the role if needed, and
        return the directoryRole (id, displayName, roleTemplateId, description,
        deletedDateTime). Built-in roles get their real roleTemplateId (see
        _schema.BUILT_IN_ROLES); any other name gets a random one. Raises ValueError for
        an unknown user."""
        return copy.deepcopy(self._dir.assign_role(user_id, role_name))

    @property
    def directory_roles(self) -> dict[str, dict]:
        """Activated directory roles by id, each with its "members" (object ids)."""
        with self._dir.lock:
            return {rid: {**copy.deepcopy(r), "members": list(self._dir.role_members[rid])}
                    for rid, r in self._dir.roles.items()}

    def get_object(self, object_id: str) -> dict | None:
        with self._dir.lock:
            found = self._dir.any_object(object_id, visible_only=False, contacts=True)
            if found is None:
                user = self._dir.find_user(object_id)
                return copy.deepcopy(user) if user else None
            return copy.deepcopy(found[1])

    @property
    def users(self) -> dict[str, dict]:
        with self._dir.lock:
            return copy.deepcopy(self._dir.users)

    @property
    def groups(self) -> dict[str, dict]:
        with self._dir.lock:
            return copy.deepcopy(self._dir.groups)

    def group_members(self, group_id: str) -> list[str]:
        """Member object ids of a group, in the order they were added."""
        with self._dir.lock:
            return list(self._dir.members.get(group_id.lower(), []))

    def _snapshot(self) -> dict:
        with self._dir.lock:
            groups = []
            for g in self._dir.groups.values():
                groups.append({**copy.deepcopy(g),
                               "members": list(self._dir.members.get(g["id"], []))})
            roles = [{**copy.deepcopy(r), "members": list(self._dir.role_members[rid])}
                     for rid, r in self._dir.roles.items()]
            return {"users": copy.deepcopy(list(self._dir.users.values())), "groups": groups,
                    "contacts": copy.deepcopy(list(self._dir.contacts.values())),
                    "directoryRoles": roles}

    # ------------------------------------------------------------------ faults
    def inject_fault(self, *, method: str = "*", path_regex: str = ".*", status: int | None = 429,
                     retry_after: float | None = None, count: int = 1, body: dict | None = None,
                     delay: float = 0.0, drop_after_commit: bool = False) -> None:
        """Make the next *count* requests whose method matches (``"*"`` = any) and whose
        decoded path (no query) matches *path_regex* (``re.search``) fail.

        The request first waits *delay* seconds. Then either it is answered with *status*
        (Graph's error body for that status, or *body*; ``Retry-After`` if *retry_after*),
        or, with ``drop_after_commit=True``, it is carried out and the connection is closed
        without an answer. ``status=None`` with a delay only slows the request down.
        Faults apply to the token and discovery routes too; the first matching fault wins.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError(f"status {status} is not an HTTP status")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if body is not None and not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        fault = Fault(method=method.upper(), path_regex=re.compile(path_regex),
                      status=int(status) if status is not None else None,
                      retry_after=retry_after, count=int(count), body=body,
                      delay=float(delay), drop_after_commit=bool(drop_after_commit))
        with self._fault_lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._fault_lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.path_regex.search(path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def reset(self) -> None:
        """Forget every object, fault, log entry, app role and extension, and put the page size
        and replication delay back to what the emulator was made with; issued tokens stay
        valid."""
        self._dir.clear()
        with self._dir.lock:
            self._dir.replication_delay = self._initial["replication_delay"]
        self.page_size = self._initial["page_size"]
        self.max_page_size = 999
        self.oversize_top = "error"
        with self._fault_lock:
            self._faults.clear()
        self.clear_log()

    # ------------------------------------------------------------------ tenant
    def _domain_objects(self) -> list[dict]:
        # domain resource: https://learn.microsoft.com/graph/api/resources/domain
        # (authenticationType "Managed" or "Federated"; isVerified; supportedServices, which
        # stay empty until the domain is verified). Order: managed, federated, unverified.
        initial = self._dir.initial_domain
        kinds = ([(d, "Managed", True) for d in self.domains]
                 + [(d, "Federated", True) for d in self.federated_domains]
                 + [(d, "Managed", False) for d in self.unverified_domains])
        return [{
            "authenticationType": auth, "availabilityStatus": None, "id": d,
            "isAdminManaged": True, "isDefault": i == 0, "isInitial": d == initial,
            "isRoot": True, "isVerified": verified, "passwordNotificationWindowInDays": 14,
            "passwordValidityPeriodInDays": 2147483647, "state": None,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"] if verified else [],
        } for i, (d, auth, verified) in enumerate(kinds)]

    def _organization(self) -> dict:
        # organization resource: https://learn.microsoft.com/graph/api/resources/organization
        initial = self._dir.initial_domain
        return {
            "id": self.tenant_id, "deletedDateTime": None, "businessPhones": [],
            "city": None, "country": None, "countryLetterCode": "US",
            "createdDateTime": "2020-01-01T00:00:00Z", "displayName": "Contoso (lab)",
            "onPremisesLastSyncDateTime": None, "onPremisesSyncEnabled": None,
            "preferredLanguage": "en", "tenantType": "AAD", "verifiedDomains": [
                {"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": i == 0,
                 "isInitial": d == initial, "name": d, "type": kind}
                for i, (d, kind) in enumerate([(d, "Managed") for d in self.domains]
                                              + [(d, "Federated")
                                                 for d in self.federated_domains])],
        }


__all__ = ["GraphEmulator", "Fault"]
