"""Connection settings for remote sync servers: the ``remote:`` section of the configuration.

Settings come in layers, each overriding the one before: pybridge's defaults,
``remote.defaults``, ``remote.servers.<name>`` and the command line. The layers
are kept apart (:class:`ServerOptions`, every field optional) and merged into a
:class:`ServerSettings` per server by :func:`resolve`, which also checks the
combinations (HTTP without message encryption, certificate auth over HTTP...).

This module reads no environment variable and no file itself except to check, at
load time, that a named password source exists (``check_secrets``); passwords are
read when a connection is opened, never from argv and never from the YAML.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

from ..yamlcheck import Reader

TRANSPORTS = ("psrp", "winrs")
AUTHS = ("negotiate", "kerberos", "ntlm", "credssp", "certificate", "basic")
#: Where Entra Connect installs the module holding Invoke-ADSyncSingleObjectSync.
MICROSOFT_MODULE_PATH = r"C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics\ADSyncDiagnostics.psm1"
#: pybridge's own PowerShell module, imported by name from the server's PSModulePath.
PYBRIDGE_MODULE_NAME = "ADSyncDiagnostics"
MODULE_SHORTCUTS = {"microsoft": MICROSOFT_MODULE_PATH, "pybridge": PYBRIDGE_MODULE_NAME}
DEFAULT_CONFIGURATION_NAME = "Microsoft.PowerShell"
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:\-\[\]%]+$")
_SERVER_KEYS = ("host", "transport", "port", "use_ssl", "auth", "username", "password_env", "password_file",
                "certificate_file", "certificate_key_file", "ca_file", "validate_tls", "allow_unencrypted",
                "module_path", "configuration_name", "wsman_path", "connect_timeout", "operation_timeout",
                "retries", "retry_backoff")


class PasswordSource:
    """Where a remote password comes from: an environment variable or a file (first line)."""

    def __init__(self, *, env: str | None = None, file: Path | None = None) -> None:
        if (env is None) == (file is None):
            raise ValueError("exactly one of env and file")
        self.env, self.file = env, file

    def problem(self) -> str | None:
        """Why the password cannot be read, or None."""
        if self.env is not None:
            return None if os.environ.get(self.env) else f"environment variable {self.env} is not set or empty"
        assert self.file is not None
        try:
            return None if self.reveal() else f"file {self.file} is empty"
        except OSError as exc:
            return f"file {self.file} cannot be read ({exc.strerror})"

    def reveal(self) -> str:
        if self.env is not None:
            return os.environ.get(self.env, "")
        assert self.file is not None
        lines = self.file.read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else ""

    @property
    def source(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PasswordSource) and (self.env, self.file) == (other.env, other.file)

    def __hash__(self) -> int:
        return hash((self.env, self.file))

    def __repr__(self) -> str:
        return f"PasswordSource({self.source})"


@dataclass(frozen=True)
class ServerOptions:
    """One layer of settings; None means "not set here"."""

    host: str | None = None
    transport: str | None = None
    port: int | None = None
    use_ssl: bool | None = None
    auth: str | None = None
    username: str | None = None
    password: PasswordSource | None = None
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

    def over(self, base: "ServerOptions") -> "ServerOptions":
        """This layer laid over *base*."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self)
                                if getattr(self, f.name) is not None})


@dataclass(frozen=True)
class ServerSettings:
    """Everything needed to reach one sync server, merged and checked."""

    name: str
    host: str
    transport: str
    port: int
    use_ssl: bool
    auth: str
    username: str | None
    password: PasswordSource | None
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

    @property
    def message_encryption(self) -> str:
        """'always' on HTTP with an auth that can seal messages, 'never' for Basic over HTTP, else 'auto'."""
        if self.use_ssl:
            return "auto"
        return "never" if self.auth == "basic" else "always"

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{'https' if self.use_ssl else 'http'}://{host}:{self.port}/{self.wsman_path}"

    @property
    def needs_password(self) -> bool:
        """Basic, NTLM and CredSSP need one; Kerberos and Negotiate can use the ticket cache."""
        if self.auth == "certificate":
            return False
        if self.auth in ("kerberos", "negotiate"):
            return self.username is not None
        return True


