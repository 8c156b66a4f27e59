"""YAML configuration -> typed, validated settings.

This is the only module that reads environment variables and files for settings,
the ``remote:`` section included: pybridge.remote receives the typed
:class:`~pybridge.remote.settings.RemoteSettings` and never reads the YAML itself.
Everything is validated when loaded and every problem is reported at once, each
with its key path (``ad_connectors[0].servers[1]: ...``). Secrets are never taken
from the YAML itself or from argv: only from an environment variable or a file,
and they are wrapped in :class:`~pybridge.secret.Secret`, whose repr never shows the value.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import urlsplit

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn
from msgspec import Struct, field

from . import platform
from .errors import ConfigError
from .secret import Secret
from .settings_reader import MAX_CONFIG_BYTES, Reader, read_text

if TYPE_CHECKING:  # the remote: section's module is loaded only for a configuration that has one
    from .remote.settings import RemoteSettings, ServerOptions

DEFAULT_OBJECT_TYPES = ("user", "inetOrgPerson", "group", "contact")
KNOWN_OBJECT_TYPES = ("user", "inetOrgPerson", "group", "contact", "foreignSecurityPrincipal", "computer")
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
PUBLIC_GRAPH = "https://graph.microsoft.com"
#: Bytes of a PEM file (a CA bundle, a certificate and its key); the system's CA bundle is about 200 KB.
MAX_PEM_BYTES = 4 * 1024 * 1024


class TlsSettings(Struct, frozen=True):
    """How an AD connector secures LDAP: validate the DC's certificate (against ca_file), and the name to expect."""

    validate: bool = True
    ca_file: Path | None = None
    server_name: str | None = None


class GroupFiltering(Struct, frozen=True):
    """Entra Connect's group-based filtering: only members (direct, or nested too) of one group sync."""

    group: str | None = None
    nested: bool = False


class ADConnector(Struct, frozen=True):
    """One Active Directory connector: its DCs, account, selected partitions, containers and object types."""

    name: str
    servers: tuple[str, ...]
    tls: TlsSettings
    connect_timeout: float
    username: str
    password: Secret
    partitions: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    object_types: tuple[str, ...]
    group_filtering: GroupFiltering


class CertificateCredential(Struct, frozen=True):
    """The app's certificate credential: a PEM holding the certificate and its private key."""

    file: Path
    key_password: Secret | None = None


class EntraConnector(Struct, frozen=True):
    """The Entra ID connector: tenant, app registration, credential and the Graph and authority hosts."""

    name: str
    tenant_id: str
    client_id: str
    client_secret: Secret | None
    certificate: CertificateCredential | None
    authority_host: str
    graph_endpoint: str
    ca_file: Path | None
    verify_tls: bool
    timeout: float
    retry_max_wait: float = 60.0
    retry_max_attempts: int = 6
    # an app-owned directory extension property (extension_<appId without dashes>_<name>) on groups that holds
    # their source anchor: groups are then hard-matched on it, like users on onPremisesImmutableId
    group_anchor_property: str | None = None


class SyncSettings(Struct, frozen=True):
    """Settings of the sync itself: the source anchor attribute, soft match, staging mode."""

    source_anchor: str = "mS-DS-ConsistencyGuid"
    soft_match: bool = True
    staging_mode: bool = False
    block_cloud_object_takeover_through_hard_match: bool = False


class Config(Struct, frozen=True):
    """The validated configuration: what every run reads, with secrets already resolved."""

    path: Path | None
    ad_connectors: tuple[ADConnector, ...]
    entra: EntraConnector
    sync: SyncSettings
    state_path: Path
    report_dir: Path
    warnings: tuple[str, ...] = field(default=())
    rule_files: tuple[Path, ...] = field(default=())
    include_default_rules: bool = True
    remote: RemoteSettings | None = None  # the remote: section; None without one (load_remote reads it alone)

    def secrets(self) -> list[Secret]:
        out: list[Secret] = [c.password for c in self.ad_connectors]
        if self.entra.client_secret:
            out.append(self.entra.client_secret)
        if self.entra.certificate and self.entra.certificate.key_password:
            out.append(self.entra.certificate.key_password)
        return out


