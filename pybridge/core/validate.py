"""Checks Entra ID applies to identity data, run before export so the admin learns why up front.

Sources: Microsoft Graph user resource (userPrincipalName, mailNickname) and
"Prepare for directory synchronization" (UPN characters, lengths).
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
MAX_LENGTH = {"displayName": 256, "givenName": 64, "surname": 64, "mailNickname": 64, "department": 64,
              "jobTitle": 128, "userPrincipalName": 113, "description": 1024}
REQUIRED = {"user": ("userPrincipalName", "displayName", "mailNickname", "accountEnabled"),
            "group": ("displayName", "mailNickname")}


def problems(kind: str, values: dict[str, Any], creating: bool) -> list[str]:
    out: list[str] = []
    if creating:
        for name in REQUIRED.get(kind, ()):
            if values.get(name) in (None, ""):
                out.append(f"{name} is required to create a {kind} and has no value")
    upn = values.get("userPrincipalName")
    if kind == "user" and isinstance(upn, str) and (not _UPN.match(upn) or len(upn) > MAX_LENGTH["userPrincipalName"]):
        out.append(f"userPrincipalName \"{upn}\" has an invalid format or characters (allowed before the @: "
                   "A-Z a-z 0-9 ' . - _ ! # ^ ~; no leading, trailing or double dot)")
    nick = values.get("mailNickname")
    if isinstance(nick, str):
        bad = sorted({c for c in nick if c in _NICK_BAD or ord(c) > 127})
        if bad:
            out.append(f"mailNickname \"{nick}\" contains characters Entra ID refuses: "
                       + " ".join(repr(c) for c in bad))
    anchor = values.get("onPremisesImmutableId")
    if isinstance(anchor, str) and (len(anchor) >= 60 or "$" in anchor or "_" in anchor):
        out.append(f"the sourceAnchor \"{anchor}\" is invalid (it must be shorter than 60 characters and hold "
                   "no $ or _)")
    for name, limit in MAX_LENGTH.items():
        v = values.get(name)
        if isinstance(v, str) and len(v) > limit and name != "userPrincipalName":
            out.append(f"{name} is {len(v)} characters long; Entra ID allows at most {limit}")
    return out
