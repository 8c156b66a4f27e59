"""Connection settings for remote sync servers: the typed ``remote:`` section and its merge.

Settings come in layers, each overriding the one before: pybridge's defaults,
``remote.defaults``, ``remote.servers.<name>`` and the command line. The layers
are kept apart (:class:`ServerOptions`, every field optional) and merged into a
:class:`ServerSettings` per server by :func:`resolve`, which also checks the
combinations (HTTP without message encryption, certificate auth over HTTP...).

This module only holds and merges typed settings: the YAML ``remote:`` section is read
and validated by pybridge.config (the one place that reads settings), the command line's
options by pybridge.remote.cli. Passwords are :class:`~pybridge.secret.Secret` sources,
read when a connection is opened, never from argv and never from the YAML.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, Sequence

from msgspec import Struct, field
from msgspec.structs import fields, replace

from .. import platform
from ..secret import Secret
from .options import AUTHS, MICROSOFT_MODULE_PATH, MODULE_SHORTCUTS, PYBRIDGE_MODULE_NAME, TRANSPORTS

SSH_DEFAULT_PORT = 22
#: The SSH subsystem of PowerShell's SSH remoting (sshd_config: Subsystem powershell <pwsh> -sshs ...).
SSH_SUBSYSTEM = "powershell"
DEFAULT_CONFIGURATION_NAME = "Microsoft.PowerShell"
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_NAME_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def _dotted(text: str, label: re.Pattern[str]) -> bool:
    name = text[:-1] if text.endswith(".") else text  # a fully qualified name may end with the root's dot
    return 0 < len(name) <= 253 and all(label.match(part) for part in name.split("."))


def is_ip_literal(text: str) -> bool:
    """An IPv4 address, or an IPv6 address (bracketed or not, with a zone such as %eth0)."""
    import ipaddress

    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if inner != text and ":" not in inner:
        return False  # only IPv6 literals are bracketed
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        return False
    return True


def is_host_name(text: str) -> bool:
    """A host name as RFC 1123 allows (letters, digits and inner hyphens in dot-separated labels of at most
    63 characters, 253 in all) or an IP literal: what a WinRM connection can be opened to."""
    return _dotted(text, _LABEL) or is_ip_literal(text)


def is_server_name(text: str) -> bool:
    """A name for a server of the configuration (remote.servers): a host name, or a word like one that may
    also hold underscores (a NetBIOS-style alias, given its host: separately)."""
    return is_host_name(text) or _dotted(text, _NAME_LABEL)


class ServerOptions(Struct, frozen=True):
    """One layer of settings; None means "not set here"."""

    host: str | None = None
    transport: str | None = None
    port: int | None = None
    use_ssl: bool | None = None
    auth: str | None = None
    username: str | None = None
    password: Secret | None = None
    certificate_file: Path | None = None
    certificate_key_file: Path | None = None
    ca_file: Path | None = None
    validate_tls: bool | None = None
    allow_unencrypted: bool | None = None
    module_path: str | None = None
    configuration_name: str | None = None
    wsman_path: str | None = None
    connect_timeout: float | None = None
    operation_timeout: float | None = None
    retries: int | None = None
    retry_backoff: float | None = None
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None

    def over(self, base: "ServerOptions") -> "ServerOptions":
        """This layer laid over *base*."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self)
                                if getattr(self, f.name) is not None})


class ServerSettings(Struct, frozen=True):
    """Everything needed to reach one sync server, merged and checked."""

    name: str
    host: str
    transport: str
    port: int
    use_ssl: bool
    auth: str
    username: str | None
    password: Secret | None
    certificate_file: Path | None
    certificate_key_file: Path | None
    ca_file: Path | None
    validate_tls: bool
    allow_unencrypted: bool
    module_path: str
    configuration_name: str
    wsman_path: str
    connect_timeout: float
    operation_timeout: float
    retries: int
    retry_backoff: float
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None

    @property
    def message_encryption(self) -> Literal["auto", "always", "never"]:
        """'always' on HTTP with an auth that can seal messages, 'never' for Basic over HTTP, else 'auto'."""
        if self.use_ssl:
            return "auto"
        return "never" if self.auth == "basic" else "always"

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        if self.transport == "ssh":
            return f"ssh://{self.username + '@' if self.username else ''}{host}:{self.port}"
        return f"{'https' if self.use_ssl else 'http'}://{host}:{self.port}/{self.wsman_path}"

    @property
    def authentication(self) -> str:
        """How this server is logged on to, for messages: the WinRM method, or the SSH key."""
        if self.transport == "ssh":
            return f"key {self.ssh_key_file}" if self.ssh_key_file else "ssh keys"
        return self.auth

    @property
    def needs_password(self) -> bool:
        """Basic, NTLM and CredSSP need one; Kerberos and Negotiate can use the ticket cache; SSH uses keys."""
        if self.transport == "ssh" or self.auth == "certificate":
            return False
        if self.auth in ("kerberos", "negotiate"):
            return self.username is not None
        return True


