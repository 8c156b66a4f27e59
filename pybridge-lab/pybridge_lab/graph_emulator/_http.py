"""HTTP side of the emulator: TLS server, routing, Graph responses, faults, request log."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ._auth import TokenService
from ._faults import Fault
from ._odata import (GraphError, bad_request, make_skiptoken, not_found, parse_filter,
                     parse_select, read_skiptoken, unsupported_query)
from ._schema import DIRECTORY_ROLE, GROUP, ORG_CONTACT, SERVICE_PRINCIPAL, USER, EntitySchema
from ._store import Directory, project

JSON_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
             "IEEE754Compatible=false;charset=utf-8")
_SECRET_FORM_FIELDS = ("client_secret", "client_assertion")
_TOKEN_ROUTE = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_OIDC_ROUTE = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
_JWKS_ROUTE = re.compile(r"^/([^/]+)/discovery/v2\.0/keys$")
# Default error code per status, for injected faults (https://learn.microsoft.com/graph/errors).
_FAULT_CODES = {
    400: ("BadRequest", "Cannot process the request because it is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "The requested resource doesn't exist."),
    409: ("Directory_ConcurrencyViolation", "A conflicting object with one or more of the "
                                            "specified property values is present."),
    429: ("TooManyRequests", "Too many requests are being made. Please retry later."),
    500: ("InternalServerError", "The server encountered an unexpected error."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable for maintenance or "
                                "is overloaded. You may repeat the request after a delay."),
    504: ("GatewayTimeout", "The server, while acting as a proxy, did not receive a timely "
                           "response from the upstream server."),
}
MAX_TOP = 999
# JSON batching (https://learn.microsoft.com/graph/json-batching): "JSON batch requests are
# currently limited to 20 individual requests."
MAX_BATCH_REQUESTS = 20
_ROLE_BY_TEMPLATE = re.compile(r"^directoryRoles\(roleTemplateId='([^']*)'\)$")
_SP_BY_APP_ID = re.compile(r"^servicePrincipals\(appId='([^']*)'\)$")
# aad-advanced-queries, "Error handling for advanced queries on directory objects".
_SEARCH_NEEDS_HEADER = ("Request with $search query parameter only works through MSGraph with a "
                        "special request header: 'ConsistencyLevel: eventual'")


class Emulator(Protocol):
    """What the HTTP side needs of the emulator: its tenant, tokens, directory, faults, request log and
    admin operations. GraphEmulator (_emulator.py) provides it and starts the Server; this module never
    imports _emulator, so the dependency runs one way."""

    verbose: bool
    base_url: str
    tenant_id: str
    page_size: int
    max_page_size: int
    oversize_top: str
    _tokens: TokenService
    _dir: Directory

    @property
    def requests(self) -> list[dict]: ...
    def clear_log(self) -> None: ...
    def _append_log(self, entry: dict) -> None: ...
    def _take_fault(self, method: str, path: str) -> Fault | None: ...
    def inject_fault(self, *, method: str = "*", path_regex: str = ".*", status: int | None = 429,
                     retry_after: float | None = None, count: int = 1, body: dict | None = None,
                     delay: float = 0.0, drop_after_commit: bool = False) -> None: ...
    def reset(self) -> None: ...
    def add_user(self, **props: Any) -> dict: ...
    def add_group(self, **props: Any) -> dict: ...
    def add_contact(self, **props: Any) -> dict: ...
    def assign_role(self, user_id: str, role_name: str = "Global Administrator") -> dict: ...
    def assign_app_role(self, role_name: str) -> dict: ...
    def register_extension(self, name: str, targets: Any = ("User", "Group"),
                           data_type: str = "String") -> str: ...
    def set_replication_delay(self, seconds: float) -> None: ...
    def _snapshot(self) -> dict: ...
    def _domain_objects(self) -> list[dict]: ...
    def _organization(self) -> dict: ...


@dataclass
class Answer:
    status: int
    body: Any = None                      # JSON-able, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One Graph request: a top-level one, or one of the requests inside a $batch."""
    method: str
    raw_path: str                 # as sent (percent-encoded), without the query
    raw_query: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]       # names lower-cased
    in_batch: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128   # bursts of parallel clients are normal in tests

    def __init__(self, address: tuple[str, int], emulator: Emulator,
                 context: ssl.SSLContext) -> None:
        self.emulator = emulator
        self.tls = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); not needed here.
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a slow or broken
        # client cannot hold up accept().
        request.settimeout(30)
        # Headers and body leave in two writes; without TCP_NODELAY, Nagle's algorithm holds the body back
        # until the client's delayed ACK (40 ms on Linux), a latency of the emulator's own making.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            request.close()
            return
        with self.connections_lock:
            self.connections.add(conn)
        try:
            Handler(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close_all_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pybridge-graph-emulator"
    sys_version = ""
    timeout = 60   # an idle keep-alive connection is closed after this
    server: Server
    _drop_after_batch = False   # set when a request inside a $batch asks for a drop

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: Answer) -> None:
        data = b""
        if answer.body is not None:
            data = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for k, v in answer.headers.items():
            self.send_header(k, v)
        if answer.status != 204:
            if answer.body is not None and "Content-Type" not in answer.headers:
                self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and answer.status != 204:
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without answering (the client sees a broken connection)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self) -> None:
        emu = self.server.emulator
        method = self.command.upper()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        raw = self._read_body()
        if path.startswith("/_emulator/") or path == "/_emulator":
            self._send(self._admin(method, path, raw))
            return

        request_id = str(uuid.uuid4())
        client_request_id = self.headers.get("client-request-id") or request_id
        is_graph = path.startswith("/v1.0/") or path == "/v1.0" or path.startswith("/beta/")
        token_match = _TOKEN_ROUTE.match(path)
        body_for_log, body, body_error = self._parse_body(raw, form=bool(token_match))
        entry: dict[str, Any] = {
            "method": method, "path": path, "query": query, "body": body_for_log,
            "status": None, "headers": _redacted_headers(self.headers), "fault": None,
        }
        self._drop_after_batch = False
        fault = emu._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.drop_after_commit and fault.status:
            answer = _fault_answer(fault, is_graph=not token_match and not _OIDC_ROUTE.match(
                path), request_id=request_id, client_request_id=client_request_id)
            entry["fault"] = "injected"
        elif is_graph and not token_match:
            call = Call(method=method, raw_path=split.path, raw_query=split.query, query=query,
                        body=body, headers={k.lower(): v for k, v in self.headers.items()})
            answer = self._run_graph(call, body_error, request_id, client_request_id)
        else:
            try:
                if token_match or _OIDC_ROUTE.match(path) or _JWKS_ROUTE.match(path):
                    answer = self._identity(method, path, body, body_error, client_request_id)
                else:
                    raise GraphError(404, "NotFound", f"No route for {method} {path}.")
            except GraphError as exc:
                answer = Answer(exc.status, _error_body(exc, request_id, client_request_id),
                                dict(exc.headers))
            except Exception:  # the emulator's own bug: answer like Graph would, and say so
                traceback.print_exc(file=sys.stderr)
                answer = Answer(500, _error_body(GraphError(
                    500, "InternalServerError", "Graph emulator failure (see its stderr)."),
                    request_id, client_request_id))
        answer.headers.setdefault("request-id", request_id)
        answer.headers.setdefault("client-request-id", client_request_id)
        if is_graph:
            answer.headers.setdefault("OData-Version", "4.0")
            answer.headers.setdefault("Cache-Control", "no-cache")
            answer.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        entry["status"] = answer.status
        if (fault is not None and fault.drop_after_commit) or self._drop_after_batch:
            entry["fault"] = "dropped"
            emu._append_log(entry)
            self._drop()
            return
        emu._append_log(entry)
        self._send(answer)

    def _run_graph(self, call: Call, body_error: GraphError | None, request_id: str,
                   client_request_id: str) -> Answer:
        """A Graph answer for *call*, errors included (in Graph's error shape)."""
        try:
            if body_error is not None:
                raise body_error
            return self._graph(call)
        except GraphError as exc:
            return Answer(exc.status, _error_body(exc, request_id, client_request_id),
                          dict(exc.headers))
        except Exception:  # the emulator's own bug: answer like Graph would, and say so
            traceback.print_exc(file=sys.stderr)
            return Answer(500, _error_body(GraphError(
                500, "InternalServerError", "Graph emulator failure (see its stderr)."),
                request_id, client_request_id))

    @staticmethod
    def _parse_body(raw: bytes, *, form: bool) -> tuple[Any, Any, GraphError | None]:
        """(what the log shows, what the handler uses, the parse error if any)."""
        if not raw:
            return None, None, None
        text = raw.decode("utf-8", errors="replace")
        if form:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            shown = {k: ("***" if k in _SECRET_FORM_FIELDS else v) for k, v in fields.items()}
            return shown, fields, None
        try:
            body = json.loads(text)
        except ValueError:
            return text, None, GraphError(
                400, "BadRequest", "Unable to read JSON request payload. Please ensure "
                "Content-Type header is set and payload is of valid JSON format.")
        return _redact_password(body), body, None

    # ------------------------------------------------------------------ identity platform
    def _identity(self, method: str, path: str, body: Any, body_error: GraphError | None,
                  correlation_id: str) -> Answer:
        tokens = self.server.emulator._tokens
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "x-ms-request-id": str(uuid.uuid4()), "Cache-Control": "no-store, no-cache"}
        m = _OIDC_ROUTE.match(path) or _JWKS_ROUTE.match(path)
        if m:
            if method != "GET":
                return Answer(405, {"error": "invalid_request"}, headers)
            if not tokens.known_tenant(m.group(1)):
                bad = tokens.unknown_tenant(m.group(1), correlation_id)
                bad.body["error"] = "invalid_tenant"
                return Answer(bad.status, bad.body, headers)
            doc = tokens.openid_configuration() if _OIDC_ROUTE.match(path) else tokens.jwks()
            return Answer(200, doc, headers)
        tenant = _TOKEN_ROUTE.match(path).group(1)  # type: ignore[union-attr]
        if method != "POST":
            return Answer(405, {"error": "invalid_request",
                                "error_description": "The token endpoint only accepts POST."},
                          headers)
        answer = tokens.issue(tenant, body if isinstance(body, dict) else {}, correlation_id)
        headers["client-request-id"] = correlation_id
        return Answer(answer.status, answer.body, headers)

    # ------------------------------------------------------------------ admin API
    def _admin(self, method: str, path: str, raw: bytes) -> Answer:
        emu = self.server.emulator
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return Answer(400, {"error": "body is not JSON"})
        route = path[len("/_emulator"):].rstrip("/")
        try:
            if route == "/requests" and method == "GET":
                return Answer(200, emu.requests)
            if route == "/requests" and method == "DELETE":
                emu.clear_log()
                return Answer(204)
            if route == "/objects" and method == "GET":
                return Answer(200, emu._snapshot())
            if route == "/users" and method == "POST":
                return Answer(201, emu.add_user(**(body or {})))
            if route == "/groups" and method == "POST":
                return Answer(201, emu.add_group(**(body or {})))
            if route == "/contacts" and method == "POST":
                return Answer(201, emu.add_contact(**(body or {})))
            if route == "/app-roles" and method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("role_name"), str):
                    return Answer(400, {"error": "body must be {\"role_name\": ...}"})
                return Answer(201, emu.assign_app_role(body["role_name"]))
            if route == "/extensions" and method == "POST":
                if not isinstance(body, dict):
                    return Answer(400, {"error": "body must be {\"name\": ...}"})
                return Answer(201, {"name": emu.register_extension(**body)})
            if route == "/replication-delay" and method == "PUT":
                if not isinstance(body, dict) or not isinstance(body.get("seconds"), (int, float)):
                    return Answer(400, {"error": "body must be {\"seconds\": N}"})
                emu.set_replication_delay(float(body["seconds"]))
                return Answer(204)
            if route == "/roles" and method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("user_id"), str):
                    return Answer(400, {"error": "body must be {\"user_id\": ..., "
                                                 "\"role_name\": ...}"})
                return Answer(201, emu.assign_role(**body))
            if route == "/faults" and method == "POST":
                emu.inject_fault(**(body or {}))
                return Answer(204)
            if route == "/reset" and method == "POST":
                emu.reset()
                return Answer(204)
        except (TypeError, ValueError, re.error) as exc:
            return Answer(400, {"error": str(exc)})
        return Answer(404, {"error": f"no admin route {method} {path}"})

    # ------------------------------------------------------------------ Graph
    def _graph(self, call: Call) -> Answer:
        emu = self.server.emulator
        method, body = call.method, call.body
        emu._tokens.check_bearer(call.headers.get("authorization"))
        segs = [unquote(s) for s in call.raw_path.split("/")[1:] if s]
        if not segs or segs[0] != "v1.0":
            raise GraphError(400, "BadRequest", f"Invalid version: {segs[0] if segs else ''} "
                                                "(the emulator serves v1.0 only).")
        segs = segs[1:]
        opts = {k.lower(): v for k, v in call.query.items() if k.startswith("$")}
        store = emu._dir
        n = len(segs)
        if n == 0:
            raise GraphError(400, "BadRequest", "Invalid request.")
        m = _ROLE_BY_TEMPLATE.match(segs[0])
        if m:
            # directoryrole-get: GET /directoryRoles(roleTemplateId='{roleTemplateId}')
            segs = ["directoryRoles", store.role_by_template(m.group(1))["id"], *segs[1:]]
            n = len(segs)
        m = _SP_BY_APP_ID.match(segs[0])
        if m:
            # serviceprincipal-get: GET /servicePrincipals(appId='{appId}'); the emulator knows
            # only the app's own service principal.
            if m.group(1).lower() != store.app_id:
                raise not_found(m.group(1))
            segs = ["servicePrincipals", store.service_principal["id"], *segs[1:]]
            n = len(segs)
        head = segs[0]

        def only(*allowed: str) -> None:
            if method not in allowed:
                raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not "
                                                            "allowed for the request target.")

        if head == "me":
            raise bad_request("/me request is only valid with delegated authentication flow.")
        if head == "$batch" and n == 1:
            only("POST")
            if call.in_batch:
                # The emulator's wording: a batch inside a batch is not a thing Graph runs.
                raise GraphError(400, "BadRequest", "A $batch request cannot be nested in "
                                                    "another $batch request.")
            return self._batch(call)
        if head in ("users", "groups", "contacts") and n == 2 and segs[1] == "$count":
            # aad-advanced-queries: "Counting directory objects is only supported using the
            # advanced queries parameters"; without ConsistencyLevel the $count segment fails.
            only("GET")
            if call.header("ConsistencyLevel").lower() != "eventual":
                raise bad_request("$count is not currently supported.")
            schema = {"users": USER, "groups": GROUP, "contacts": ORG_CONTACT}[head]
            return Answer(200, len(store.collection(schema)),
                          {"Content-Type": "text/plain;charset=utf-8"})
        if head == "users" and n == 1:
            only("GET", "POST")
            if method == "GET":
                return self._list(call, USER, [(USER, u) for u in store.collection(USER)], opts,
                                  "users", typed=False)
            obj = store.create_user(body)
            return self._created(USER, obj)
        if head == "users" and n == 2:
            only("GET", "PATCH", "DELETE")
            if method == "GET":
                return self._entity(USER, store.user(segs[1]), opts, expandable=True)
            if method == "PATCH":
                store.update_user(segs[1], body)
            else:
                store.delete_user(segs[1])
            return Answer(204)
        if head == "users" and n >= 3 and segs[2] == "manager":
            if n == 3:
                only("GET")
                return self._entity(USER, store.manager_of(segs[1]), opts)
            if n == 4 and segs[3] == "$ref":
                only("PUT", "DELETE")
                if method == "PUT":
                    store.set_manager(segs[1], body)
                else:
                    store.remove_manager(segs[1])
                return Answer(204)
        if head in ("users", "groups") and n == 3 and segs[2] in ("memberOf",
                                                                   "transitiveMemberOf"):
            # user-list-memberof / user-list-transitivememberof (and the group ones): groups
            # and directory roles, each with its @odata.type.
            only("GET")
            obj = store.user(segs[1]) if head == "users" else store.group(segs[1])
            items = (store.member_of(obj["id"]) if segs[2] == "memberOf"
                     else store.transitive_member_of(obj["id"]))
            return self._list(call, GROUP, items, opts, "directoryObjects", typed=True,
                              filterable=False, schemas=[GROUP, DIRECTORY_ROLE])
        if head == "contacts":
            # orgcontact-list / orgcontact-get; organizational contacts have no create or update
            # in Microsoft Graph v1.0 (they are synchronised from on-premises or made in Exchange
            # Online), so writes are refused as any method a resource does not offer.
            only("GET")
            if n == 1:
                return self._list(call, ORG_CONTACT,
                                  [(ORG_CONTACT, c) for c in store.collection(ORG_CONTACT)], opts,
                                  "contacts", typed=False)
            if n == 2:
                return self._entity(ORG_CONTACT, store.contact(segs[1]), opts)
        if head == "servicePrincipals" and n >= 2:
            # serviceprincipal-get and serviceprincipal-list-memberof (directoryRole objects with
            # their @odata.type; paged like every collection).
            only("GET")
            if segs[1].lower() != store.service_principal["id"]:
                raise not_found(segs[1])
            if n == 2:
                return self._entity(SERVICE_PRINCIPAL, store.service_principal, opts)
            if n == 3 and segs[2] in ("memberOf", "transitiveMemberOf"):
                return self._list(call, GROUP, store.app_member_of(), opts, "directoryObjects",
                                  typed=True, filterable=False, schemas=[GROUP, DIRECTORY_ROLE])
        if head == "directoryRoles":
            # directoryrole-list ("only returns roles that have been activated"),
            # directoryrole-get, directoryrole-list-members.
            only("GET")
            if n == 1:
                return self._list(call, DIRECTORY_ROLE,
                                  [(DIRECTORY_ROLE, r) for r in store.collection(DIRECTORY_ROLE)],
                                  opts, "directoryRoles", typed=False, filterable=False)
            if n == 2:
                return self._entity(DIRECTORY_ROLE, store.role(segs[1]), opts)
            if n == 3 and segs[2] == "members":
                return self._list(call, USER, store.role_member_objects(segs[1]), opts,
                                  "directoryObjects", typed=True, filterable=False)
        if head == "groups" and n == 1:
            only("GET", "POST")
            if method == "GET":
                return self._list(call, GROUP, [(GROUP, g) for g in store.collection(GROUP)],
                                  opts, "groups", typed=False)
            return self._created(GROUP, store.create_group(body))
        if head == "groups" and n == 2:
            only("GET", "PATCH", "DELETE")
            if method == "GET":
                return self._entity(GROUP, store.group(segs[1]), opts)
            if method == "PATCH":
                store.update_group(segs[1], body)
            else:
                store.delete_group(segs[1])
            return Answer(204)
        if head == "groups" and n >= 3 and segs[2] == "members":
            if n == 3:
                only("GET")
                return self._list(call, USER, store.member_objects(segs[1]), opts,
                                  "directoryObjects", typed=True, filterable=False)
            if n == 4 and segs[3] == "$ref":
                only("POST")
                store.add_member_ref(segs[1], body)
                return Answer(204)
            if n == 5 and segs[4] == "$ref":
                only("DELETE")
                store.remove_member(segs[1], segs[3])
                return Answer(204)
        if head == "directoryObjects" and n == 2:
            only("GET")
            found = store.any_object(segs[1])
            if found is None:
                found = (DIRECTORY_ROLE, store.role(segs[1]))   # or 404
            schema, obj = found
            answer = self._entity(schema, obj, opts)
            answer.body = {"@odata.context": f"{emu.base_url}/v1.0/$metadata#directoryObjects"
                                             "/$entity",
                           "@odata.type": f"#microsoft.graph.{schema.name}",
                           **{k: v for k, v in answer.body.items() if k != "@odata.context"}}
            return answer
        if head == "domains" and n in (1, 2):
            only("GET")
            domains = emu._domain_objects()
            if n == 2:
                for d in domains:
                    if d["id"].lower() == segs[1].lower():
                        return Answer(200, {"@odata.context": f"{emu.base_url}/v1.0/$metadata"
                                                              "#domains/$entity", **d})
                raise not_found(segs[1])
            return Answer(200, {"@odata.context": f"{emu.base_url}/v1.0/$metadata#domains",
                                "value": domains})
        if head == "organization" and n in (1, 2):
            only("GET")
            org = emu._organization()
            if n == 2:
                if segs[1].lower() != org["id"].lower():
                    raise not_found(segs[1])
                return Answer(200, {"@odata.context": f"{emu.base_url}/v1.0/$metadata"
                                                      "#organization/$entity", **org})
            return Answer(200, {"@odata.context": f"{emu.base_url}/v1.0/$metadata#organization",
                                "value": [org]})
        known = ("users", "groups", "contacts", "servicePrincipals", "directoryObjects",
                 "directoryRoles", "domains", "organization", "$batch")
        bad = head if head not in known else segs[-1]
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{bad}'.")

    # ------------------------------------------------------------------ JSON batching
    def _batch(self, call: Call) -> Answer:
        """POST /v1.0/$batch, per https://learn.microsoft.com/graph/json-batching.

        Each request runs through the same handlers as a top-level one, with the outer
        request's Authorization, and is logged as its own entry ("batch": True,
        "batch_id": its id). Injected faults apply to each inner request (a 429 shows as
        that response's status, with its Retry-After among its headers; the batch itself
        still answers 200, https://learn.microsoft.com/graph/throttling#throttling-and-batching).
        A drop_after_commit fault on an inner request carries it out and then drops the
        whole batch's connection. Requests run, and responses are listed, in request order
        (Graph may reorder responses; the emulator keeps them deterministic).
        """
        items = _check_batch(call.body)
        statuses: dict[str, int] = {}          # lower-cased id -> status
        responses = []
        for item in items:
            failed = [d for d in item["dependsOn"] if not 200 <= statuses[d.lower()] < 300]
            if failed:
                response = self._failed_dependency(item, failed[0], call)
            else:
                response = self._inner(item, call)
            statuses[item["id"].lower()] = response["status"]
            responses.append(response)
        return Answer(200, {"responses": responses})

    def _inner(self, item: dict, outer: Call) -> dict:
        emu = self.server.emulator
        method = item["method"].upper()
        split = urlsplit(item["url"])
        # The url is relative to the version ("/users", "users?$top=5"). The SDKs send the
        # absolute URL of the request (https://host/v1.0/users), which Graph accepts too.
        raw_path = (split.path if split.scheme or split.netloc
                    else "/v1.0/" + split.path.lstrip("/"))
        path = unquote(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = item["headers"]
        lower = {k.lower(): v for k, v in headers.items()}
        request_id = str(uuid.uuid4())
        client_request_id = lower.get("client-request-id") or outer.header(
            "client-request-id") or request_id
        body, body_error = item.get("body"), None
        if "body" in item and body is not None:
            body, body_error = _inner_body(body, lower)
        entry: dict[str, Any] = {
            "method": method, "path": path, "query": query,
            "body": _redact_password(item.get("body") if body_error else body),
            "status": None, "headers": _redacted_headers(headers), "fault": None,
            "batch": True, "batch_id": item["id"],
        }
        fault = emu._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.drop_after_commit and fault.status:
            answer = _fault_answer(fault, is_graph=True, request_id=request_id,
                                   client_request_id=client_request_id)
            entry["fault"] = "injected"
        else:
            inner = Call(method=method, raw_path=raw_path, raw_query=split.query, query=query,
                         body=body, headers={**lower, "authorization": outer.header(
                             "authorization")}, in_batch=True)
            answer = self._run_graph(inner, body_error, request_id, client_request_id)
            if fault is not None and fault.drop_after_commit:
                entry["fault"] = "dropped"
                self._drop_after_batch = True
        entry["status"] = answer.status
        emu._append_log(entry)
        return _batch_response(item["id"], answer)

    def _failed_dependency(self, item: dict, dependency: str, outer: Call) -> dict:
        """json-batching: "If an individual request fails, any request that depends on that
        request fails with status code 424 (Failed Dependency)." It is not run; the log
        still shows it. The error code and message are the emulator's."""
        emu = self.server.emulator
        split = urlsplit(item["url"])
        raw_path = (split.path if split.scheme or split.netloc
                    else "/v1.0/" + split.path.lstrip("/"))
        request_id = str(uuid.uuid4())
        exc = GraphError(424, "FailedDependency",
                         f"The request '{item['id']}' was not run: it depends on request "
                         f"'{dependency}', which failed.")
        answer = Answer(424, _error_body(exc, request_id,
                                         outer.header("client-request-id") or request_id))
        emu._append_log({
            "method": item["method"].upper(), "path": unquote(raw_path),
            "query": dict(parse_qsl(split.query, keep_blank_values=True)),
            "body": _redact_password(item.get("body")), "status": 424,
            "headers": _redacted_headers(item["headers"]), "fault": None, "batch": True,
            "batch_id": item["id"],
        })
        return _batch_response(item["id"], answer)

    def _created(self, schema: EntitySchema, obj: dict) -> Answer:
        emu = self.server.emulator
        body = {"@odata.context": f"{emu.base_url}/v1.0/$metadata#{schema.collection}/$entity",
                **project(obj, schema, None)}
        location = (f"{emu.base_url}/v2/{emu.tenant_id}/directoryObjects/{obj['id']}/"
                    f"Microsoft.DirectoryServices.{schema.resource}")
        return Answer(201, body, {"Location": location})

    def _entity(self, schema: EntitySchema, obj: dict, opts: dict[str, str], *,
                expandable: bool = False) -> Answer:
        """One object; *expandable* (GET /users/{id}) also takes $expand=manager (user-list-manager:
        "GET /users/{id | userPrincipalName}/?$expand=manager")."""
        emu = self.server.emulator
        expand_manager = expandable and _expands_manager(opts)
        for opt in opts:
            if opt not in ("$select",) and not (expand_manager and opt == "$expand"):
                raise bad_request(f"'{opt}' is not supported by the service.")
        extra = emu._dir.extension_props(schema)
        select = parse_select(opts.get("$select"), [schema], extra)
        ctx = f"{emu.base_url}/v1.0/$metadata#{schema.collection}"
        if select is not None:
            ctx += f"({','.join(select)})"
        body = {"@odata.context": ctx + "/$entity", **project(obj, schema, select, extra)}
        if expand_manager and obj["id"] in emu._dir.managers:
            body["manager"] = {"@odata.type": "#microsoft.graph.user", "id": emu._dir.managers[obj["id"]]}
        return Answer(200, body)

    def _list(self, call: Call, schema: EntitySchema, items: list[tuple[EntitySchema, dict]],
              opts: dict[str, str], context: str, *, typed: bool,
              filterable: bool = True, schemas: list[EntitySchema] | None = None) -> Answer:
        """A collection page. Paging: https://learn.microsoft.com/graph/paging (the next
        page is fetched by following @odata.nextLink as is; $skiptoken is opaque)."""
        emu = self.server.emulator
        allowed = {"$select", "$top", "$skiptoken", "$count"}
        if filterable:
            allowed |= {"$filter", "$orderby", "$search"}
        expand_manager = schema is USER and not typed and _expands_manager(opts)
        if expand_manager:
            allowed.add("$expand")
        for opt in opts:
            if opt not in allowed:
                raise bad_request(f"'{opt}' is not supported by the service.")
        if schemas is None:
            schemas = [USER, GROUP] if typed else [schema]
        extra = emu._dir.extension_props(schema) if not typed else {}
        select = parse_select(opts.get("$select"), schemas, extra)
        largest = getattr(emu, "max_page_size", MAX_TOP)
        top = min(emu.page_size, largest)
        if "$top" in opts:
            try:
                asked = int(opts["$top"])
            except ValueError:
                asked = -1
            oversize = getattr(emu, "oversize_top", "error")
            if not 1 <= asked <= MAX_TOP or (asked > largest and oversize == "error"):
                raise bad_request(f"Invalid page size specified: '{opts['$top']}'. Must be "
                                  f"between 1 and {min(MAX_TOP, largest)} inclusive.")
            if asked <= largest:
                top = asked
            elif oversize == "cap":
                top = largest
        # aad-advanced-queries: advanced query capabilities need "the ConsistencyLevel header set
        # to eventual and, with the exception of $search, ... the $count query parameter".
        eventual = call.header("ConsistencyLevel").lower() == "eventual"
        count = opts.get("$count", "").lower() == "true"
        advanced = eventual and count
        if "$search" in opts:
            if not eventual:
                raise unsupported_query(_SEARCH_NEEDS_HEADER)
            items = [(s, o) for s, o in items if _search(opts["$search"], o)]
        if "$filter" in opts:
            pred, needs_advanced = parse_filter(opts["$filter"], schema, extra)
            if needs_advanced and not advanced:
                # "If a property or query parameter in the URL is supported only in advanced
                # queries but either the ConsistencyLevel header or the $count=true query string
                # is missing, the request returns an error" (Request_UnsupportedQuery,
                # "Unsupported Query.").
                raise unsupported_query()
            items = [(s, o) for s, o in items if pred(o)]
        if "$orderby" in opts:
            # "Using $filter and $orderby together is supported only with advanced queries."
            if "$filter" in opts and not advanced:
                raise unsupported_query("Sorting not supported for current query.")
            prop, _, direction = opts["$orderby"].strip().partition(" ")
            name = schema.canonical(prop)
            if name is None or name not in schema.orderby or direction.strip().lower() not in (
                    "", "asc", "desc"):
                raise unsupported_query("Sorting not supported for current query.")
            items = sorted(items, key=lambda so: (so[1].get(name) or "").casefold(),
                           reverse=direction.strip().lower() == "desc")
        # $count=true without ConsistencyLevel: eventual is "silently ignored" (aad-advanced-queries,
        # "Error handling"): no @odata.count.
        count = count and eventual
        offset = read_skiptoken(opts["$skiptoken"]) if "$skiptoken" in opts else 0
        page = items[offset: offset + top]
        value = []
        for s, o in page:
            shown = project(o, s, select, extra)
            if typed:
                shown = {"@odata.type": f"#microsoft.graph.{s.name}", **shown}
            if expand_manager and o["id"] in emu._dir.managers:
                shown["manager"] = {"@odata.type": "#microsoft.graph.user", "id": emu._dir.managers[o["id"]]}
            value.append(shown)
        ctx = f"{emu.base_url}/v1.0/$metadata#{context}"
        if select is not None and not typed:
            ctx += f"({','.join(select)})"
        out: dict[str, Any] = {"@odata.context": ctx}
        if count:
            out["@odata.count"] = len(items)
        if offset + top < len(items):
            params = [(k, v) for k, v in parse_qsl(call.raw_query, keep_blank_values=True)
                      if k.lower() != "$skiptoken"]
            params.append(("$skiptoken", make_skiptoken(offset + top)))
            out["@odata.nextLink"] = (f"{emu.base_url}{call.raw_path}?"
                                      + urlencode(params, quote_via=quote, safe="$,'()"))
        out["value"] = value
        return Answer(200, out)


def _search(text: str, obj: dict) -> bool:
    """$search on directory objects (search-query-parameter): "property:text" clauses, quoted
    as a whole, joined by AND/OR; a clause matches when a word of the property's value starts
    with the text (tokenized search), ignoring case. AND binds tighter than OR."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise bad_request("Invalid $search: a search term is a quoted \"property:text\".")
    ors = [part for part in re.split(r'"\s+OR\s+"', text[1:-1])]
    for alternative in ors:
        ok = True
        for clause in re.split(r'"\s+AND\s+"', alternative):
            prop, sep, term = clause.partition(":")
            if not sep or not term:
                raise bad_request(f"Invalid $search clause: '{clause}'.")
            value = obj.get(prop.strip())
            words = re.split(r"[\s._@-]+", value.casefold()) if isinstance(value, str) else []
            if not any(w.startswith(term.casefold()) for w in words) and not (
                    isinstance(value, str) and value.casefold().startswith(term.casefold())):
                ok = False
                break
        if ok:
            return True
    return False


def _batch_error(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _check_batch(body: Any) -> list[dict]:
    """The requests of a $batch body, checked; a malformed batch fails as a whole with 400
    (json-batching: "If the batch request itself is malformed, the status code is 400").
    Wording: "Number of requests inside batch exceeds the limit." is Graph's (as reported in
    https://github.com/microsoftgraph/microsoftgraph-postman-collections/issues/9), and
    "Invalid dependency for request Id" follows Graph's (reported in
    https://github.com/microsoftgraph/msgraph-sdk-dotnet-core/issues/891); the rest is the
    emulator's."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list) \
            or not body["requests"]:
        raise _batch_error("Invalid batch payload format.")
    requests = body["requests"]
    if len(requests) > MAX_BATCH_REQUESTS:
        raise _batch_error("Number of requests inside batch exceeds the limit.")
    seen: set[str] = set()
    out = []
    for i, req in enumerate(requests):
        if not isinstance(req, dict):
            raise _batch_error(f"Invalid batch payload format: request {i} is not an object.")
        for key in ("id", "method", "url"):
            if not isinstance(req.get(key), str) or not req[key].strip():
                raise _batch_error(f"Invalid batch payload format: request {i} has no "
                                   f"'{key}' string.")
        rid = req["id"]
        # "id ... Not case-sensitive. Must be unique in the batch, otherwise, the batch
        # request fails with a 400 error code."
        if rid.lower() in seen:
            raise _batch_error(f"Invalid batch payload format: the request id '{rid}' is "
                               "used more than once (ids are not case-sensitive).")
        headers = req.get("headers") or {}
        if not isinstance(headers, dict):
            raise _batch_error(f"Invalid batch payload format: the headers of request "
                               f"'{rid}' are not an object.")
        headers = {str(k): (", ".join(map(str, v)) if isinstance(v, list) else str(v))
                   for k, v in headers.items()}
        depends = req.get("dependsOn") or []
        # Graph runs a dependency before its dependent and wants it earlier in the array
        # (msgraph-sdk-dotnet-core#891 above); an unknown or later id is refused.
        if not isinstance(depends, list) or not all(
                isinstance(d, str) and d.lower() in seen for d in depends):
            raise _batch_error(f"Invalid dependency for request Id: {rid}.")
        seen.add(rid.lower())
        out.append({**req, "headers": headers, "dependsOn": list(depends)})
    return out


def _inner_body(body: Any, headers: dict[str, str]) -> tuple[Any, GraphError | None]:
    """The JSON body of a batched request, or the error it gets. json-batching: "When a body
    is included with the request, the headers object must contain a value for
    Content-Type"; the body is a JSON object or a base64-encoded value (the wording of the
    Content-Type error is the emulator's)."""
    if not headers.get("content-type"):
        return None, GraphError(400, "BadRequest", "Content-Type header is required when a "
                                                   "request in a batch has a body.")
    if isinstance(body, str):
        try:
            return _b64_json(body), None
        except ValueError:
            return None, GraphError(
                400, "BadRequest", "Unable to read JSON request payload. Please ensure "
                "Content-Type header is set and payload is of valid JSON format.")
    return body, None


def _b64_json(text: str) -> Any:
    """JSON sent as base64 (standard or URL alphabet, padding optional); ValueError if not."""
    data = text.strip().translate(str.maketrans("-_", "+/"))
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4), validate=True))


