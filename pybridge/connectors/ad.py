"""Active Directory over LDAP (ldap3): connect with TLS, read one object, ranged values.

Only this module talks LDAP. It never builds a filter from user input without
ldap3's escaping, and reads the object by a BASE search on its DN, so the DN is
never part of a filter at all.
"""
from __future__ import annotations

import logging
import re
import ssl
import uuid
from typing import Callable, Iterator, Sequence
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars

from ..config import ADConnector
from ..core import dn as dnlib
from ..core.model import Attributes, Value
from ..errors import SourceError
from ..sync.ports import DirectoryObject, Members

# Attributes AD stores as binary: kept as bytes, never decoded.
BINARY_ATTRIBUTES = {"objectguid", "objectsid", "ms-ds-consistencyguid", "thumbnailphoto", "usercertificate",
                     "jpegphoto", "sidhistory", "msexchmailboxguid", "ntsecuritydescriptor", "usersmimecertificate"}
INTEGER_ATTRIBUTES = {"useraccountcontrol", "grouptype", "samaccounttype", "msexchrecipienttypedetails",
                      "iscriticalsystemobject"}
BOOLEAN_ATTRIBUTES = {"iscriticalsystemobject"}
RANGED_ATTRIBUTES = ("member",)
_RANGE = re.compile(r"^(?P<name>[^;]+);range=(?P<lo>\d+)-(?P<hi>\d+|\*)$", re.IGNORECASE)
IN_CHAIN = "1.2.840.113556.1.4.1941"
MAX_FOUND = 10  # find(): enough to show that a value names several objects
PAGED_RESULTS = "1.2.840.113556.1.4.319"  # the simple paged results control (RFC 2696)
# objectClass filters per object type; computers are users too, so "user" excludes them
_TYPE_FILTERS = {"user": "(&(objectClass=user)(!(objectClass=computer)))",
                 "inetorgperson": "(objectClass=inetOrgPerson)", "group": "(objectClass=group)",
                 "contact": "(objectClass=contact)",
                 "computer": "(objectClass=computer)", "foreignsecurityprincipal": "(objectClass=foreignSecurityPrincipal)"}


def _types_filter(object_types: Sequence[str]) -> str:
    parts = [_TYPE_FILTERS[t.lower()] for t in object_types if t.lower() in _TYPE_FILTERS]
    return parts[0] if len(parts) == 1 else "(|" + "".join(parts) + ")"

log = logging.getLogger("pybridge.ad")
ConnectionFactory = Callable[[str, ADConnector, str], ldap3.Connection]


def _tls(connector: ADConnector) -> ldap3.Tls:
    if not connector.tls.validate:
        return ldap3.Tls(validate=ssl.CERT_NONE)
    kwargs: dict[str, object] = {"validate": ssl.CERT_REQUIRED, "version": ssl.PROTOCOL_TLS_CLIENT}
    if connector.tls.ca_file:
        kwargs["ca_certs_file"] = str(connector.tls.ca_file)
    if connector.tls.server_name:
        kwargs["valid_names"] = [connector.tls.server_name]
    return ldap3.Tls(**kwargs)


def default_connection(url: str, connector: ADConnector, password: str) -> ldap3.Connection:
    """Open, secure (LDAPS or StartTLS) and bind one connection; raises ldap3 exceptions."""
    parts = urlsplit(url)
    use_ssl = parts.scheme == "ldaps"
    server = ldap3.Server(parts.hostname, port=parts.port or (636 if use_ssl else 389), use_ssl=use_ssl,
                          tls=_tls(connector), get_info=ldap3.NONE, connect_timeout=connector.connect_timeout)
    conn = ldap3.Connection(server, user=connector.username, password=password, auto_bind=ldap3.AUTO_BIND_NONE,
                            read_only=True, raise_exceptions=False, receive_timeout=int(connector.connect_timeout * 3),
                            auto_range=False, return_empty_attributes=False)
    conn.open()
    if not use_ssl and not conn.start_tls():
        raise lx.LDAPStartTLSError(f"StartTLS refused: {conn.result.get('description')}")
    if not conn.bind():
        result = dict(conn.result or {})
        conn.unbind()
        if result.get("result") == 49:
            raise lx.LDAPInvalidCredentialsResult(result.get("message", ""))
        raise lx.LDAPBindError(f"{result.get('description')}: {result.get('message', '')}")
    return conn


