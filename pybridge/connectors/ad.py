"""Active Directory over LDAP (ldap3): connect with TLS, read one object, ranged values.

Only this module talks LDAP. It never builds a filter from user input without
ldap3's escaping, and reads the object by a BASE search on its DN, so the DN is
never part of a filter at all.
"""
from __future__ import annotations

import re
import ssl
from typing import Callable, Sequence
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars

from ..config import ADConnector
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

ConnectionFactory = Callable[[str, ADConnector, str], ldap3.Connection]


def _tls(connector: ADConnector) -> ldap3.Tls:
    if not connector.tls.validate:
        return ldap3.Tls(validate=ssl.CERT_NONE)
    kwargs: dict[str, object] = {"validate": ssl.CERT_REQUIRED, "version": ssl.PROTOCOL_TLS_CLIENT}
    if connector.tls.ca_file:
        kwargs["ca_certs_file"] = str(connector.tls.ca_file)
    if connector.tls.server_name:
        kwargs["valid_names"] = [connector.tls.server_name]
    return ldap3.Tls(**kwargs)  # type: ignore[arg-type]


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
    def _search(self, base: str, filt: str, attributes: list[str], scope: str = ldap3.BASE) -> list[dict]:
        if self.conn is None:
            self.connect()
        assert self.conn is not None
        self.operations += 1
        for attempt in (1, 2):
            try:
                self.conn.search(base, filt, search_scope=scope, attributes=attributes,
                                 dereference_aliases=ldap3.DEREF_NEVER)
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
        if code not in (0,):
            raise SourceError(f'Reading "{base}" failed: {result.get("description")} {result.get("message", "")}'.strip(),
                              error_code="LdapError", ldap_result=code,
                              recommended_action="Check the connector account's permissions on the object.")
        return [e for e in (self.conn.response or []) if e.get("type") == "searchResEntry"]

    def read(self, dn: str, attributes: Sequence[str]) -> DirectoryObject | None:
        """Read *dn* with a BASE search; None when the connector account cannot see it."""
        requested = []
        for a in attributes:
            if a.lower() in RANGED_ATTRIBUTES and self.range_size:
                requested.append(f"{a};range=0-{self.range_size - 1}")
            else:
                requested.append(a)
        entries = self._search(dn, "(objectClass=*)", requested)
        if not entries:
            return None
        entry = entries[0]
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