def _batch_response(rid: str, answer: Answer) -> dict:
    """One item of "responses": id, status, headers (Content-Type, Cache-Control,
    OData-Version, and the answer's own such as Location or Retry-After), body if any."""
    headers = {"Cache-Control": "no-cache"}
    if answer.body is not None:
        if 200 <= answer.status < 300:
            headers["OData-Version"] = "4.0"
        headers["Content-Type"] = JSON_TYPE
    headers.update(answer.headers)
    out: dict[str, Any] = {"id": rid, "status": answer.status, "headers": headers}
    if answer.body is not None:
        out["body"] = answer.body
    return out


def _error_body(exc: GraphError, request_id: str, client_request_id: str) -> dict:
    # https://learn.microsoft.com/graph/errors: {"error": {"code", "message", "innerError"}}
    err: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        err["details"] = exc.details
    err["innerError"] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id, "client-request-id": client_request_id,
    }
    return {"error": err}


def _fault_answer(fault: Fault, *, is_graph: bool, request_id: str,
                  client_request_id: str) -> Answer:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        ra = fault.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    if fault.body is not None:
        return Answer(fault.status, fault.body, headers)
    if not is_graph:
        # Identity-platform shape for the token and discovery routes.
        return Answer(fault.status, {
            "error": "temporarily_unavailable" if fault.status >= 429 else "invalid_request",
            "error_description": f"AADSTS90033: A transient error has occurred. Please try "
                                 f"again. Correlation ID: {client_request_id}",
            "error_codes": [90033], "correlation_id": client_request_id,
        }, headers)
    code, message = _FAULT_CODES.get(fault.status, ("UnknownError", "Injected fault."))
    return Answer(fault.status, _error_body(GraphError(fault.status, code, message),
                                            request_id, client_request_id), headers)