def _decode(name: str, raw: list[bytes]) -> list[Value]:
    key = name.lower()
    if key in BINARY_ATTRIBUTES:
        return [bytes(v) for v in raw]
    out: list[Value] = []
    for v in raw:
        text = bytes(v).decode("utf-8", errors="replace")
        if key in BOOLEAN_ATTRIBUTES:
            out.append(text.upper() == "TRUE")
        elif key in INTEGER_ATTRIBUTES:
            try:
                out.append(int(text))
            except ValueError:
                out.append(text)
        else:
            out.append(text)
    return out


class ADSession:
    """The Directory port over ldap3: one bound connection to a connector's directory (operations counted)."""

    def __init__(self, connector: ADConnector, password: str, *,
                 connection_factory: ConnectionFactory = default_connection, range_size: int | None = None) -> None:
        self.connector = connector
        self._password = password
        self._factory = connection_factory
        self.range_size = range_size
        self.conn: ldap3.Connection | None = None
        self.server_url: str | None = None
        self.operations = 0
        self.reused = False  # kept bound from an earlier sync (engine.ConnectionPool)

    # -- connection -------------------------------------------------------------------------------
    def connect(self) -> str:
        """Try each server in order; returns the URL that answered (the open connection, when there is one)."""
        if self.conn is not None and self.server_url is not None:
            return self.server_url
        failures: list[str] = []
        code = "LdapServerUnavailable"
        for url in self.connector.servers:
            try:
                self.conn = self._factory(url, self.connector, self._password)
                self.server_url = url
                log.info("bound to %s as %s (connector %s)", url, self.connector.username, self.connector.name)
                return url
            except lx.LDAPInvalidCredentialsResult:
                raise SourceError(
                    f'Bind to {url} as connector account "{self.connector.username}" failed: invalid credentials.',
                    error_code="LdapAuthenticationFailed", server=url,
                    recommended_action=("Check the connector account's user name and password "
                                        f"({self.connector.password.source}); make sure the account is "
                                        "enabled, not locked out and its password has not expired.")) from None
            except lx.LDAPSASLPrepError:
                # ldap3 refuses to send a password holding control characters (RFC 4013): no bind can succeed
                raise SourceError(
                    f'The password of connector account "{self.connector.username}" holds control characters '
                    "that LDAP cannot send; no bind was tried.", error_code="LdapAuthenticationFailed", server=url,
                    recommended_action=(f"Check the password source ({self.connector.password.source}): it must "
                                        "hold the password alone (a trailing line end is dropped; tabs and other "
                                        "control characters are not).")) from None
            except (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSessionTerminatedByServerError,
                    lx.LDAPStartTLSError, lx.LDAPBindError, lx.LDAPCommunicationError, OSError) as exc:
                text = str(exc)
                if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or \
                        "hostname" in text.lower() and "match" in text.lower():
                    code = "LdapTlsValidationFailed"
                failures.append(f"{url}: {text.splitlines()[0] if text else type(exc).__name__}")
        if code == "LdapTlsValidationFailed":
            action = ("The domain controller's certificate could not be validated. Set "
                      "ad_connectors[].tls.ca_file to the CA that issued it, or tls.server_name to the name in the "
                      "certificate; turn validation off only for a test.")
        else:
            action = ("Check that the domain controllers listed in ad_connectors[].servers are running and reachable "
                      "on the LDAPS (636) or LDAP+StartTLS (389) port from this machine.")
        raise SourceError("No domain controller of connector "
                          f'"{self.connector.name}" could be reached: ' + "; ".join(failures),
                          error_code=code, recommended_action=action)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.unbind()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            self.conn = None

    def __enter__(self) -> "ADSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ------------------------------------------------------------------------------------
    def _search(self, base: str, filt: str, attributes: list[str], scope: str = ldap3.BASE,
                size_limit: int = 0) -> list[dict]:
        if self.conn is None:
            self.connect()
        assert self.conn is not None
        self.operations += 1
        for attempt in (1, 2):
            try:
                self.conn.search(base, filt, search_scope=scope, attributes=attributes,
                                 dereference_aliases=ldap3.DEREF_NEVER, size_limit=size_limit)
                break
            except (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSessionTerminatedByServerError,
                    lx.LDAPCommunicationError, OSError) as exc:
                if attempt == 1 and self.reused:
                    # a connection kept from an earlier sync may have been closed by the DC meanwhile
                    self.close()
                    self.connect()
                    assert self.conn is not None
                    continue
                raise SourceError(f'Connection to {self.server_url} was lost while reading "{base}": {exc}',
                                  error_code="LdapServerUnavailable",
                                  recommended_action="Check the domain controller and run the sync again.") \
                    from None
        result = self.conn.result or {}
        code = result.get("result", 0)
        if code == 32:  # noSuchObject: absent, or invisible to the connector account
            return []
        if code == 34:  # invalidDNSyntax: the DC refuses the DN's form (e.g. a multi-valued RDN it does not allow)
            raise SourceError(f'The domain controller refuses "{base}" as a distinguished name '
                              f'({result.get("message", "").strip() or "invalidDNSyntax"}).',
                              error_code="InvalidDistinguishedName",
                              recommended_action="Pass the object's distinguished name exactly as Active "
                                                 "Directory shows it.")
        if code not in (0, 4):  # 4: sizeLimitExceeded, the entries up to the limit came
            raise SourceError(f'Reading "{base}" failed: {result.get("description")} {result.get("message", "")}'.strip(),
                              error_code="LdapError", ldap_result=code,
                              recommended_action="Check the connector account's permissions on the object.")
        return [e for e in (self.conn.response or []) if e.get("type") == "searchResEntry"]

    @staticmethod
    def _requested(attributes: Sequence[str], range_size: int | None) -> list[str]:
        return [f"{a};range=0-{range_size - 1}" if a.lower() in RANGED_ATTRIBUTES and range_size else a
                for a in attributes]

    def read(self, dn: str, attributes: Sequence[str]) -> DirectoryObject | None:
        """Read *dn* with a BASE search; None when the connector account cannot see it."""
        entries = self._search(dn, "(objectClass=*)", self._requested(attributes, self.range_size))
        return self._object(entries[0], dn, attributes) if entries else None

    def _object(self, entry: dict, dn: str, attributes: Sequence[str]) -> DirectoryObject:
        """One search entry decoded; ranged attributes followed until the server has given every value."""
        attrs: Attributes = {}
        obj = DirectoryObject(dn=entry.get("dn") or dn, attributes=attrs)
        wanted = {a.lower(): a for a in attributes}
        for name, raw in (entry.get("raw_attributes") or {}).items():
            m = _RANGE.match(name)
            base = m.group("name") if m else name
            key = wanted.get(base.lower(), base)
            values = _decode(key, list(raw))
            if m:
                values += self._read_rest(obj.dn, key, m.group("hi"), obj)
            attrs[key] = values
        return obj

    def objects_under(self, base: str, object_types: Sequence[str], attributes: Sequence[str],
                      page_size: int = 500) -> Iterator[DirectoryObject]:
        """Every object of *object_types* under *base*: one paged subtree search (RFC 2696), a page at a time.

        A page is read completely before its objects are handed out, so whatever the caller reads in between
        (ranged members, nested membership) never interleaves with the page's answer.
        """
        cookie: bytes | None = None
        while True:
            entries, cookie = self._page(base, _types_filter(object_types),
                                         self._requested(attributes, self.range_size), page_size, cookie)
            for entry in entries:
                yield self._object(entry, entry.get("dn") or "", attributes)
            if not cookie:
                return

    def count_under(self, base: str, object_types: Sequence[str], page_size: int = 1000) -> int:
        """How many objects objects_under would give (no attributes read)."""
        count, cookie = 0, None
        while True:
            entries, cookie = self._page(base, _types_filter(object_types), ["1.1"], page_size, cookie)
            count += len(entries)
            if not cookie:
                return count

    def _page(self, base: str, filt: str, attributes: list[str], page_size: int,
              cookie: bytes | None) -> tuple[list[dict], bytes | None]:
        if self.conn is None:
            self.connect()
        assert self.conn is not None
        self.operations += 1
        try:
            self.conn.search(base, filt, search_scope=ldap3.SUBTREE, attributes=attributes, paged_size=page_size,
                             paged_cookie=cookie, dereference_aliases=ldap3.DEREF_NEVER)
        except (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSessionTerminatedByServerError,
                lx.LDAPCommunicationError, OSError) as exc:
            raise SourceError(f'Connection to {self.server_url} was lost while searching "{base}": {exc}',
                              error_code="LdapServerUnavailable",
                              recommended_action="Check the domain controller and run the scan again.") from None
        result = self.conn.result or {}
        code = result.get("result", 0)
        if code == 32:
            raise SourceError(f'The container "{base}" does not exist, or the connector account cannot see it.',
                              error_code="ObjectNotAccessible",
                              recommended_action="Check the search base and the connector account's permissions.")
        if code != 0:
            raise SourceError(f'Searching "{base}" failed: {result.get("description")} '
                              f'{result.get("message", "")}'.strip(), error_code="LdapError", ldap_result=code,
                              recommended_action="Check the container and the connector account's permissions.")
        control = (result.get("controls") or {}).get(PAGED_RESULTS, {})
        next_cookie = (control.get("value") or {}).get("cookie") or None
        return [e for e in (self.conn.response or []) if e.get("type") == "searchResEntry"], next_cookie

    def _read_rest(self, dn: str, name: str, hi: str, obj: DirectoryObject) -> list[Value]:
        """Follow attr;range=lo-hi windows until the server answers with an open range ('*')."""
        out: list[Value] = []
        while hi != "*":
            lo = int(hi) + 1
            window = f"{lo}-{lo + self.range_size - 1}" if self.range_size else f"{lo}-*"
            entries = self._search(dn, "(objectClass=*)", [f"{name};range={window}"])
            obj.ranged[name] = obj.ranged.get(name, 0) + 1
            hi = "*"
            for key, raw in ((entries[0].get("raw_attributes") or {}).items() if entries else []):
                m = _RANGE.match(key)
                if m and m.group("name").lower() == name.lower():
                    out += _decode(name, list(raw))
                    hi = m.group("hi")
        return out

    def read_members(self, dn: str) -> Members:
        """The group's member DNs, following attr;range windows until the server has given them all."""
        obj = self.read(dn, ["member"])
        if obj is None:
            return Members([])
        return Members(obj.attributes.get("member", []), obj.ranged.get("member", 0))

    def is_nested_member(self, dn: str, group_dn: str) -> bool:
        """Transitive membership through the in-chain matching rule (the group DN escaped by ldap3)."""
        filt = f"(memberOf:{IN_CHAIN}:={escape_filter_chars(group_dn)})"
        return bool(self._search(dn, filt, ["1.1"]))

    # -- finding an object by another identity than its DN ------------------------------------------
    def find(self, kind: str, value: str) -> list[DirectoryObject]:
        """Objects of the connector's partitions that *value* names as their *kind* (see ports.Directory.find).

        The filter is built with ldap3's escape_filter_chars (an objectGUID as its escaped bytes), so no
        value can change the search; each partition is searched as a subtree.
        """
        bases = list(self.connector.partitions)
        if kind == "objectGUID":
            raw = uuid.UUID(value.strip().strip("{}")).bytes_le  # AD stores a GUID little-endian
            filt = "(objectGUID=" + "".join(f"\\{b:02x}" for b in raw) + ")"
        elif kind == "userPrincipalName":
            filt = f"(userPrincipalName={escape_filter_chars(value)})"
        elif kind == "sAMAccountName":
            domain, _, name = value.partition("\\")
            bases = [p for p in bases if self._names_domain(p, domain)]
            filt = f"(sAMAccountName={escape_filter_chars(name)})"
        else:
            raise ValueError(f"cannot find objects by {kind}")
        found: list[DirectoryObject] = []
        for base in bases:
            for entry in self._search(base, filt, ["objectGUID"], scope=ldap3.SUBTREE, size_limit=MAX_FOUND):
                raw_attrs = entry.get("raw_attributes") or {}
                guid = next((list(v) for k, v in raw_attrs.items() if k.lower() == "objectguid"), [])
                found.append(DirectoryObject(dn=entry.get("dn") or "", attributes={"objectGUID": _decode(
                    "objectGUID", guid)}))
        return found[:MAX_FOUND]

    def _names_domain(self, partition: str, domain: str) -> bool:
        """Whether DOMAIN of DOMAIN\\name names *partition*'s domain: its NetBIOS name (read from the
        forest's crossRef), its DNS name, or the DNS name's first label; all case-insensitive."""
        fqdn = dnlib.domain_fqdn(partition).lower()
        wanted = domain.strip().lower()
        if wanted in (fqdn, fqdn.split(".")[0]):
            return True
        return wanted == (self._netbios_name(partition) or "").lower()

    def _netbios_name(self, partition: str) -> str | None:
        root = ",".join(f"DC={dnlib.escape_value(label)}" for label in dnlib.domain_fqdn(partition).split(".")
                        if label)
        if not root:
            return None
        try:
            dse = self._search("", "(objectClass=*)", ["configurationNamingContext"])
            config_nc = _first_text(dse, "configurationNamingContext")
            if not config_nc:
                return None
            refs = self._search(f"CN=Partitions,{config_nc}",
                                f"(&(objectClass=crossRef)(nCName={escape_filter_chars(root)}))", ["nETBIOSName"],
                                scope=ldap3.LEVEL)
        except SourceError:
            return None  # the connector account may not read the configuration: DNS names still work
        return _first_text(refs, "nETBIOSName")


def _first_text(entries: list[dict], name: str) -> str | None:
    for entry in entries:
        for key, raw in (entry.get("raw_attributes") or {}).items():
            if key.lower() == name.lower() and raw:
                return bytes(raw[0]).decode("utf-8", errors="replace")
    return None
