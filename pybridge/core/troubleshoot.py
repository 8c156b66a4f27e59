"""Detecting, before export, what Entra ID would refuse, and saying why and what to do.

Pure functions over plain data: the AD object's attributes, the pending export,
the Entra objects and domains the pipeline looked up. Each returns a Finding (or
None); the pipeline turns a finding into the run's StatusInfo.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

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


@dataclass(frozen=True)
class Finding:
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


def conflicts(desired: dict[str, Any], others: Sequence[CloudObject]) -> Finding | None:
    """Another Entra object already holds this object's UPN, mail or an SMTP address (AttributeValueMustBeUnique)."""
    upn = str(desired.get("userPrincipalName") or "").lower()
    mail = str(desired.get("mail") or "").lower()
    for other in others:
        p = other.properties
        held = {str(a).lower().split(":", 1)[-1] for a in p.get("proxyAddresses") or []}
        if upn and str(p.get("userPrincipalName") or "").lower() == upn:
            attr, value = "userPrincipalName", desired["userPrincipalName"]
        elif mail and (str(p.get("mail") or "").lower() == mail or mail in held):
            attr, value = ("mail" if str(p.get("mail") or "").lower() == mail else "proxyAddresses",
                           desired["mail"])
        else:
            continue
        return Finding("AttributeValueMustBeUnique",
                       f'Another object in Entra ID already holds {attr} "{value}": {describe(other)}.',
                       "Decide which object should keep the value: change or remove it on the other object (for a "
                       "cloud-only object, in the Entra admin center; for a synced one, in its source directory), "
                       "or, if both are the same person, let soft match join them (it needs the same UPN or "
                       "primary SMTP address and no onPremisesImmutableId on the cloud object).")
    return None


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
    initial = next((d["id"] for d in domains if d.get("isInitial")), None) or \
        next((d["id"] for d in domains if str(d.get("id", "")).endswith(".onmicrosoft.com")), "<tenant>.onmicrosoft.com")
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