BUILTIN = ServerOptions(transport="psrp", use_ssl=True, auth="negotiate", validate_tls=True,
                        allow_unencrypted=False, module_path=MICROSOFT_MODULE_PATH,
                        configuration_name=DEFAULT_CONFIGURATION_NAME, wsman_path="wsman", connect_timeout=15.0,
                        operation_timeout=600.0, retries=2, retry_backoff=2.0)


@dataclass(frozen=True)
class RemoteSettings:
    """The validated ``remote:`` section."""

    defaults: ServerOptions = field(default_factory=ServerOptions)
    servers: dict[str, ServerOptions] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_parallel: int = 8
    report_directory: Path | None = None
    warnings: tuple[str, ...] = ()


class _Reader(Reader):
    def __init__(self, base: Path, check_secrets: bool) -> None:
        super().__init__(base)
        self.check_secrets = check_secrets

    def choice(self, d: dict[str, Any], key: str, path: str, allowed: Sequence[str]) -> str | None:
        value = self.string(d, key, path)
        if value is not None and value.lower() not in allowed:
            self.err(f"{path}.{key}", f"must be one of {', '.join(allowed)}, got {value!r}")
            return None
        return value.lower() if value else None

    def boolean(self, d: dict[str, Any], key: str, path: str) -> bool | None:
        value = d.get(key)
        if value is not None and not isinstance(value, bool):
            self.err(f"{path}.{key}", f"must be true or false, got {value!r}")
            return None
        return value

    def number(self, d: dict[str, Any], key: str, path: str, *, integer: bool = False, minimum: float | None = None,
               maximum: float | None = None) -> Any:
        """A number; without *minimum* it must be positive."""
        value = d.get(key)
        if value is None:
            return None
        ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
        low_ok = ok and (value > 0 if minimum is None else value >= minimum)
        if not ok or not low_ok or (maximum is not None and value > maximum):
            kind = "an integer" if integer else "a number"
            bounds = (f" from {minimum:g}" if minimum is not None else " above 0") + \
                (f" to {maximum:g}" if maximum is not None else "")
            self.err(f"{path}.{key}", f"must be {kind}{bounds}, got {value!r}")
            return None
        return int(value) if integer else float(value)

    def path_value(self, d: dict[str, Any], key: str, path: str, *, pem: bool = False) -> Path | None:
        value = self.string(d, key, path)
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        if not p.is_absolute():
            p = self.base / p
        problem = file_problem(p, pem=pem)
        if problem:
            self.err(f"{path}.{key}", problem)
        return p


def file_problem(p: Path, *, pem: bool = False) -> str | None:
    """Why *p* is not a usable file (or PEM certificate file), or None."""
    if not p.is_file():
        return f"file {p} does not exist"
    if pem:
        try:
            if b"-----BEGIN" not in p.read_bytes():
                return f"file {p} holds no PEM data"
        except OSError as exc:
            return f"file {p} cannot be read ({exc.strerror})"
    return None


def _read_server(r: _Reader, raw: Any, path: str, *, allow_host: bool) -> ServerOptions:
    d = r.mapping(raw, path, _SERVER_KEYS if allow_host else tuple(k for k in _SERVER_KEYS if k != "host"))
    host = r.string(d, "host", path) if allow_host else None
    if host and not _HOST_RE.match(host):
        r.err(f"{path}.host", f"{host!r} is not a host name or address")
    password: PasswordSource | None = None
    env, pfile = r.string(d, "password_env", path), r.string(d, "password_file", path)
    if "password" in d:
        r.err(f"{path}.password", "passwords are never read from the configuration file; use password_env or "
              "password_file")
    if env and pfile:
        r.err(path, "set only one of password_env and password_file")
    elif env or pfile:
        if pfile:
            f = Path(os.path.expanduser(pfile))
            password = PasswordSource(file=f if f.is_absolute() else r.base / f)
        else:
            password = PasswordSource(env=env)
        problem = password.problem() if r.check_secrets else None
        if problem:
            r.err(f"{path}.{'password_env' if env else 'password_file'}", problem)
    module = r.string(d, "module_path", path)
    return ServerOptions(
        host=host, transport=r.choice(d, "transport", path, TRANSPORTS),
        port=r.number(d, "port", path, minimum=1, maximum=65535, integer=True),
        use_ssl=r.boolean(d, "use_ssl", path), auth=r.choice(d, "auth", path, AUTHS),
        username=r.string(d, "username", path), password=password,
        certificate_file=r.path_value(d, "certificate_file", path, pem=True),
        certificate_key_file=r.path_value(d, "certificate_key_file", path, pem=True),
        ca_file=r.path_value(d, "ca_file", path, pem=True), validate_tls=r.boolean(d, "validate_tls", path),
        allow_unencrypted=r.boolean(d, "allow_unencrypted", path),
        module_path=MODULE_SHORTCUTS.get(module.lower(), module) if module else None,
        configuration_name=r.string(d, "configuration_name", path), wsman_path=r.string(d, "wsman_path", path),
        connect_timeout=r.number(d, "connect_timeout", path), operation_timeout=r.number(d, "operation_timeout", path),
        retries=r.number(d, "retries", path, minimum=0, maximum=10, integer=True),
        retry_backoff=r.number(d, "retry_backoff", path, minimum=0))


