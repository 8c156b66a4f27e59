"""Checks Entra ID applies to identity data, run before export so the admin learns why up front.

Sources: Microsoft Graph user resource (userPrincipalName, mailNickname) and
"Prepare for directory synchronization" (UPN characters, lengths); for mail, proxyAddresses and
mailNickname's periods, the rules of Microsoft's IdFix tool for multi-tenant (Microsoft 365) directories
(github.com/microsoft/idfix, docs/supported-errors.md), which lists what Entra Connect's export refuses.
A single run and `pybridge scan` both apply them here, so the two never disagree.
"""
from __future__ import annotations

import re
from typing import Any

# userPrincipalName: alias characters A-Z a-z 0-9 ' . - _ ! # ^ ~, no leading/trailing or double dot, '@'
# and a domain; at most 113 characters (64 before the '@'). learn.microsoft.com/entra/identity/hybrid/connect/
# plan-connect-userprincipalname and prepare-for-directory-synchronization.
_UPN = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9'._!#^~-]{1,64}(?<!\.)@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# mailNickname may not contain: @ () \ [] " ; : <> , SPACE (Graph's user resource).
_NICK_BAD = set('@()\\[]";:<>, ')
# An SMTP address as IdFix takes it (RFC 2822 addr-spec with a routable domain): no white space or
# < > ( ) ; , [ ] " anywhere, one '@', a local part, and a domain of at least two dot-separated labels.
_SMTP = re.compile(r'^[^\s<>()\[\];,"@]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$')
MAX_ADDRESS = 256  # mail, and each proxyAddresses value (IdFix: "single value maximum number of characters: 256")
MAX_UPN_DOMAIN = 48  # characters after the '@' of a userPrincipalName (prepare-for-directory-synchronization)
MAX_LENGTH = {"displayName": 256, "givenName": 64, "surname": 64, "mailNickname": 64, "department": 64,
              "jobTitle": 128, "userPrincipalName": 113, "description": 1024}
REQUIRED = {"user": ("userPrincipalName", "displayName", "mailNickname", "accountEnabled"),
            "group": ("displayName", "mailNickname")}


def problems(kind: str, values: dict[str, Any], creating: bool, proxy_addresses: Any = None) -> list[str]:
    """What Entra ID would refuse in the values to export (*proxy_addresses*: the ones the rules give, which
    Entra Connect exports and Graph cannot write, checked all the same)."""
    out: list[str] = []
    if creating:
        for name in REQUIRED.get(kind, ()):
            if values.get(name) in (None, ""):
                out.append(f"{name} is required to create a {kind} and has no value")
    upn = values.get("userPrincipalName")
    if kind == "user" and isinstance(upn, str) and (not _UPN.match(upn) or len(upn) > MAX_LENGTH["userPrincipalName"]):
        out.append(f"userPrincipalName \"{upn}\" has an invalid format or characters (allowed before the @: "
                   "A-Z a-z 0-9 ' . - _ ! # ^ ~; no leading, trailing or double dot)")
    if kind == "user" and isinstance(upn, str) and "@" in upn and len(upn.rsplit("@", 1)[1]) > MAX_UPN_DOMAIN:
        out.append(f"userPrincipalName \"{upn}\" has {len(upn.rsplit('@', 1)[1])} characters after the @; Entra ID "
                   f"allows at most {MAX_UPN_DOMAIN}")
    nick = values.get("mailNickname")
    if isinstance(nick, str):
        bad = sorted({c for c in nick if c in _NICK_BAD or ord(c) > 127})
        if bad:
            out.append(f"mailNickname \"{nick}\" contains characters Entra ID refuses: "
                       + " ".join(repr(c) for c in bad))
        if nick.startswith(".") or nick.endswith("."):
            out.append(f"mailNickname \"{nick}\" begins or ends with a period, which Entra ID refuses")
    mail = values.get("mail")
    if isinstance(mail, str) and mail and (not _SMTP.match(mail) or len(mail) > MAX_ADDRESS):
        out.append(f"mail \"{mail}\" is not a valid address of at most {MAX_ADDRESS} characters (no white space "
                   "or < > ( ) ; , [ ] \", one @, a domain with a dot)")
    proxies = proxy_addresses if isinstance(proxy_addresses, list) else [proxy_addresses] if proxy_addresses else []
    for proxy in proxies:
        text = str(proxy)
        prefix, _, address = text.partition(":")
        if len(text) > MAX_ADDRESS:
            out.append(f"the proxyAddresses value \"{text[:60]}...\" is {len(text)} characters long; Entra ID "
                       f"allows at most {MAX_ADDRESS} per value")
        elif prefix.lower() == "smtp" and not _SMTP.match(address):
            out.append(f"the proxyAddresses value \"{text}\" is not a valid SMTP address (no white space or "
                       "< > ( ) ; , [ ] \", one @, a domain with a dot)")
    anchor = values.get("onPremisesImmutableId")
    if isinstance(anchor, str) and (len(anchor) >= 60 or "$" in anchor or "_" in anchor):
        out.append(f"the sourceAnchor \"{anchor}\" is invalid (it must be shorter than 60 characters and hold "
                   "no $ or _)")
    for name, limit in MAX_LENGTH.items():
        v = values.get(name)
        if isinstance(v, str) and len(v) > limit and name != "userPrincipalName":
            out.append(f"{name} is {len(v)} characters long; Entra ID allows at most {limit}")
    return out
