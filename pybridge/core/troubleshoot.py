"""Detecting, before export, what Entra ID would refuse, and saying why and what to do.

Pure functions over plain data: the AD object's attributes, the pending export,
the Entra objects and domains the pipeline looked up. Each returns a Finding (or
None); the pipeline turns a finding into the run's StatusInfo.
"""
from __future__ import annotations

from typing import Any, Sequence

from msgspec import Struct

from .model import Attributes, CloudObject
from .values import get_values

# Limits Entra ID applies to synchronised objects (tshoot-connect-sync-errors, "LargeObject"): more than
# 15 userCertificate values, a thumbnailPhoto over 100 KB, too many proxyAddresses; groups of 250,000
# members or more are not synchronised (Entra Connect's "In from AD - Group Join" scope).
MAX_USER_CERTIFICATES = 15
MAX_THUMBNAIL_BYTES = 100 * 1024
MAX_PROXY_ADDRESSES = 300  # documented as "about 300"
MAX_GROUP_MEMBERS = 250_000
GROUP_TYPE_SECURITY = 0x80000000


class Finding(Struct, frozen=True):
    code: str
    reason: str
    action: str
    details: str | None = None


def large_object(object_class: str, attrs: Attributes) -> Finding | None:
    certs = get_values(attrs, "userCertificate")
    if len(certs) > MAX_USER_CERTIFICATES:
        return Finding("LargeObject", f"userCertificate holds {len(certs)} values; Entra ID accepts at most "
                       f"{MAX_USER_CERTIFICATES}.",
                       "Remove expired or unused certificates from the object's userCertificate attribute.")
    photos = get_values(attrs, "thumbnailPhoto")
    if photos and isinstance(photos[0], (bytes, bytearray)) and len(photos[0]) > MAX_THUMBNAIL_BYTES:
        return Finding("LargeObject", f"thumbnailPhoto is {len(photos[0]) // 1024} KB; Entra ID accepts at most "
                       f"{MAX_THUMBNAIL_BYTES // 1024} KB.", "Replace the photo with a smaller one (under 100 KB).")
    proxies = get_values(attrs, "proxyAddresses")
    if len(proxies) > MAX_PROXY_ADDRESSES:
        return Finding("LargeObject", f"proxyAddresses holds {len(proxies)} values; Entra ID accepts about "
                       f"{MAX_PROXY_ADDRESSES}.", "Remove proxy addresses that are no longer needed.")
    if object_class.lower() == "group":
        members = get_values(attrs, "member")
        if len(members) >= MAX_GROUP_MEMBERS:
            return Finding("LargeObject", f"The group has {len(members):,} members; Entra Connect does not "
                           f"synchronise groups of {MAX_GROUP_MEMBERS:,} members or more.",
                           "Split the group into smaller groups, or manage it in the cloud.")
    return None


def is_mail_enabled(attrs: Attributes) -> bool:
    """Mail-enabled as Exchange and Entra Connect see it: an SMTP proxy address."""
    return any(str(v).lower().startswith("smtp:") for v in get_values(attrs, "proxyAddresses"))


def unwritable_group(attrs: Attributes) -> Finding | None:
    """Graph creates only security groups (and Microsoft 365 groups); it cannot write mail-enabled ones."""
    group_type = get_values(attrs, "groupType")
    security = bool(group_type) and (int(group_type[0]) & GROUP_TYPE_SECURITY) != 0
    mail = is_mail_enabled(attrs)
    if security and not mail:
        return None
    kind = "mail-enabled security group" if security else "distribution group"
    return Finding("UnsupportedObjectType",
                   f"This is a {kind}: Microsoft Graph cannot create or update mail-enabled security groups or "
                   "distribution groups (only Exchange Online can).",
                   "Synchronise it with Entra Connect or Cloud Sync, or recreate it in Exchange Online; if it "
                   "does not need mail, remove its proxyAddresses to make it a plain security group.")