BUILTIN = ServerOptions(transport="psrp", use_ssl=True, auth="negotiate", validate_tls=True,
                        allow_unencrypted=False, module_path=MICROSOFT_MODULE_PATH,
                        configuration_name=DEFAULT_CONFIGURATION_NAME, wsman_path="wsman", connect_timeout=15.0,
                        operation_timeout=600.0, retries=2, retry_backoff=2.0)


class RemoteSettings(Struct, frozen=True):
    """The validated ``remote:`` section."""

    defaults: ServerOptions = field(default_factory=ServerOptions)
    servers: dict[str, ServerOptions] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_parallel: int = 8
    report_directory: Path | None = None
    warnings: tuple[str, ...] = ()


#: Bytes of a PEM file (a CA bundle, a client certificate or its key).
MAX_PEM_BYTES = 4 * 1024 * 1024


def file_problem(p: Path, *, pem: bool = False, private: bool = False) -> str | None:
    """Why *p* is not a usable file (or PEM file; with *private*, an owner-only one: it holds a key), or None."""
    if not p.is_file():
        return f"file {p} does not exist"
    if pem:
        try:
            data = platform.read_regular_file(p, MAX_PEM_BYTES, what="file")
        except platform.UnsafeFileError as exc:
            return f"{exc}: {exc.fix}"
        except OSError as exc:
            return f"file {p} cannot be read ({exc.strerror})"
        if b"-----BEGIN" not in data:
            return f"file {p} holds no PEM data"
        if private:
            return key_file_problem(p, data)
    return None


def key_file_problem(p: Path, data: bytes) -> str | None:
    """A PEM file holding a private key must be readable by its owner only, as a secret file (and ssh's keys)."""
    if b"PRIVATE KEY-----" in data and not platform.file_is_private(p):
        return (f"file {p} holds a private key and is accessible by others; a key file must be readable by its "
                f"owner only: chmod 600 {p}")
    return None


