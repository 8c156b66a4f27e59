"""HTTP side of the emulator: TLS server, routing, Graph responses, faults, request log."""
from __future__ import annotations

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
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ._odata import (GraphError, bad_request, make_skiptoken, not_found, parse_filter,
                     parse_select, read_skiptoken, unsupported_query)
from ._schema import GROUP, USER, EntitySchema
from ._store import project

if TYPE_CHECKING:
    from ._emulator import Fault, GraphEmulator

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


@dataclass
class Answer:
    status: int
    body: Any = None                      # JSON-able, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128   # bursts of parallel clients are normal in tests

    def __init__(self, address: tuple[str, int], emulator: "GraphEmulator",
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
        fault = emu._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and not fault.drop_after_commit and fault.status:
            answer = _fault_answer(fault, is_graph=not token_match and not _OIDC_ROUTE.match(
                path), request_id=request_id, client_request_id=client_request_id)
            entry["fault"] = "injected"
        else:
            try:
                if token_match or _OIDC_ROUTE.match(path) or _JWKS_ROUTE.match(path):
                    answer = self._identity(method, path, body, body_error, client_request_id)
                elif is_graph:
                    if body_error is not None:
                        raise body_error
                    answer = self._graph(method, path, split.query, query, body)
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
        if fault is not None and fault.drop_after_commit:
            entry["fault"] = "dropped"
            emu._append_log(entry)
            self._drop()
            return
        emu._append_log(entry)
        self._send(answer)

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
    def _graph(self, method: str, path: str, raw_query: str, query: dict[str, str],
               body: Any) -> Answer:
        emu = self.server.emulator
        emu._tokens.check_bearer(self.headers.get("Authorization"))
        segs = [unquote(s) for s in urlsplit(self.path).path.split("/")[1:] if s]
        if segs[0] != "v1.0":
            raise GraphError(400, "BadRequest", f"Invalid version: {segs[0]} (the emulator "
                                                "serves v1.0 only).")
        segs = segs[1:]
        opts = {k.lower(): v for k, v in query.items() if k.startswith("$")}
        store = emu._dir
        n = len(segs)
        if n == 0:
            raise GraphError(400, "BadRequest", "Invalid request.")
        head = segs[0]

        def only(*allowed: str) -> None:
            if method not in allowed:
                raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not "
                                                            "allowed for the request target.")

        if head == "me":
            raise bad_request("/me request is only valid with delegated authentication flow.")
        if head == "users" and n == 1:
            only("GET", "POST")
            if method == "GET":
                return self._list(USER, [(USER, u) for u in store.collection(USER)], opts,
                                  "users", typed=False)
            obj = store.create_user(body)
            return self._created(USER, obj)
        if head == "users" and n == 2:
            only("GET", "PATCH", "DELETE")
            if method == "GET":
                return self._entity(USER, store.user(segs[1]), opts)
            if method == "PATCH":
                store.update_user(segs[1], body)
            else:
                store.delete_user(segs[1])
            return Answer(204)
        if head == "users" and n == 3 and segs[2] == "memberOf":
            only("GET")
            user = store.user(segs[1])
            return self._list(GROUP, [(GROUP, g) for g in store.groups_of(user["id"])], opts,
                              "directoryObjects", typed=True, filterable=False)
        if head == "groups" and n == 1:
            only("GET", "POST")
            if method == "GET":
                return self._list(GROUP, [(GROUP, g) for g in store.collection(GROUP)], opts,
                                  "groups", typed=False)
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
                return self._list(USER, store.member_objects(segs[1]), opts,
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
                raise not_found(segs[1])
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
        known = ("users", "groups", "directoryObjects", "domains", "organization")
        bad = head if head not in known else segs[-1]
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{bad}'.")

    def _created(self, schema: EntitySchema, obj: dict) -> Answer:
        emu = self.server.emulator
        body = {"@odata.context": f"{emu.base_url}/v1.0/$metadata#{schema.collection}/$entity",
                **project(obj, schema, None)}
        location = (f"{emu.base_url}/v2/{emu.tenant_id}/directoryObjects/{obj['id']}/"
                    f"Microsoft.DirectoryServices.{schema.resource}")
        return Answer(201, body, {"Location": location})

    def _entity(self, schema: EntitySchema, obj: dict, opts: dict[str, str]) -> Answer:
        emu = self.server.emulator
        for opt in opts:
            if opt not in ("$select",):
                raise bad_request(f"'{opt}' is not supported by the service.")
        select = parse_select(opts.get("$select"), [schema])
        ctx = f"{emu.base_url}/v1.0/$metadata#{schema.collection}"
        if select is not None:
            ctx += f"({','.join(select)})"
        return Answer(200, {"@odata.context": ctx + "/$entity", **project(obj, schema, select)})

    def _list(self, schema: EntitySchema, items: list[tuple[EntitySchema, dict]],
              opts: dict[str, str], context: str, *, typed: bool,
              filterable: bool = True) -> Answer:
        """A collection page. Paging: https://learn.microsoft.com/graph/paging (the next
        page is fetched by following @odata.nextLink as is; $skiptoken is opaque)."""
        emu = self.server.emulator
        allowed = {"$select", "$top", "$skiptoken", "$count"}
        if filterable:
            allowed |= {"$filter", "$orderby"}
        for opt in opts:
            if opt not in allowed:
                raise bad_request(f"'{opt}' is not supported by the service.")
        schemas = [USER, GROUP] if typed else [schema]
        select = parse_select(opts.get("$select"), schemas)
        top = emu.page_size
        if "$top" in opts:
            try:
                top = int(opts["$top"])
            except ValueError:
                top = -1
            if not 1 <= top <= MAX_TOP:
                raise bad_request(f"Invalid page size specified: '{opts['$top']}'. Must be "
                                  f"between 1 and {MAX_TOP} inclusive.")
        advanced = self.headers.get("ConsistencyLevel", "").lower() == "eventual"
        if "$filter" in opts:
            pred = parse_filter(opts["$filter"], schema)
            items = [(s, o) for s, o in items if pred(o)]
        if "$orderby" in opts:
            if "$filter" in opts and not advanced:
                raise unsupported_query("Sorting not supported for current query.")
            prop, _, direction = opts["$orderby"].strip().partition(" ")
            name = schema.canonical(prop)
            if name is None or name not in schema.orderby or direction.strip().lower() not in (
                    "", "asc", "desc"):
                raise unsupported_query("Sorting not supported for current query.")
            items = sorted(items, key=lambda so: (so[1].get(name) or "").casefold(),
                           reverse=direction.strip().lower() == "desc")
        count = opts.get("$count", "").lower() == "true"
        if count and not advanced:
            # Directory objects support $count only as an advanced query
            # (https://learn.microsoft.com/graph/aad-advanced-queries).
            raise bad_request("$count is not currently supported.")
        offset = read_skiptoken(opts["$skiptoken"]) if "$skiptoken" in opts else 0
        page = items[offset: offset + top]
        value = []
        for s, o in page:
            shown = project(o, s, select)
            if typed:
                shown = {"@odata.type": f"#microsoft.graph.{s.name}", **shown}
            value.append(shown)
        ctx = f"{emu.base_url}/v1.0/$metadata#{context}"
        if select is not None and not typed:
            ctx += f"({','.join(select)})"
        out: dict[str, Any] = {"@odata.context": ctx}
        if count:
            out["@odata.count"] = len(items)
        if offset + top < len(items):
            params = [(k, v) for k, v in parse_qsl(urlsplit(self.path).query,
                                                   keep_blank_values=True)
                      if k.lower() != "$skiptoken"]
            params.append(("$skiptoken", make_skiptoken(offset + top)))
            out["@odata.nextLink"] = (f"{emu.base_url}{urlsplit(self.path).path}?"
                                      + urlencode(params, quote_via=quote, safe="$,'()"))
        out["value"] = value
        return Answer(200, out)


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


def _fault_answer(fault: "Fault", *, is_graph: bool, request_id: str,
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
    """The log never holds a password a client sent in passwordProfile."""
    if isinstance(body, dict) and isinstance(body.get("passwordProfile"), dict) and \
            "password" in body["passwordProfile"]:
        body = dict(body)
        body["passwordProfile"] = {**body["passwordProfile"], "password": "***"}
    return body