def describe(obj: CloudObject) -> str:
    """An Entra object named for an admin: kind, UPN or display name, id, cloud-only or synced."""
    p = obj.properties
    name = p.get("userPrincipalName") or p.get("displayName") or "(no name)"
    synced = p.get("onPremisesSyncEnabled") or p.get("onPremisesImmutableId")
    origin = f"synced from on-premises (immutableId {p.get('onPremisesImmutableId')})" if synced else "cloud-only"
    return f'{obj.kind} "{name}" (id {p.get("id")}, {origin})'


def smtp_addresses(proxy_addresses: Sequence[Any], mail: Any = None) -> list[str]:
    """The SMTP addresses an object would hold (without prefix, first spelling kept): mail and every smtp: value."""
    out: dict[str, str] = {}
    for value in [*(proxy_addresses or []), *([f"smtp:{mail}"] if mail else [])]:
        text = str(value)
        if text.lower().startswith("smtp:") and text[5:].strip():
            out.setdefault(text[5:].strip().lower(), text[5:].strip())
    return list(out.values())


def conflicts(upn: str | None, addresses: Sequence[str], holders: Sequence[CloudObject],
              initial_domain: str = "<tenant>.onmicrosoft.com") -> Finding | None:
    """Other Entra objects (users, groups, contacts) already holding this object's UPN or one of its SMTP
    addresses: AttributeValueMustBeUnique, each value named with its holder and what duplicate attribute
    resiliency would do (tshoot-connect-sync-errors; how-to-connect-syncservice-duplicate-attribute-resiliency)."""
    found: list[str] = []
    for holder in holders:
        p = holder.properties
        if upn and holder.kind == "user" and str(p.get("userPrincipalName") or "").lower() == upn.lower():
            prefix = upn.rsplit("@", 1)[0]
            found.append(f'Another object in Entra ID already holds userPrincipalName "{upn}": {describe(holder)}. '
                         "Under duplicate attribute resiliency Entra ID would give this user the userPrincipalName "
                         f'"{prefix}NNNN@{initial_domain}" (four random digits) and record the conflict on it.')
        held_mail = str(p.get("mail") or "").lower()
        held = {str(a).split(":", 1)[-1].lower() for a in p.get("proxyAddresses") or []}
        for address in addresses:
            key = address.lower()
            if key == held_mail or key in held:
                attr = "mail" if key == held_mail else "proxyAddresses"
                found.append(f'Another object in Entra ID already holds {attr} "{address}": {describe(holder)}. '
                             "Under duplicate attribute resiliency Entra ID would sync this object without "
                             f'"{address}" (the duplicate value is quarantined) and record the conflict in its '
                             "onPremisesProvisioningErrors.")
    if not found:
        return None
    shown = found[:5] + ([f"... and {len(found) - 5} more conflict(s)."] if len(found) > 5 else [])
    return Finding("AttributeValueMustBeUnique", " ".join(shown),
                   "Decide which object should keep the value: change or remove it on the other object (for a "
                   "cloud-only object, in the Entra admin center; for a synced one, in its source directory), "
                   "or, if both are the same person, let soft match join them (it needs the same UPN or "
                   "primary SMTP address and no onPremisesImmutableId on the cloud object).")


def initial_domain(domains: Sequence[dict[str, Any]]) -> str:
    return next((str(d["id"]) for d in domains if d.get("isInitial")), None) or \
        next((str(d["id"]) for d in domains if str(d.get("id", "")).endswith(".onmicrosoft.com")),
             "<tenant>.onmicrosoft.com")


def type_mismatch(kind: str, others: Sequence[CloudObject], value: str) -> Finding | None:
    for other in others:
        if other.kind != kind:
            return Finding("ObjectTypeMismatch",
                           f'Soft match on "{value}" found a {other.kind}, not a {kind}: {describe(other)}.',
                           f"The {other.kind} and this {kind} share an address. Remove it from one of them; Entra ID "
                           "never joins objects of different types.",
                           None)
    return None


