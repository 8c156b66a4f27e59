"""Distinguished names: parsing (ldap3's RFC 4514 parser), canonical form, containment.

ldap3 validates and splits a DN but keeps each value escaped. Comparisons need the
value itself, so :func:`unescape_value` decodes RFC 4514 escapes (``\\,`` and hex
pairs forming UTF-8). Values are re-escaped with ldap3's :func:`escape_rdn` when a
DN is rebuilt, and filters are built with ldap3's ``escape_filter_chars`` elsewhere.
"""
from __future__ import annotations

import functools
import re

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import escape_rdn, parse_dn

from ..errors import PyBridgeError

_HEX = "0123456789abcdefABCDEF"
_HASH_INSIDE = re.compile(r"(?<![\\=])#")
MAX_DN_LENGTH = 16384  # far beyond any real AD DN; longer input is refused before parsing


class InvalidDnError(PyBridgeError):
    error_code = "InvalidDistinguishedName"
    recommended_action = ("Pass the object's distinguished name exactly as Active Directory shows it "
                          "(for example from Get-ADUser or the distinguishedName attribute), with RFC 4514 "
                          "escapes such as \\, for a comma inside a value.")


def unescape_value(value: str) -> str:
    """Decode RFC 4514 escapes of one attribute value (``\\,`` ``\\\\`` ``\\5c`` ``\\C3\\AB``)."""
    if "\\" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            if nxt in _HEX and i + 2 < len(value) and value[i + 2] in _HEX:
                out.append(int(value[i + 1:i + 3], 16))
                i += 3
                continue
            out.extend(nxt.encode("utf-8"))
            i += 2
            continue
        out.extend(ch.encode("utf-8"))
        i += 1
    return out.decode("utf-8", errors="surrogateescape")


def escape_value(value: str) -> str:
    """RFC 4514 escaping of one value: ldap3's escape_rdn, except for a value of spaces only, which it
    escapes wrongly for a single space ("\\\\ "): every space is escaped then."""
    if value and not value.strip(" "):
        return "\\ " * len(value)
    escaped: str = escape_rdn(value)  # ldap3 ships no types
    return escaped.replace("\\\x00", "\\00")  # ldap3 writes a backslash and a raw NUL


RDN = tuple[tuple[str, str], ...]  # ((attr_lower, value), ...) for multi-valued RDNs


