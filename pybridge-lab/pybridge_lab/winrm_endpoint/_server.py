"""The HTTP(S) side of the test endpoint: authentication, message encryption, WS-Management dispatch."""
from __future__ import annotations

import base64
import http.server
import logging
import os
import re
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from . import _wsman as W
from ..sync_server import SyncServer
from ._observe import Call
from ._psrp import PowerShellShell
from ._winrs import CmdShell

log = logging.getLogger("pybridge_lab.winrm_endpoint")

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = "Encrypted Boundary"
MUTUAL_CERT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"


# -- NTLM credentials: pyspnego's acceptor reads them from the file named by NTLM_USER_FILE ------------------------
class _NtlmUsers:
    """One credential file for every running endpoint of this process (NTLM_USER_FILE is process-wide)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_endpoint: dict[int, dict[str, str]] = {}
        self.dir: str | None = None
        self.saved: str | None = None

    def _write(self) -> None:
        assert self.dir is not None
        lines = []
        for users in self.by_endpoint.values():
            for user, password in users.items():
                if "\\" in user:
                    domain, name = user.split("\\", 1)
                    lines.append(f"{domain}:{name}:{password}")
                else:
                    lines.append(f":{user}:{password}")
        path = Path(self.dir) / "ntlm-users"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.environ["NTLM_USER_FILE"] = str(path)

    def add(self, key: int, users: dict[str, str]) -> None:
        with self.lock:
            if not self.by_endpoint:
                self.saved = os.environ.get("NTLM_USER_FILE")
                self.dir = tempfile.mkdtemp(prefix="pybridge-winrm-")
            self.by_endpoint[key] = dict(users)
            self._write()

    def remove(self, key: int) -> None:
        with self.lock:
            if self.by_endpoint.pop(key, None) is None:
                return
            if self.by_endpoint:
                self._write()
                return
            if self.saved is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self.saved
            if self.dir:
                for p in Path(self.dir).iterdir():
                    p.unlink()
                os.rmdir(self.dir)
            self.dir = None


NTLM_USERS = _NtlmUsers()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    endpoint: "WinRMEndpoint"
    ssl_context: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:  # TLS handshakes refused by clients, resets
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        ctx = self.server.ssl_context
        if ctx is not None:
            self.request.settimeout(30)
            self.request = ctx.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        super().setup()
        self.conn_user: str | None = None   # NTLM/Negotiate authenticates the connection
        self.auth_ctx: Any = None
        self.auth_scheme: str | None = None

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.client_address[0], *args)

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              close: bool = False) -> None:
        self.send_response(status)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Server", "Microsoft-HTTPAPI/2.0")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _challenge(self, token: str | None = None, close: bool = False) -> None:
        ep = self.server.endpoint
        headers = []
        if token is not None:
            headers.append(("WWW-Authenticate", f"{self.auth_scheme or 'Negotiate'} {token}"))
        else:
            if "negotiate" in ep.auth_methods:
                headers.append(("WWW-Authenticate", "Negotiate"))
            if "basic" in ep.auth_methods:
                headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(401, b"", headers, close=close)

    def do_GET(self) -> None:
        self._send(405, b"", close=True)

    def do_POST(self) -> None:
        ep = self.server.endpoint
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.rstrip("/").lower() != "/" + ep.wsman_path.lower():
            self._send(404, b"", close=True)
            return
        user: str | None = self.conn_user
        auth = self.headers.get("Authorization")
        final_token: str | None = None
        basic = False
        if auth:
            scheme, _, token = auth.partition(" ")
            s = scheme.lower()
            if s == "basic" and "basic" in ep.auth_methods:
                user = ep.check_basic(token.strip())
                if user is None:
                    ep.auth_failures += 1
                    self._challenge(close=True)
                    return
                basic = True
            elif s in ("negotiate", "ntlm") and "negotiate" in ep.auth_methods:
                import spnego
                from spnego.exceptions import SpnegoError

                if self.auth_ctx is None or self.auth_ctx.complete:
                    self.auth_ctx = spnego.server(protocol="negotiate")
                    self.auth_scheme = scheme
                    self.conn_user = None
                try:
                    out = self.auth_ctx.step(base64.b64decode(token.strip()))
                except (SpnegoError, ValueError) as exc:
                    log.info("authentication failed: %s", exc)
                    ep.auth_failures += 1
                    self.auth_ctx = None
                    self._challenge(close=True)
                    return
                if not self.auth_ctx.complete:
                    self._challenge(base64.b64encode(out or b"").decode())
                    return
                user = ep.allowed_user(self.auth_ctx.client_principal)
                if user is None:
                    ep.auth_failures += 1
                    self.auth_ctx = None
                    self._challenge(close=True)
                    return
                self.conn_user = user
                final_token = base64.b64encode(out).decode() if out else None
            elif scheme == MUTUAL_CERT:
                self._challenge(close=True)  # client certificates are not emulated
                return
            else:
                self._challenge(close=True)
                return
        if user is None:
            self._challenge()
            return
        extra = [("WWW-Authenticate", f"{self.auth_scheme} {final_token}")] if final_token else []
        if not body:  # the empty POST that sets up the security context for message encryption
            self._send(200, b"", extra)
            return
        ctype = self.headers.get("Content-Type", "")
        encrypted = ctype.startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))
        if encrypted:
            if self.auth_ctx is None or not self.auth_ctx.complete:
                self._send(400, b"", close=True)
                return
            try:
                soap = _unwrap(self.auth_ctx, body)
            except Exception:  # noqa: BLE001
                log.warning("undecryptable message from %s", self.client_address[0], exc_info=True)
                self._send(400, b"", close=True)
                return
        else:
            soap = body
            if self.server.ssl_context is None and not (basic and ep.allow_unencrypted):
                relates = ""
                answer = W.fault(W.WSManFault(W.ACCESS_DENIED, "The WinRM service refuses unencrypted traffic over "
                                              "HTTP (AllowUnencrypted = false): use HTTPS or message encryption.",
                                              status=400), relates, ep.computer_name)
                self._send(400, answer, [("Content-Type", "application/soap+xml;charset=UTF-8")] + extra)
                return
        status, answer = ep.dispatch(soap, user, self.client_address[0])
        if encrypted:
            payload = _wrap(self.auth_ctx, answer)
            headers = [("Content-Type", f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="{BOUNDARY}"')]
        else:
            payload = answer
            headers = [("Content-Type", "application/soap+xml;charset=UTF-8")]
        self._send(status, payload, headers + extra)


def _unwrap(ctx: Any, body: bytes) -> bytes:
    parts = [p for p in re.split(rb"--\s*" + re.escape(BOUNDARY.encode()) + rb"(?:--)?\r\n", body) if p]
    out = b""
    for i in range(0, len(parts) - 1, 2):
        header, payload = parts[i], parts[i + 1]
        expected = int(re.search(rb"Length=(\d+)", header).group(1))  # type: ignore[union-attr]
        data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        hlen = struct.unpack("<i", data[:4])[0]
        plain = ctx.unwrap_winrm(data[4:4 + hlen], data[4 + hlen:])
        if len(plain) != expected:
            raise ValueError("length mismatch")
        out += plain
    return out


def _wrap(ctx: Any, data: bytes) -> bytes:
    header, wrapped, padding = ctx.wrap_winrm(data)
    return (f"--{BOUNDARY}\r\n\tContent-Type: {ENCRYPTED_PROTOCOL}\r\n"
            f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(data) + padding}\r\n"
            f"--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n").encode() \
        + struct.pack("<i", len(header)) + header + wrapped + f"--{BOUNDARY}--\r\n".encode()


class WinRMEndpoint:
    """A loopback WS-Management endpoint in front of a test sync server (pybridge_lab.sync_server), for tests.

    ``users`` maps accounts (``DOMAIN\\user`` or ``user``) to passwords, accepted
    with Basic and with Negotiate/NTLM (pyspnego as acceptor). With *certfile* and
    *keyfile* it listens on HTTPS, else on HTTP (where it insists on message
    encryption unless *allow_unencrypted*). What clients send runs on *server* in
    real PowerShell: each runspace pool of the PowerShell resource URI is a ``pwsh -s``
    of the session configuration named in the resource URI, each WinRS command a process.
    """

    def __init__(self, *, users: dict[str, str], server: SyncServer, host: str = "127.0.0.1", port: int = 0,
                 certfile: Path | None = None, keyfile: Path | None = None,
                 auth_methods: tuple[str, ...] = ("negotiate", "basic"), allow_unencrypted: bool = False,
                 max_shells_per_user: int = 5, wsman_path: str = "wsman") -> None:
        self.users = dict(users)
        self.server = server
        self.host, self.port = host, port
        self.certfile, self.keyfile = certfile, keyfile
        self.auth_methods = tuple(a.lower() for a in auth_methods)
        self.allow_unencrypted = allow_unencrypted
        self.max_shells_per_user = max_shells_per_user
        self.computer_name = server.name
        self.wsman_path = wsman_path.strip("/")
        self.shells: dict[str, PowerShellShell | CmdShell] = {}
        #: every command a client sent, in order (PSRP pipelines' commands with typed parameters; WinRS command lines)
        self.calls: list[Call] = []
        self.auth_failures = 0
        self.throttle_next_creates = 0
        #: change one byte of the next N report chunks in transit (the client's SHA-256 check must catch it)
        self.tamper_next_reports = 0
        self.shells_created = 0
        #: shell id -> [created, deleted] (time.monotonic(); deleted None while open): which shells were open together
        self.shell_times: dict[str, list[float | None]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------------
    def record(self, calls: list[Call]) -> None:
        with self._lock:
            self.calls.extend(calls)
        for call in calls:
            log.info("%s %s by %s: %s", call.transport, call.command[:80], call.user,
                     ", ".join(f"-{k} [{t}] {v!r}" for k, (t, v) in call.parameters.items())[:500])

    def take_tamper(self) -> bool:
        with self._lock:
            if self.tamper_next_reports > 0:
                self.tamper_next_reports -= 1
                return True
            return False

    def give_back_tamper(self) -> None:
        with self._lock:
            self.tamper_next_reports += 1

    def tamper_pending(self) -> bool:
        return self.tamper_next_reports > 0

    @property
    def use_ssl(self) -> bool:
        return self.certfile is not None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.use_ssl else 'http'}://{self.host}:{self.port}/{self.wsman_path}"

    def start(self) -> "WinRMEndpoint":
        server = _Server((self.host, self.port), _Handler, bind_and_activate=False)
        if ":" in self.host:
            server.address_family = socket.AF_INET6
            server.socket = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        server.endpoint = self
        if self.certfile is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(str(self.certfile), str(self.keyfile) if self.keyfile else None)
            server.ssl_context = ctx
        self.port = server.server_address[1]
        self._server = server
        if "negotiate" in self.auth_methods:
            NTLM_USERS.add(id(self), self.users)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                        name=f"winrm-endpoint-{self.port}")
        self._thread.start()
        log.info("WinRM test endpoint listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        NTLM_USERS.remove(id(self))
        with self._lock:
            shells = list(self.shells.values())
            self.shells.clear()
        for shell in shells:
            shell.close()

    def __enter__(self) -> "WinRMEndpoint":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- authentication ---------------------------------------------------------------------------------------------
    def allowed_user(self, principal: str | None) -> str | None:
        if not principal:
            return None
        wanted = principal.lower()
        for user in self.users:
            if user.lower() == wanted or user.lower().split("\\")[-1] == wanted.split("\\")[-1] and "\\" not in user:
                return user
        return None

    def check_basic(self, token: str) -> str | None:
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        for known, secret in self.users.items():
            if known.lower() == user.lower() and secret == password:
                return known
        return None

    # -- WS-Management --------------------------------------------------------------------------------------------
    def dispatch(self, soap: bytes, user: str, client_ip: str) -> tuple[int, bytes]:
        relates = ""
        try:
            req = W.parse_request(soap)
            relates = req.message_id
            return 200, self._operation(req, user, client_ip)
        except W.WSManFault as f:
            return f.status, W.fault(f, relates, self.computer_name)
        except OSError as exc:  # a process of the server could not be started
            log.error("the test sync server failed: %s", exc)
            return 500, W.fault(W.WSManFault(W.INVALID, f"The test sync server failed: {exc}"), relates,
                                self.computer_name)

    def _shell(self, req: W.Request, user: str) -> PowerShellShell | CmdShell:
        with self._lock:
            shell = self.shells.get((req.shell_id or "").upper())
        if shell is None:
            raise W.WSManFault(W.SHELL_NOT_FOUND, f"The request for the Windows Remote Shell with ShellId "
                               f"{req.shell_id} failed because the shell was not found on the server.")
        if shell.owner != user:
            raise W.WSManFault(W.ACCESS_DENIED, "Access is denied.", subcode="w:AccessDenied")
        if shell.resource_uri.lower() != req.resource_uri.lower():
            raise W.WSManFault(W.INVALID, "The resource URI does not match the shell's.")
        return shell

    def _operation(self, req: W.Request, user: str, client_ip: str) -> bytes:
        if req.action == "Create":
            return self._create(req, user, client_ip)
        if req.action not in ("Command", "Send", "Receive", "Signal", "Delete"):
            raise W.WSManFault(W.UNSUPPORTED, f"The action {req.action} is not supported by this test endpoint",
                               subcode="wsa:ActionNotSupported")
        shell = self._shell(req, user)
        body = req.body
        if req.action == "Delete":
            with self._lock:
                self.shells.pop(shell.shell_id, None)
                if shell.shell_id in self.shell_times:
                    self.shell_times[shell.shell_id][1] = time.monotonic()
            shell.close()
            return W.response(req, [])
        if req.action == "Command":
            cl = body.find("rsp:CommandLine", W.NS)
            if cl is None:
                raise W.WSManFault(W.INVALID, "Command without rsp:CommandLine")
            executable = (cl.findtext("rsp:Command", default="", namespaces=W.NS) or "").strip()
            arguments = [a.text or "" for a in cl.findall("rsp:Arguments", W.NS)]
            if isinstance(shell, PowerShellShell):
                cid = shell.command(cl.get("CommandId"), arguments)
            else:
                cid = shell.command(cl.get("CommandId"), executable, arguments)
            return W.command_response(req, cid)
        if req.action == "Send":
            for stream in body.findall("rsp:Send/rsp:Stream", W.NS):
                data = base64.b64decode(stream.text or "")
                end = (stream.get("End") or "").lower() == "true"
                shell.send(stream.get("CommandId"), data, end, stream.get("Name") or "stdin")
            return W.empty_response(req, "SendResponse")
        if req.action == "Signal":
            sig = body.find("rsp:Signal", W.NS)
            code = (sig.findtext("rsp:Code", default="", namespaces=W.NS) if sig is not None else "") or ""
            shell.signal(sig.get("CommandId") if sig is not None else None, code.strip())
            return W.empty_response(req, "SignalResponse")
        desired = body.find("rsp:Receive/rsp:DesiredStream", W.NS)
        cid = desired.get("CommandId") if desired is not None else None
        wait = max(0.5, min(req.operation_timeout, 60.0))
        if isinstance(shell, PowerShellShell):
            got = shell.receive(cid, wait)
            if got is None:
                raise W.WSManFault(W.OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation "
                                   "within the time specified in OperationTimeout.", subcode="w:TimedOut")
            payloads, done = got
            return W.receive_response(req, [("stdout", cid, p) for p in payloads], cid.upper() if cid else None,
                                      done)
        got2 = shell.receive(cid, wait)
        if got2 is None:
            raise W.WSManFault(W.OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation within "
                               "the time specified in OperationTimeout.", subcode="w:TimedOut")
        streams, done, rc = got2
        return W.receive_response(req, [(n, cid, d) for n, d in streams], (cid or "").upper(), done, rc)

    def _create(self, req: W.Request, user: str, client_ip: str) -> bytes:
        uri = req.resource_uri
        shell_el = req.body.find("rsp:Shell", W.NS)
        if shell_el is None:
            raise W.WSManFault(W.INVALID, "Create without rsp:Shell")
        with self._lock:
            if self.throttle_next_creates > 0:
                self.throttle_next_creates -= 1
                raise W.WSManFault(W.QUOTA_MAX_SHELLS, "The WS-Management service cannot process the request. This "
                                   f"user is allowed a maximum number of {self.max_shells_per_user} concurrent shells, "
                                   "which has been exceeded. Close existing shells or raise the quota for this user.")
            owned = sum(1 for s in self.shells.values() if s.owner == user)
            if owned >= self.max_shells_per_user:
                raise W.WSManFault(W.QUOTA_MAX_SHELLS, "The WS-Management service cannot process the request. This "
                                   f"user is allowed a maximum number of {self.max_shells_per_user} concurrent shells, "
                                   "which has been exceeded. Close existing shells or raise the quota for this user.")
        shell_id = (shell_el.get("ShellId") or str(uuid.uuid4())).upper()
        inputs = shell_el.findtext("rsp:InputStreams", default="stdin", namespaces=W.NS) or "stdin"
        outputs = shell_el.findtext("rsp:OutputStreams", default="stdout stderr", namespaces=W.NS) or "stdout stderr"
        shell: PowerShellShell | CmdShell
        if uri.lower().startswith(W.POWERSHELL_URI_PREFIX.lower()):
            config = uri[len(W.POWERSHELL_URI_PREFIX):]
            if self.server.configuration_file(config) is None:
                raise W.WSManFault(2150858752, f"The WS-Management service cannot process the request. Cannot find "
                                   f"the {config} session configuration in the WSMan: drive on the "
                                   f"{self.computer_name} computer.")
            creation = req.body.find("rsp:Shell/pwsh:creationXml", W.NS)
            if creation is None or not (creation.text or "").strip():
                raise W.WSManFault(W.INVALID, "Create of a PowerShell shell without creationXml")
            shell = PowerShellShell(shell_id, uri, user, self, config, base64.b64decode(creation.text or ""))
        elif uri.lower() == W.CMD_URI.lower():
            shell = CmdShell(shell_id, uri, user, self)
        else:
            raise W.WSManFault(2150858752, f"The resource URI {uri} is not supported by this test endpoint.")
        with self._lock:
            self.shells[shell_id] = shell
            self.shells_created += 1
            self.shell_times[shell_id] = [time.monotonic(), None]
        return W.shell_created(req, shell_id, uri, self.base_url, user, client_ip, inputs, outputs)