def parse(raw: Any, *, base_dir: Path, check_secrets: bool) -> tuple[RemoteSettings, list[str]]:
    """Validate the YAML ``remote:`` section (None when absent); every problem with its key path."""
    r = _Reader(base_dir, check_secrets)
    top = r.mapping(raw, "remote", ("defaults", "servers", "groups", "max_parallel", "report_directory"))
    defaults = _read_server(r, top.get("defaults"), "remote.defaults", allow_host=False)
    servers: dict[str, ServerOptions] = {}
    raw_servers = top.get("servers")
    if raw_servers is not None and not isinstance(raw_servers, dict):
        r.err("remote.servers", "must be a mapping of server name to settings")
    for name, value in (raw_servers or {}).items() if isinstance(raw_servers, dict) else ():
        if not isinstance(name, str) or not _HOST_RE.match(name) or "," in name:
            r.err(f"remote.servers.{name}", "a server name must be a host-name-like word (letters, digits, . - _)")
            continue
        if name.lower() in (n.lower() for n in servers):
            r.err(f"remote.servers.{name}", "duplicate server name (names are case-insensitive)")
            continue
        servers[name] = _read_server(r, value if value is not None else {}, f"remote.servers.{name}",
                                     allow_host=True)
    groups: dict[str, tuple[str, ...]] = {}
    raw_groups = top.get("groups")
    if raw_groups is not None and not isinstance(raw_groups, dict):
        r.err("remote.groups", "must be a mapping of group name to a list of server names")
    for gname, members in (raw_groups or {}).items() if isinstance(raw_groups, dict) else ():
        gpath = f"remote.groups.{gname}"
        if not isinstance(gname, str) or not gname.strip():
            r.err(gpath, "a group name must be a non-empty string")
            continue
        if any(gname.lower() == s.lower() for s in servers):
            r.err(gpath, "a group cannot have the name of a server")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and m.strip() for m in members):
            r.err(gpath, "must be a non-empty list of server names")
            continue
        groups[gname] = tuple(m.strip() for m in members)
    for gname, members in groups.items():
        for i, m in enumerate(members):
            if m.lower() in (g.lower() for g in groups):
                r.err(f"remote.groups.{gname}[{i}]", "groups cannot contain groups")
    max_parallel = r.number(top, "max_parallel", "remote", minimum=1, maximum=256, integer=True)
    report_dir = r.string(top, "report_directory", "remote")
    report_path = None
    if report_dir:
        report_path = Path(os.path.expanduser(report_dir))
        report_path = report_path if report_path.is_absolute() else base_dir / report_path
    settings = RemoteSettings(defaults=defaults, servers=servers, groups=groups,
                              max_parallel=max_parallel or 8, report_directory=report_path)
    return settings, r.problems


def expand_names(remote: RemoteSettings, computer_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--computer-name a,b`` (repeatable) -> server names in order, groups expanded, duplicates dropped."""
    problems: list[str] = []
    out: list[str] = []
    groups = {g.lower(): members for g, members in remote.groups.items()}
    for item in computer_names:
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            for member in groups.get(name.lower(), (name,)):
                if not _HOST_RE.match(member):
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
        retry_backoff=o.retry_backoff), problems, warnings


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


__all__ = ["PasswordSource", "ServerOptions", "ServerSettings", "RemoteSettings", "parse", "resolve",
           "expand_names", "verify_argument", "MICROSOFT_MODULE_PATH", "PYBRIDGE_MODULE_NAME", "TRANSPORTS", "AUTHS"]