def _escaped(text: str, index: int) -> bool:
    """True when the character at *index* follows an odd number of backslashes (it is escaped)."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def tidy(dn: str) -> str:
    """*dn* without the optional spaces RFC 4514 parsers and Active Directory accept, escapes intact.

    Spaces around '=' and around the ',' or '+' between components are removed (RFC 2253 and 1779
    readers, and AD, accept "CN=Jane Doe, OU=Users" and "CN = Jane Doe"); an escaped space
    (``\\ `` or ``\\20``) at either end of a value is part of the value and stays, as does every
    other escape, exactly as written. RFC 1779's ';' separator is not taken for one (RFC 4514 has none,
    and a ';' stays where it was typed). Text that is not a DN is returned unchanged for the DN check
    to refuse.
    """
    if "=" not in dn:
        return dn
    out: list[str] = []
    i, n = 0, len(dn)
    while i < n:
        while i < n and dn[i] == " ":
            i += 1
        eq = dn.find("=", i)
        if eq < 0:
            return dn  # a component without '=': not a DN this function can tidy
        attr = dn[i:eq].strip(" ")
        i = eq + 1
        while i < n and dn[i] == " ":
            i += 1
        start = i
        if i < n and dn[i] == '"':  # an RFC 1779 quoted value: kept as it is
            i += 1
            while i < n and not (dn[i] == '"' and not _escaped(dn, i)):
                i += 1
            i = min(i + 1, n)
        while i < n and not (dn[i] in ",+" and not _escaped(dn, i)):
            i += 1
        end = i
        while end > start and dn[end - 1] == " " and not _escaped(dn, end - 1):
            end -= 1
        out.append(f"{attr}={dn[start:end]}")
        if i < n:
            out.append(dn[i])
            i += 1
    return "".join(out)


def split(dn: str) -> list[RDN]:
    """Split *dn* into RDNs of (lower-cased type, unescaped value); raises InvalidDnError."""
    if not isinstance(dn, str):
        raise InvalidDnError("The distinguished name is empty.", dn=dn)
    return list(_split(dn))


# A run splits the same few DNs (the object's, its containers', the partitions') about ten times, and ldap3's
# parser is slow: the answers for the most recent DNs are kept (immutable tuples; refusals are not kept).
@functools.lru_cache(maxsize=1024)
def _split(dn: str) -> tuple[RDN, ...]:
    if not dn.strip():
        raise InvalidDnError("The distinguished name is empty.", dn=dn)
    if len(dn) > MAX_DN_LENGTH:
        raise InvalidDnError(f"The distinguished name is {len(dn)} characters long; no Active Directory DN "
                             f"exceeds {MAX_DN_LENGTH}.", dn=dn[:80])
    if "\x00" in dn:
        raise InvalidDnError("The distinguished name contains a NUL character.", dn=dn.replace("\x00", "\\00"))
    try:
        # RFC 4514 requires escaping '#' only at the start of a value; ldap3's parser wants every '#'
        # escaped, so the ones inside a value are escaped before parsing ('CN=Team#1' is a valid DN).
        parts = parse_dn(_HASH_INSIDE.sub(r"\\#", dn.strip()))
    except (LDAPInvalidDnError, ValueError, IndexError, TypeError) as exc:
        raise InvalidDnError(f"'{dn}' is not a valid distinguished name: {exc}.", dn=dn) from None
    rdns: list[RDN] = []
    current: list[tuple[str, str]] = []
    for attr, value, sep in parts:
        raw = value.strip(" ")  # only unescaped spaces around a value are insignificant (RFC 4514)
        if raw.endswith("\\") and value.endswith(" "):  # escaped trailing space: keep it
            raw = raw + " "
        current.append((attr.strip().lower(), unescape_value(raw)))
        if sep != "+":
            rdns.append(tuple(sorted(current)))
            current = []
    try:
        for rdn in rdns:
            for _, v in rdn:
                v.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDnError(f"'{dn}' holds an escaped byte sequence that is not UTF-8.", dn=dn) from None
    return tuple(rdns)


def canonical(dn: str) -> str:
    """A comparison key: types and values lower-cased, escapes normalised (AD compares DNs case-insensitively)."""
    if not isinstance(dn, str):
        raise InvalidDnError("The distinguished name is empty.", dn=dn)
    return _canonical(dn)


@functools.lru_cache(maxsize=1024)
def _canonical(dn: str) -> str:
    return ",".join("+".join(sorted(f"{a}={escape_value(v.lower())}" for a, v in rdn)) for rdn in _split(dn))


def normalize(dn: str) -> str:
    """The DN rebuilt with canonical escaping, keeping the case of values (types upper-cased as AD shows them)."""
    return ",".join("+".join(f"{a.upper()}={escape_value(v)}" for a, v in rdn) for rdn in split(dn))


def is_descendant(dn: str, container: str) -> bool:
    """True when *dn* is *container* itself or lies below it."""
    child, parent = split(dn), split(container)
    if len(parent) > len(child):
        return False

    def key(rdns: list[RDN]) -> list[RDN]:
        return [tuple((a, v.lower()) for a, v in r) for r in rdns]

    return key(child[len(child) - len(parent):]) == key(parent)


def depth(dn: str) -> int:
    return len(split(dn))


def rdn_value(dn: str) -> str:
    """The (first) value of the leaf RDN: 'Smith, John' for CN=Smith\\, John,OU=..."""
    return split(dn)[0][0][1]


def domain_fqdn(dn: str) -> str:
    """contoso.com for any DN under DC=contoso,DC=com (the DC components, in order)."""
    return ".".join(v for rdn in split(dn) for a, v in rdn if a == "dc")