def upn_domain(upn: str, domains: list[dict[str, Any]], current_upn: str | None) -> Finding | None:
    """The UPN suffix must be a verified domain; a move between two federated domains is refused."""
    suffix = upn.rsplit("@", 1)[-1].lower()
    by_name = {str(d.get("id", "")).lower(): d for d in domains}
    domain = by_name.get(suffix)
    initial = initial_domain(domains)
    if domain is None or not domain.get("isVerified"):
        prefix = upn.rsplit("@", 1)[0]
        return Finding("UpnSuffixNotVerified",
                       f'The userPrincipalName suffix "{suffix}" of "{upn}" is not a verified domain of the tenant. '
                       f'Entra Connect would sync the user as "{prefix}@{initial}"; Microsoft Graph refuses the value.',
                       f'Add and verify "{suffix}" in the tenant (Entra admin center > Domain names), or give the '
                       "user a UPN in a verified domain.")
    if current_upn:
        old = current_upn.rsplit("@", 1)[-1].lower()
        old_domain = by_name.get(old)
        if (old != suffix and old_domain and str(old_domain.get("authenticationType", "")).lower() == "federated"
                and str(domain.get("authenticationType", "")).lower() == "federated"):
            return Finding("FederatedDomainChangeError",
                           f'The userPrincipalName would move from federated domain "{old}" to federated domain '
                           f'"{suffix}"; Entra ID does not change a UPN between two federated domains this way.',
                           f'Change the UPN to a managed domain (e.g. {initial}) first, then to "{suffix}", or update '
                           "it with the Graph / PowerShell procedure Microsoft documents for this error.")
    return None


# Properties Graph protects on users who hold privileged administrator roles: an app changes them only when it
# holds a higher privileged role itself (Microsoft Graph, "users" resource overview, Who can perform sensitive
# actions; user-update, Permissions). Roles a plain user-administrator may still manage are not privileged.
SENSITIVE_USER_PROPERTIES = frozenset({"accountEnabled", "businessPhones", "mobilePhone", "otherMails",
                                       "onPremisesImmutableId", "passwordProfile", "userPrincipalName"})
UNPRIVILEGED_ROLES = frozenset({"88d8e3e3-8f55-4a1e-953a-9b9898b8876b",   # Directory Readers
                                "95e79109-95c0-4d8e-aee3-d01accf2d47b",   # Guest Inviter
                                "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",   # Message Center Reader
                                "4a5d8f65-41da-4de4-8968-e035b65339cf"})  # Reports Reader
# Roles that may change sensitive properties of any privileged user.
PRIVILEGED_WRITER_ROLES = frozenset({"62e90394-69f5-4237-9190-012177145e10",   # Global Administrator
                                     "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"})  # Privileged Authentication Admin


def privileged_user(user: dict[str, Any], changed: Sequence[str], user_roles: Sequence[dict[str, Any]],
                    app_roles: Sequence[dict[str, Any]]) -> Finding | None:
    """A change Graph would refuse: a sensitive property of a user holding a privileged role, by an app without
    a higher privileged role."""
    sensitive = sorted(set(changed) & SENSITIVE_USER_PROPERTIES)
    privileged = [r for r in user_roles if str(r.get("roleTemplateId")) not in UNPRIVILEGED_ROLES]
    if not sensitive or not privileged:
        return None
    if any(str(r.get("roleTemplateId")) in PRIVILEGED_WRITER_ROLES for r in app_roles):
        return None
    roles = ", ".join(str(r.get("displayName") or r.get("roleTemplateId")) for r in privileged)
    return Finding("PrivilegedUserProtected",
                   f'User "{user.get("userPrincipalName")}" (id {user.get("id")}) holds the directory role(s) '
                   f"{roles}. Microsoft Graph lets an app change {', '.join(sensitive)} of such a user only when the "
                   "app itself holds a higher privileged role (Privileged Authentication Administrator or Global "
                   "Administrator), which this app does not; Graph would answer 403 Authorization_RequestDenied.",
                   "Change the value in the Entra admin center as a Privileged Authentication Administrator or "
                   "Global Administrator, or assign the app's service principal one of these roles (a powerful "
                   "grant: weigh it).")