def _redacted_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers.items():
        if k.lower() == "authorization":
            scheme = v.split(" ", 1)[0] if " " in v else ""
            v = f"{scheme} ***" if scheme else "***"
        out[k] = v
    return out


def _redact_password(body: Any) -> Any:
    """The log never holds a password a client sent in passwordProfile, also not inside
    the requests of a $batch body."""
    if isinstance(body, dict) and isinstance(body.get("passwordProfile"), dict) and \
            "password" in body["passwordProfile"]:
        body = dict(body)
        body["passwordProfile"] = {**body["passwordProfile"], "password": "***"}
    if isinstance(body, dict) and isinstance(body.get("requests"), list):
        body = {**body, "requests": [
            {**r, "body": _redact_password(_decoded(r["body"]))}
            if isinstance(r, dict) and "body" in r else r for r in body["requests"]]}
    return body


def _decoded(body: Any) -> Any:
    """A base64 batch body as the JSON it holds (so that the log can redact it)."""
    if isinstance(body, str):
        try:
            return _b64_json(body)
        except ValueError:
            return body
    return body


def _expands_manager(opts: dict[str, str]) -> bool:
    """Whether a users request asks for $expand=manager, which user-list-manager documents on the list and on
    one user (with $select inside: "manager($select=id)"); the navigation property is then left out for a
    user without a manager. Other expansions are not modelled and refused plainly."""
    if "$expand" not in opts:
        return False
    if opts["$expand"].replace(" ", "") not in ("manager", "manager($select=id)"):
        raise bad_request(f"'{opts['$expand']}' is not supported by the emulator's $expand.")
    return True