def expand_names(remote: RemoteSettings, computer_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--computer-name a,b`` (repeatable) -> server names in order, groups expanded, duplicates dropped."""
    problems: list[str] = []
    out: list[str] = []
    groups = {g.lower(): members for g, members in remote.groups.items()}
    servers = {n.lower() for n in remote.servers}
    for item in computer_names:
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            for member in groups.get(name.lower(), (name,)):
                if member.lower() not in servers and not is_host_name(member):
                    problems.append(f"--computer-name: {member!r} is not a host name or address")
                elif member.lower() not in (o.lower() for o in out):
                    out.append(member)
    if not out and not problems:
        problems.append("--computer-name: no server named")
    return out, problems


def resolve(remote: RemoteSettings, computer_names: Sequence[str],
            overrides: ServerOptions | None = None) -> tuple[list[ServerSettings], list[str], list[str]]:
    """Merge the layers for every named server; return (settings, problems, warnings).

    A name that is not in ``remote.servers`` is a host name, reached with the
    defaults and the command line's options.
    """
    names, problems = expand_names(remote, computer_names)
    warnings: list[str] = []
    known = {n.lower(): (n, o) for n, o in remote.servers.items()}
    out: list[ServerSettings] = []
    for name in names:
        label, own = known.get(name.lower(), (name, ServerOptions()))
        merged = (overrides or ServerOptions()).over(own.over(remote.defaults.over(BUILTIN)))
        settings, p, w = _finalize(label, merged)
        problems.extend(p)
        warnings.extend(w)
        if settings is not None:
            out.append(settings)
    return out, problems, warnings


def _finalize(name: str, o: ServerOptions) -> tuple[ServerSettings | None, list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    where = f"server {name}"
    assert o.transport and o.auth and o.use_ssl is not None
    if o.transport == "ssh":
        return _finalize_ssh(name, o)
    auth = o.auth
    if o.transport == "winrs" and auth == "negotiate":
        auth = "ntlm"  # pywinrm has no SPNEGO: Negotiate means NTLM there (Kerberos must be asked for)
    use_ssl = o.use_ssl
    if not use_ssl:
        if auth == "certificate":
            problems.append(f"{where}: certificate authentication needs HTTPS (use_ssl: true)")
        if auth == "basic":
            if not o.allow_unencrypted:
                problems.append(f"{where}: Basic authentication over HTTP sends the password and every message in "
                                "clear text; use HTTPS, or negotiate/kerberos/ntlm (which encrypt the messages), or "
                                "allow it explicitly with --allow-unencrypted (allow_unencrypted: true)")
            else:
                warnings.append(f"{where}: UNENCRYPTED: Basic authentication over plain HTTP; the password and the "
                                "sync result cross the network in clear text (allow_unencrypted)")
        if o.ca_file is not None:
            warnings.append(f"{where}: ca_file is ignored over HTTP")
    elif not o.validate_tls:
        warnings.append(f"{where}: TLS certificate validation is OFF (validate_tls: false); the server's identity "
                        "is not checked")
    if auth == "certificate":
        if o.certificate_file is None or o.certificate_key_file is None:
            problems.append(f"{where}: certificate authentication needs certificate_file and certificate_key_file")
    elif auth in ("basic", "ntlm", "credssp") and not o.username:
        problems.append(f"{where}: {auth} authentication needs a username (--username or username:)")
    if o.username and auth in ("kerberos", "negotiate") and o.password is None:
        pass  # a password will be prompted for, or the Kerberos ticket cache used when there is no terminal
    port = o.port if o.port is not None else (5986 if use_ssl else 5985)
    if problems:
        return None, problems, warnings
    assert o.module_path and o.configuration_name and o.wsman_path
    assert o.connect_timeout and o.operation_timeout and o.retries is not None and o.retry_backoff is not None
    return ServerSettings(
        name=name, host=o.host or name, transport=o.transport, port=port, use_ssl=use_ssl, auth=auth,
        username=o.username, password=o.password, certificate_file=o.certificate_file,
        certificate_key_file=o.certificate_key_file, ca_file=o.ca_file if use_ssl else None,
        validate_tls=bool(o.validate_tls), allow_unencrypted=bool(o.allow_unencrypted), module_path=o.module_path,
        configuration_name=o.configuration_name, wsman_path=o.wsman_path.strip("/"),
        connect_timeout=o.connect_timeout, operation_timeout=o.operation_timeout, retries=o.retries,
        retry_backoff=o.retry_backoff, ssh_key_file=o.ssh_key_file, known_hosts_file=o.known_hosts_file), \
        problems, warnings


def _finalize_ssh(name: str, o: ServerOptions) -> tuple[ServerSettings | None, list[str], list[str]]:
    """An SSH server: PowerShell's SSH remoting; the WinRM settings (auth, TLS, passwords) do not apply."""
    host = o.host or name
    if host.lstrip("[").startswith("-"):
        return None, [f"server {name}: {host!r} is not a host name"], []
    assert o.module_path and o.configuration_name and o.wsman_path and o.auth and o.use_ssl is not None
    assert o.connect_timeout and o.operation_timeout and o.retries is not None and o.retry_backoff is not None
    return ServerSettings(
        name=name, host=host.strip("[]"), transport="ssh", port=o.port if o.port is not None else SSH_DEFAULT_PORT,
        use_ssl=o.use_ssl, auth=o.auth, username=o.username, password=None, certificate_file=None,
        certificate_key_file=None, ca_file=None, validate_tls=bool(o.validate_tls),
        allow_unencrypted=bool(o.allow_unencrypted), module_path=o.module_path,
        configuration_name=o.configuration_name, wsman_path=o.wsman_path.strip("/"),
        connect_timeout=o.connect_timeout, operation_timeout=o.operation_timeout, retries=o.retries,
        retry_backoff=o.retry_backoff, ssh_key_file=o.ssh_key_file, known_hosts_file=o.known_hosts_file), [], []


def verify_argument(settings: ServerSettings) -> bool | str:
    """What the HTTP client gets as ``verify``: a CA bundle path, the system store's, or False."""
    if not settings.validate_tls:
        return False
    if settings.ca_file is not None:
        return str(settings.ca_file)
    return system_ca_bundle()


def system_ca_bundle() -> bool | str:
    """The operating system's CA bundle (OpenSSL's default file), else requests' default (True)."""
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    return True


__all__ = ["ServerOptions", "ServerSettings", "RemoteSettings", "resolve", "expand_names", "is_host_name",
           "is_ip_literal", "is_server_name", "key_file_problem",
           "file_problem", "verify_argument", "MICROSOFT_MODULE_PATH", "PYBRIDGE_MODULE_NAME", "MODULE_SHORTCUTS",
           "TRANSPORTS", "AUTHS", "SSH_DEFAULT_PORT", "SSH_SUBSYSTEM"]
