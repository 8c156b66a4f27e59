"""`pybridge config check`: is this configuration ready to sync? Each part tested, each result with its fix.

In order: the file (validated as a sync would load it, rules included); each domain controller
of each AD connector (bind as the connector account, read each partition's root); a token for
Microsoft Graph; the application permissions in that token's ``roles`` claim against what
pybridge needs (:data:`REQUIRED_PERMISSIONS`); and the tenant's verified domains. Nothing is
written anywhere, and no state is opened.
"""
from __future__ import annotations

from typing import Any

from msgspec import Struct

from .notices import Notify

#: What pybridge asks Microsoft Graph to do, and the application permissions (any one) that allow it.
#: docs/config-check.md explains the list; the least privilege is the first of each.
REQUIRED_PERMISSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("create and update users", ("User.ReadWrite.All", "Directory.ReadWrite.All")),
    ("create and update groups and their members",
     ("Group.ReadWrite.All", "Directory.ReadWrite.All", "GroupMember.ReadWrite.All")),
    ("read the tenant's domains (UPN suffixes)",
     ("Directory.Read.All", "Directory.ReadWrite.All", "Domain.Read.All", "Domain.ReadWrite.All")),
    ("see who holds administrator roles (soft match never takes over an administrator)",
     ("Directory.Read.All", "Directory.ReadWrite.All", "RoleManagement.Read.Directory", "RoleManagement.Read.All",
      "RoleManagement.ReadWrite.Directory")),
)
#: GroupMember.ReadWrite.All changes members of existing groups only; creating groups needs one of these too.
GROUP_CREATE = ("Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All")

CONFIG_FIX = ("Fix the settings listed; `pybridge config example` prints a configuration that documents every "
              "key.")


class Check(Struct, frozen=True):
    """One thing tested: what (*check*), on what (*target*), whether it is ok, what was found, and the fix."""

    check: str
    target: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "target": self.target, "status": "ok" if self.ok else "failed",
                "detail": self.detail, "fix": self.fix}


def missing_permissions(roles: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The needs of REQUIRED_PERMISSIONS that none of *roles* covers (case-insensitive, as Entra compares)."""
    held = {r.lower() for r in roles}
    return [(need, options) for need, options in REQUIRED_PERMISSIONS if not held & {o.lower() for o in options}]


def permission_checks(roles: list[str] | None, tenant: str) -> list[Check]:
    if roles is None:
        return [Check("permissions", tenant, False, "the access token carries no roles claim (it is not an "
                      "application token, or it cannot be read)",
                      "Add Microsoft Graph *application* permissions (not delegated ones) to the app registration "
                      "and grant admin consent; see docs/config-check.md.")]
    missing = missing_permissions(roles)
    shown = ", ".join(sorted(roles)) or "none"
    if missing:
        needs = "; ".join(f"to {need}: {' or '.join(options)}" for need, options in missing)
        return [Check("permissions", tenant, False, f"the app holds {shown}; missing {needs}",
                      "In the app registration, API permissions -> Add a permission -> Microsoft Graph -> "
                      "Application permissions: add " + ", ".join(dict.fromkeys(o[0] for _, o in missing))
                      + ", then Grant admin consent.")]
    detail = f"the app holds {shown}"
    held = {r.lower() for r in roles}
    if not held & {g.lower() for g in GROUP_CREATE}:
        detail += " (GroupMember.ReadWrite.All changes members; creating groups also needs Group.Create)"
        return [Check("permissions", tenant, False, detail,
                      "Add the application permission Group.Create (or Group.ReadWrite.All) and grant admin "
                      "consent.")]
    return [Check("permissions", tenant, True, detail)]


def _directory_checks(cfg: Any) -> list[Check]:
    from msgspec.structs import replace

    from .engine import ad_session
    from .errors import PyBridgeError

    out: list[Check] = []
    for connector in cfg.ad_connectors:
        for url in connector.servers:
            target = f"{url} ({connector.name})"
            session = ad_session(replace(connector, servers=(url,)))
            try:
                session.connect()
            except PyBridgeError as exc:
                out.append(Check("domain controller", target, False, exc.message, exc.recommended_action or None))
                continue
            try:
                unreadable = []
                for partition in connector.partitions:
                    if session.read(partition, ["objectClass"]) is None:
                        unreadable.append(partition)
                if unreadable:
                    out.append(Check("domain controller", target, False,
                                     f"bound as {connector.username}, but cannot read the partition root "
                                     + "; ".join(unreadable),
                                     "Check ad_connectors[].partitions (the naming contexts, e.g. DC=contoso,DC=com) "
                                     "and that the connector account may read them."))
                else:
                    out.append(Check("domain controller", target, True,
                                     f"bound as {connector.username}; read " + "; ".join(connector.partitions)))
            except PyBridgeError as exc:
                out.append(Check("domain controller", target, False, exc.message, exc.recommended_action or None))
            finally:
                session.close()
    return out


def _tenant_checks(cfg: Any, notify: Notify | None) -> list[Check]:
    from .engine import graph_client
    from .errors import PyBridgeError

    tenant = cfg.entra.tenant_id
    try:
        client = graph_client(cfg)
        client.notify = notify
        client.start_run()
        client.authenticate()
    except PyBridgeError as exc:
        return [Check("token", tenant, False, exc.message, exc.recommended_action or None)]
    out = [Check("token", tenant, True, f"a token for {cfg.entra.graph_endpoint} as app {cfg.entra.client_id}")]
    out += permission_checks(client.granted_roles(), tenant)
    try:
        domains = client.verified_domains()
    except PyBridgeError as exc:
        out.append(Check("verified domains", tenant, False, exc.message, exc.recommended_action or None))
        return out
    verified = [str(d.get("id")) for d in domains if d.get("isVerified")]
    if verified:
        out.append(Check("verified domains", tenant, True, ", ".join(verified)))
    else:
        out.append(Check("verified domains", tenant, False, "the tenant has no verified domain",
                         "Add and verify your domain in the Entra admin center (Domain names); users can only get "
                         "UPNs in verified domains."))
    return out


def run(config_path: str | None, notify: Notify | None = None) -> tuple[str, list[Check]]:
    """Every check for the configuration at *config_path* (or the default one): (the path, the checks).

    When the configuration cannot be loaded, the one failed "configuration" check is all there is.
    """
    from . import config as configlib
    from .engine import load_rules
    from .errors import ConfigError

    path = str(configlib.resolve_path(config_path))
    try:
        cfg = configlib.load(config_path)
        rules = load_rules(cfg)
    except ConfigError as exc:
        head = exc.message.splitlines()[0] if exc.message else "the configuration cannot be used"
        problems = [p for p in exc.problems if p not in head]
        detail = head + (" " + "; ".join(problems) if len(problems) > 1 or problems and head.endswith(":") else "")
        return path, [Check("configuration", path, False, detail, CONFIG_FIX)]
    path = str(cfg.path or path)
    connectors = len(cfg.ad_connectors)
    checks = [Check("configuration", path, True,
                    f"valid: {connectors} AD connector{'s' if connectors != 1 else ''}, {len(rules.rules)} sync "
                    "rules" + "".join(f"; WARNING: {w}" for w in cfg.warnings))]
    checks += _directory_checks(cfg)
    checks += _tenant_checks(cfg, notify)
    return path, checks


__all__ = ["Check", "REQUIRED_PERMISSIONS", "missing_permissions", "permission_checks", "run"]
