"""What only a whole view can see: two AD objects claiming one value, two AD objects soft-matching one
cloud object. Fed one run at a time (memory: one entry per claimed value), judged at the end."""
from __future__ import annotations

from msgspec import Struct, field

from ..core import troubleshoot
from ..sync.state import RunState


class Finding(Struct, frozen=True):
    code: str  # an ErrorCode of the one table
    value: str
    objects: tuple[str, ...]  # the AD objects concerned (DNs)
    reason: str


class WholeView(Struct):
    _claims: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (attr, value) -> DNs
    _holder: dict[tuple[str, str], str] = field(default_factory=dict)  # (attr, value) -> the DN whose Entra object has it
    _soft: dict[str, list[str]] = field(default_factory=dict)  # cloud id -> DNs that soft-match it
    joined_deleted: list[tuple[str, str]] = field(default_factory=list)  # (DN, Entra id) of joins to deleted objects

    def observe(self, run: RunState) -> None:
        """After one object's steps: the values it would claim in Entra ID, and whom it soft-matched."""
        if run.joined_deleted:
            self.joined_deleted.append((run.ad_object.dn if type(run).ad_object.is_set(run) else "",
                                        run.joined_deleted))
        rules = run.rules if type(run).rules.is_set(run) else None
        if rules is None or rules.outbound is None or rules.excluded or not type(run).export.is_set(run):
            return
        dn = run.ad_object.dn
        desired = run.export.desired
        upn = desired.get("userPrincipalName")
        claims = [("userPrincipalName", str(upn).lower())] if upn and run.target_type == "user" else []
        proxies = rules.outbound.values.get("proxyAddresses") or []
        addresses = troubleshoot.smtp_addresses(proxies if isinstance(proxies, list) else [proxies],
                                                desired.get("mail"))
        claims += [("SMTP address", a.lower()) for a in addresses]
        entra = run.entra_object or {}
        held = {str(a).split(":", 1)[-1].lower() for a in entra.get("proxyAddresses") or []}
        for attr, value in claims:
            self._claims.setdefault((attr, value), []).append(dn)
            if (attr == "userPrincipalName" and str(entra.get("userPrincipalName") or "").lower() == value) or \
                    (attr != "userPrincipalName" and value in held):
                self._holder[(attr, value)] = dn
        if run.match.startswith("Soft match") and entra.get("id"):
            self._soft.setdefault(str(entra["id"]), []).append(dn)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for (attr, value), dns in self._claims.items():
            if len(dns) < 2:
                continue
            keeper = self._holder.get((attr, value))
            who = (f'"{keeper}" keeps it: its Entra object holds it already' if keeper else
                   "the object exported first keeps it")
            out.append(Finding("AttributeValueMustBeUnique", value, tuple(dns),
                               f'{len(dns)} objects in scope would give Entra ID the {attr} "{value}": '
                               + "; ".join(f'"{d}"' for d in dns) + f". {who}; under duplicate attribute "
                               "resiliency the others are synced without it and carry the conflict."))
        for cloud_id, dns in self._soft.items():
            if len(dns) < 2:
                continue
            out.append(Finding("InvalidSoftMatch", cloud_id, tuple(dns),
                               f"{len(dns)} objects in scope would soft-match the same Entra object {cloud_id}: "
                               + "; ".join(f'"{d}"' for d in dns) + ". The first to sync joins it; the others "
                               "then fail with InvalidSoftMatch (the object carries another source anchor)."))
        return out
