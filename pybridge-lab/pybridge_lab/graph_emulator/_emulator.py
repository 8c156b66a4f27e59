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
from ._schema import GROUP, USER
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
                 unverified_domains: Iterable[str] = ()) -> None:
        """*domains* are verified managed domains (the first is the default domain);
        *federated_domains* are verified and federated (a new user there needs
        onPremisesImmutableId); *unverified_domains* are listed by /domains but refused in
        a userPrincipalName."""
        if not 1 <= page_size <= 999:
            raise ValueError("page_size must be between 1 and 999")
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
        self.verbose = False
        self.base_url = ""
        self._tokens = TokenService(tenant_id=tenant_id, client_id=client_id,
                                    client_secret=client_secret,
                                    client_certificate_pem=client_certificate_pem,
                                    domains=self.domains + self.federated_domains)
        self._dir = Directory(self.domains, self.federated_domains, self.unverified_domains)
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
        """Seed a group; ``members=[ids]`` seeds its membership too."""
        return copy.deepcopy(self._dir.seed(GROUP, props))

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
            found = self._dir.any_object(object_id)
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
        """Forget every object, fault and log entry; issued tokens stay valid."""
        self._dir.clear()
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