class _Reader(Reader):
    """The configuration's reader: typed values, files, secrets, DNs and URLs."""

    def boolean(self, d: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = d.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(f"{path}.{key}", f"must be true or false, got {value!r}")
            return default
        return value

    def number(self, d: dict[str, Any], key: str, path: str, default: float) -> float:
        value = d.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            self.err(f"{path}.{key}", f"must be a positive number, got {value!r}")
            return default
        return float(value)

    def str_list(self, d: dict[str, Any], key: str, path: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = d.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.err(f"{path}.{key}", "must be a list of strings")
            return default
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.err(f"{path}.{key}[{i}]", "must be a non-empty string")
            else:
                out.append(item.strip())
        return tuple(out)

    def file(self, d: dict[str, Any], key: str, path: str) -> Path | None:
        value = self.string(d, key, path)
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        if not p.is_absolute():
            p = self.base / p
        if not p.is_file():
            self.err(f"{path}.{key}", f"file {p} does not exist")
        return p

    def pem_file(self, d: dict[str, Any], key: str, path: str, *, private: bool = False) -> Path | None:
        """A PEM file holding a certificate; with *private* (it holds a private key too) owner-only."""
        p = self.file(d, key, path)
        if p is not None and p.is_file():
            try:
                data = platform.read_regular_file(p, MAX_PEM_BYTES, what="file")
            except platform.UnsafeFileError as exc:
                self.err(f"{path}.{key}", f"{exc}: {exc.fix}")
                return p
            except OSError as exc:
                self.err(f"{path}.{key}", f"file {p} cannot be read ({exc.strerror})")
                return p
            problem = None
            if private:
                from .remote.settings import key_file_problem  # loaded only for a private key file
                problem = key_file_problem(p, data)
            if problem:
                self.err(f"{path}.{key}", problem)
                return p
            if b"-----BEGIN CERTIFICATE-----" not in data:
                self.err(f"{path}.{key}", f"file {p} holds no PEM certificate")
        return p

    def secret(self, d: dict[str, Any], prefix: str, path: str, label: str, required: bool,
               check: bool) -> Secret | None:
        env = self.string(d, f"{prefix}_env", path)
        raw_file = self.string(d, f"{prefix}_file", path)
        if prefix in d:
            self.err(f"{path}.{prefix}", "secrets are never read from the configuration file; "
                     f"use {prefix}_env or {prefix}_file")
        if env and raw_file:
            self.err(path, f"set only one of {prefix}_env and {prefix}_file")
            return None
        if not env and not raw_file:
            if required:
                self.err(path, f"{prefix}_env or {prefix}_file is required")
            return None
        if raw_file:
            f = Path(os.path.expanduser(raw_file))
            sec = Secret(file=f if f.is_absolute() else self.base / f, label=label)
        else:
            sec = Secret(env=env, label=label)
        if check:
            problem = sec.problem()
            if problem:
                key = f"{prefix}_env" if env else f"{prefix}_file"
                self.err(f"{path}.{key}", f"{label}: {problem}")
        return sec

    def dn(self, value: str, path: str) -> str | None:
        try:
            parse_dn(value)
        except (LDAPInvalidDnError, ValueError, IndexError, TypeError):
            self.err(path, f"{value!r} is not a valid distinguished name")
            return None
        return value

    def url(self, value: str | None, path: str, schemes: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            self.err(path, f"{value!r} is not a valid URL")
            return None
        if any(ord(ch) < 33 or ch == "\x7f" for ch in value):
            self.err(path, f"{value!r} contains spaces or control characters")
            return None
        if parts.username or parts.password:
            self.err(path, "a URL must not carry a user name or password (secrets never live in the file)")
            return None
        if parts.scheme not in schemes or not parts.hostname:
            self.err(path, f"{value!r} must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
            return None
        del port
        return value.rstrip("/")


def _is_under(dn: str, container: str) -> bool:
    from .core.dn import is_descendant
    return is_descendant(dn, container)


def _read_ad(r: _Reader, raw: Any, i: int, check_secrets: bool) -> ADConnector | None:
    path = f"ad_connectors[{i}]"
    d = r.mapping(raw, path, {"name", "servers", "tls", "connect_timeout", "account", "partitions",
                              "containers", "object_types", "group_filtering"})
    name = r.string(d, "name", path, required=True) or f"connector{i}"
    servers = []
    for j, s in enumerate(r.str_list(d, "servers", path)):
        u = r.url(s, f"{path}.servers[{j}]", ("ldaps", "ldap"))
        if u:
            servers.append(u)
    if "servers" not in d:
        r.err(f"{path}.servers", "is required (at least one ldaps:// or ldap:// URL)")
    elif not d.get("servers"):
        r.err(f"{path}.servers", "must list at least one server")
    t = r.mapping(d.get("tls"), f"{path}.tls", {"validate", "ca_file", "server_name"})
    tls = TlsSettings(validate=r.boolean(t, "validate", f"{path}.tls", True),
                      ca_file=r.pem_file(t, "ca_file", f"{path}.tls"),
                      server_name=r.string(t, "server_name", f"{path}.tls"))
    a = r.mapping(d.get("account"), f"{path}.account", {"username", "password_env", "password_file", "password"})
    if "account" not in d:
        r.err(f"{path}.account", "is required (username and password_env or password_file)")
    username = r.string(a, "username", f"{path}.account", required="account" in d) or ""
    password = r.secret(a, "password", f"{path}.account", f"password of {username or 'the connector account'}",
                        required="account" in d, check=check_secrets)
    partitions = tuple(p for k, p in enumerate(r.str_list(d, "partitions", path))
                       if r.dn(p, f"{path}.partitions[{k}]"))
    if not d.get("partitions"):
        r.err(f"{path}.partitions", "is required (the naming contexts selected for sync)")
    c = r.mapping(d.get("containers"), f"{path}.containers", {"include", "exclude"})
    include = tuple(x for k, x in enumerate(r.str_list(c, "include", f"{path}.containers", partitions))
                    if r.dn(x, f"{path}.containers.include[{k}]"))
    exclude = tuple(x for k, x in enumerate(r.str_list(c, "exclude", f"{path}.containers"))
                    if r.dn(x, f"{path}.containers.exclude[{k}]"))
    for label, items in (("include", include), ("exclude", exclude)):
        for k, x in enumerate(items):
            if partitions and not any(_is_under(x, p) for p in partitions):
                r.err(f"{path}.containers.{label}[{k}]", f"{x!r} is not inside any selected partition")
    types = r.str_list(d, "object_types", path, DEFAULT_OBJECT_TYPES)
    lowered = {t.lower(): t for t in KNOWN_OBJECT_TYPES}
    object_types = []
    for k, t_ in enumerate(types):
        if t_.lower() not in lowered:
            r.err(f"{path}.object_types[{k}]", f"unknown object type {t_!r} (known: {', '.join(KNOWN_OBJECT_TYPES)})")
        else:
            object_types.append(lowered[t_.lower()])
    g = r.mapping(d.get("group_filtering"), f"{path}.group_filtering", {"group", "nested"})
    group = r.string(g, "group", f"{path}.group_filtering")
    if group:
        group = r.dn(group, f"{path}.group_filtering.group")
    gf = GroupFiltering(group=group, nested=r.boolean(g, "nested", f"{path}.group_filtering", False))
    return ADConnector(name=name, servers=tuple(servers), tls=tls,
                       connect_timeout=r.number(d, "connect_timeout", path, 10.0),
                       username=username, password=password or Secret(env="", label="missing"),
                       partitions=partitions, include=include, exclude=exclude,
                       object_types=tuple(object_types), group_filtering=gf)


def _read_entra(r: _Reader, raw: Any, check_secrets: bool) -> EntraConnector:
    path = "entra"
    d = r.mapping(raw, path, {"name", "tenant_id", "client_id", "client_secret_env", "client_secret_file",
                              "client_secret", "certificate", "authority_host", "graph_endpoint", "ca_file",
                              "verify_tls", "timeout", "retry", "group_anchor_property"})
    if raw is None:
        r.err(path, "is required (tenant_id, client_id and a credential)")
    tenant = r.string(d, "tenant_id", path, required=raw is not None) or ""
    client = r.string(d, "client_id", path, required=raw is not None) or ""
    cert_raw = d.get("certificate")
    cert: CertificateCredential | None = None
    c = r.mapping(cert_raw, f"{path}.certificate", {"file", "key_password_env", "key_password_file",
                                                     "key_password"})
    if isinstance(cert_raw, dict) and cert_raw.get("file"):
        f = r.pem_file(c, "file", f"{path}.certificate", private=True)
        kp = r.secret(c, "key_password", f"{path}.certificate", "certificate key password", required=False,
                      check=check_secrets)
        if f:
            cert = CertificateCredential(file=f, key_password=kp)
    secret = r.secret(d, "client_secret", path, "client secret", required=False, check=check_secrets)
    if raw is not None and secret is None and cert is None:
        r.err(path, "a credential is required: client_secret_env, client_secret_file or certificate.file")
    if secret is not None and cert is not None:
        r.err(path, "set either a client secret or a certificate, not both")
    authority = r.url(r.string(d, "authority_host", path, PUBLIC_AUTHORITY), f"{path}.authority_host", ("https",))
    graph = r.url(r.string(d, "graph_endpoint", path, PUBLIC_GRAPH), f"{path}.graph_endpoint", ("https",))
    anchor_property = r.string(d, "group_anchor_property", path)
    if anchor_property and not re.fullmatch(r"extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]{1,100}", anchor_property):
        r.err(f"{path}.group_anchor_property", f"{anchor_property!r} is not a directory extension property name "
              "(extension_<the app's client id without dashes>_<name>)")
        anchor_property = None
    return EntraConnector(name=r.string(d, "name", path, f"{tenant or 'tenant'} - AAD") or "AAD",
                          tenant_id=tenant, client_id=client, client_secret=secret, certificate=cert,
                          authority_host=authority or PUBLIC_AUTHORITY, graph_endpoint=graph or PUBLIC_GRAPH,
                          ca_file=r.pem_file(d, "ca_file", path),
                          verify_tls=r.boolean(d, "verify_tls", path, True),
                          timeout=r.number(d, "timeout", path, 30.0),
                          retry_max_wait=r.number(rt := r.mapping(d.get("retry"), f"{path}.retry",
                                                                  {"max_wait", "max_attempts"}),
                                                  "max_wait", f"{path}.retry", 60.0),
                          retry_max_attempts=int(r.number(rt, "max_attempts", f"{path}.retry", 6)),
                          group_anchor_property=anchor_property)


# -- the remote: section (sync servers reached with `pybridge sync --computer-name`) ----------------------

REMOTE_SERVER_KEYS = ("host", "transport", "port", "use_ssl", "auth", "username", "password_env", "password_file",
                      "certificate_file", "certificate_key_file", "ca_file", "validate_tls", "allow_unencrypted",
                      "module_path", "configuration_name", "wsman_path", "connect_timeout", "operation_timeout",
                      "retries", "retry_backoff", "ssh_key_file", "known_hosts_file")


class _RemoteReader(Reader):
    """The remote: section's reader: every value optional (None: "not set in this layer")."""

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

    def path_value(self, d: dict[str, Any], key: str, path: str, *, pem: bool = False,
                   private: bool = False) -> Path | None:
        from .remote import settings as remote_settings
        value = self.string(d, key, path)
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        if not p.is_absolute():
            p = self.base / p
        problem = remote_settings.file_problem(p, pem=pem, private=private)
        if problem:
            self.err(f"{path}.{key}", problem)
        return p


def _read_remote_server(r: _RemoteReader, raw: Any, path: str, *, allow_host: bool) -> ServerOptions:
    from .remote import settings as remote_settings
    from .remote.settings import ServerOptions
    d = r.mapping(raw, path, REMOTE_SERVER_KEYS if allow_host else tuple(k for k in REMOTE_SERVER_KEYS
                                                                           if k != "host"))
    host = r.string(d, "host", path) if allow_host else None
    if host and not remote_settings.is_host_name(host):
        r.err(f"{path}.host", f"{host!r} is not a host name or address")
    password: Secret | None = None
    env, pfile = r.string(d, "password_env", path), r.string(d, "password_file", path)
    if "password" in d:
        r.err(f"{path}.password", "passwords are never read from the configuration file; use password_env or "
              "password_file")
    if env and pfile:
        r.err(path, "set only one of password_env and password_file")
    elif env or pfile:
        if pfile:
            f = Path(os.path.expanduser(pfile))
            password = Secret(file=f if f.is_absolute() else r.base / f)
        else:
            password = Secret(env=env)
        problem = password.problem() if r.check_secrets else None
        if problem:
            r.err(f"{path}.{'password_env' if env else 'password_file'}", problem)
    module = r.string(d, "module_path", path)
    return ServerOptions(
        host=host, transport=r.choice(d, "transport", path, remote_settings.TRANSPORTS),
        port=r.number(d, "port", path, minimum=1, maximum=65535, integer=True),
        use_ssl=r.boolean(d, "use_ssl", path), auth=r.choice(d, "auth", path, remote_settings.AUTHS),
        username=r.string(d, "username", path), password=password,
        certificate_file=r.path_value(d, "certificate_file", path, pem=True),
        certificate_key_file=r.path_value(d, "certificate_key_file", path, pem=True, private=True),
        ca_file=r.path_value(d, "ca_file", path, pem=True), validate_tls=r.boolean(d, "validate_tls", path),
        allow_unencrypted=r.boolean(d, "allow_unencrypted", path),
        module_path=remote_settings.MODULE_SHORTCUTS.get(module.lower(), module) if module else None,
        configuration_name=r.string(d, "configuration_name", path), wsman_path=r.string(d, "wsman_path", path),
        connect_timeout=r.number(d, "connect_timeout", path), operation_timeout=r.number(d, "operation_timeout", path),
        retries=r.number(d, "retries", path, minimum=0, maximum=10, integer=True),
        retry_backoff=r.number(d, "retry_backoff", path, minimum=0),
        ssh_key_file=r.path_value(d, "ssh_key_file", path), known_hosts_file=r.path_value(d, "known_hosts_file", path))


def parse_remote(raw: Any, *, base_dir: Path, check_secrets: bool) -> tuple[RemoteSettings, list[str]]:
    """Validate the YAML ``remote:`` section (None when absent); every problem with its key path."""
    from .remote import settings as remote_settings
    from .remote.settings import RemoteSettings
    r = _RemoteReader(base_dir, check_secrets)
    top = r.mapping(raw, "remote", ("defaults", "servers", "groups", "max_parallel", "report_directory"))
    defaults = _read_remote_server(r, top.get("defaults"), "remote.defaults", allow_host=False)
    servers: dict[str, ServerOptions] = {}
    raw_servers = top.get("servers")
    if raw_servers is not None and not isinstance(raw_servers, dict):
        r.err("remote.servers", "must be a mapping of server name to settings")
    for name, value in (raw_servers or {}).items() if isinstance(raw_servers, dict) else ():
        if not isinstance(name, str) or not remote_settings.is_server_name(name):
            r.err(f"remote.servers.{name}", "a server name must be a host-name-like word (letters, digits, . - _)")
            continue
        if name.lower() in (n.lower() for n in servers):
            r.err(f"remote.servers.{name}", "duplicate server name (names are case-insensitive)")
            continue
        servers[name] = _read_remote_server(r, value if value is not None else {}, f"remote.servers.{name}",
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


def parse(data: Any, *, path: Path | None = None, check_secrets: bool = True) -> Config:
    """Validate an already-parsed YAML document."""
    base = path.parent if path else Path.cwd()
    r = _Reader(base)
    top = r.mapping(data, "", {"version", "ad_connectors", "entra", "sync", "state", "report", "rules", "remote"})
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path or 'configuration'}: the document must be a mapping",
                          problems=["(top): must be a mapping"])
    version = top.get("version", 1)
    if version != 1:
        r.err("version", f"unsupported version {version!r} (this pybridge reads version 1)")
    ads_raw = top.get("ad_connectors")
    connectors: list[ADConnector] = []
    if not isinstance(ads_raw, list) or not ads_raw:
        r.err("ad_connectors", "is required: a list with at least one Active Directory connector")
    else:
        for i, item in enumerate(ads_raw):
            c = _read_ad(r, item, i, check_secrets)
            if c:
                connectors.append(c)
        names = [c.name.lower() for c in connectors]
        for i, n in enumerate(names):
            if names.index(n) != i:
                r.err(f"ad_connectors[{i}].name", f"duplicate connector name {connectors[i].name!r}")
    entra = _read_entra(r, top.get("entra"), check_secrets)
    s = r.mapping(top.get("sync"), "sync", {"source_anchor", "soft_match", "staging_mode",
                                            "block_cloud_object_takeover_through_hard_match"})
    sync = SyncSettings(source_anchor=r.string(s, "source_anchor", "sync", "mS-DS-ConsistencyGuid") or
                        "mS-DS-ConsistencyGuid",
                        soft_match=r.boolean(s, "soft_match", "sync", True),
                        staging_mode=r.boolean(s, "staging_mode", "sync", False),
                        block_cloud_object_takeover_through_hard_match=r.boolean(
                            s, "block_cloud_object_takeover_through_hard_match", "sync", False))
    st = r.mapping(top.get("state"), "state", {"path"})
    rp = r.mapping(top.get("report"), "report", {"directory"})

    def _local(value: str | None, default: Path, key: str = "") -> Path:
        if value is None:
            return default
        if "\x00" in value:
            r.err(key or "(path)", "a path cannot hold a NUL character")
            return default
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else base / p

    ru = r.mapping(top.get("rules"), "rules", {"files", "include_defaults"})
    rule_files = []
    for k, f in enumerate(r.str_list(ru, "files", "rules")):
        p = _local(f, base, f"rules.files[{k}]")
        if not p.exists():
            r.err(f"rules.files[{k}]", f"{p} does not exist (a YAML file or a directory of them)")
        rule_files.append(p)
    include_default_rules = r.boolean(ru, "include_defaults", "rules", True)
    state_value, report_value = r.string(st, "path", "state"), r.string(rp, "directory", "report")
    # the platform's defaults only when needed: finding them costs an import (platformdirs)
    state_path = _local(state_value, platform.state_path() if state_value is None else base, "state.path")
    report_dir = _local(report_value, platform.report_dir() if report_value is None else base, "report.directory")
    remote = None
    if top.get("remote") is not None:
        remote, remote_problems = parse_remote(top["remote"], base_dir=base, check_secrets=check_secrets)
        r.problems.extend(remote_problems)
    if r.problems:
        where = str(path) if path else "configuration"
        raise ConfigError(f"{where} has {len(r.problems)} problem(s):\n  " + "\n  ".join(r.problems),
                          problems=r.problems)
    warnings = []
    for c in connectors:
        if not c.tls.validate:
            warnings.append(f"TLS certificate validation is OFF for AD connector {c.name!r} "
                            "(ad_connectors[].tls.validate: false); the DC's identity is not checked")
    if not entra.verify_tls:
        warnings.append("TLS certificate validation is OFF for Microsoft Graph (entra.verify_tls: false)")
    return Config(path=path, ad_connectors=tuple(connectors), entra=entra, sync=sync,
                  state_path=state_path, report_dir=report_dir, warnings=tuple(warnings),
                  rule_files=tuple(rule_files), include_default_rules=include_default_rules, remote=remote)


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, else $PYBRIDGE_CONFIG, else the platform's default location."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("PYBRIDGE_CONFIG")
    if env:
        return Path(env)
    return platform.config_path()


def configured(explicit: str | os.PathLike[str] | None = None) -> bool:
    """Whether a configuration is asked for or present: --config, $PYBRIDGE_CONFIG, or a file in the default
    place. Commands that can do without one (`rules list`, `rules show`) use the built-in defaults if not."""
    return bool(explicit) or bool(os.environ.get("PYBRIDGE_CONFIG")) or platform.config_path().exists()


def example_text() -> str:
    """The documented example configuration shipped in the package (`pybridge config example` prints it)."""
    from importlib.resources import files
    return (files("pybridge") / "data" / "pybridge.example.yaml").read_text(encoding="utf-8")


def _read_text(path: Path, explicit: str | os.PathLike[str] | None = None) -> str:
    """The configuration file's text (bounded: pybridge.settings_reader); *explicit* is what the command line
    gave (a missing file then says where its name came from)."""
    try:
        return read_text(path, MAX_CONFIG_BYTES, what="configuration file")
    except FileNotFoundError:
        origin = " (from $PYBRIDGE_CONFIG)" if not explicit and os.environ.get("PYBRIDGE_CONFIG") else ""
        raise ConfigError(f"configuration file {path}{origin} not found (give --config PATH or set "
                          "PYBRIDGE_CONFIG; `pybridge config example` prints a documented example to start from)",
                          problems=[f"{path}: not found"]) from None
    except platform.UnsafeFileError as exc:
        raise ConfigError(f"{exc}: {exc.fix}", problems=[str(exc)]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"configuration file {path} cannot be read: {reason}", problems=[reason]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not UTF-8 text (byte {exc.start + 1})",
                          problems=[f"(file): not UTF-8 at byte {exc.start + 1}"]) from None


def _parse_yaml(path: Path, text: str) -> Any:
    """*text*'s document, read by the one bounded YAML reader (pybridge.yamlcheck, imported only here)."""
    import yaml

    from . import yamlcheck
    try:
        return yamlcheck.parse(text)  # libyaml's safe loader where installed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        what = "refused" if isinstance(exc, yamlcheck.YamlLimitError) else "not valid YAML"
        raise ConfigError(f"{path}: {what}{where}: {problem}", problems=[f"(yaml){where}: {problem}"]) from None


def _read_yaml(path: Path, explicit: str | os.PathLike[str] | None = None) -> Any:
    return _parse_yaml(path, _read_text(path, explicit))


def _plain(value: Any) -> bool:
    """Whether *value* is what JSON gives back exactly: mappings with string keys, lists, strings, booleans,
    integers, finite numbers and nulls (a document with a date, a set or a number as a key is not kept)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _kept_parse(path: Path, text: str, *, writable: bool) -> tuple[Any, Callable[[Any], None]]:
    """The document kept for exactly *text* in the user's cache (pybridge.cache.user_files), or None; and
    the function that keeps a document (a no-op unless *writable*). One entry per configuration file,
    keyed by its text and the pybridge version: any change to the file is a miss."""
    import hashlib
    import json

    from .cache import digest, user_files
    files = user_files(writable=writable)
    kind = "config-" + hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    key = digest("config", text)

    def keep(document: Any) -> None:
        if writable and isinstance(document, dict) and _plain(document):
            files.save(kind, key, json.dumps(document, ensure_ascii=False).encode("utf-8"))

    payload = files.load(kind, key)
    if payload is None:
        return None, keep
    try:
        document = json.loads(payload)
    except ValueError:
        return None, keep
    return (document if isinstance(document, dict) and _plain(document) else None), keep


def load(explicit: str | os.PathLike[str] | None = None, *, check_secrets: bool = True,
         keep_parse: bool = True) -> Config:
    """The configuration file (--config *explicit*, else $PYBRIDGE_CONFIG, else the default place), validated.

    Its YAML parse is kept in the user's cache, keyed by the file's exact text, so that a run whose file has
    not changed neither loads nor runs the YAML parser (a sync process pays for both on every object); every
    check below still runs on every load. The entry is written for a file that validated, unless
    *keep_parse* is False (`sync --what-if`, which writes nothing anywhere); it is always read."""
    path = resolve_path(explicit)
    text = _read_text(path, explicit)
    document, keep = _kept_parse(path.resolve(), text, writable=keep_parse)
    fresh = document is None
    if fresh:
        document = _parse_yaml(path, text)
    config = parse(document, path=path.resolve(), check_secrets=check_secrets)
    if fresh:
        keep(document)
    return config


def load_remote(explicit: str | os.PathLike[str] | None = None) -> tuple[RemoteSettings, Path | None]:
    """For `pybridge sync --computer-name`: only the remote: and report: sections matter.

    A workstation needs no AD or Entra settings; without any configuration file the
    options on the command line are enough.
    """
    from .remote.settings import RemoteSettings
    path = resolve_path(explicit)
    if not path.exists() and explicit is None:
        return RemoteSettings(), None
    data = _read_yaml(path, explicit)
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the document must be a mapping", problems=["(top): must be a mapping"])
    data = data or {}
    base = path.resolve().parent
    remote, problems = parse_remote(data.get("remote"), base_dir=base, check_secrets=True)
    report = data.get("report")
    directory = report.get("directory") if isinstance(report, dict) else None
    if problems:
        raise ConfigError(f"{path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems), problems=problems)
    report_dir = None
    if isinstance(directory, str) and directory.strip():
        p = Path(os.path.expanduser(directory))
        report_dir = p if p.is_absolute() else base / p
    return remote, report_dir
