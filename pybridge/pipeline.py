"""The ten steps of Single Object Sync, orchestrating the pure core, the connectors and the store.

Each step fills its ProvisioningStep; the first step that fails or finds the
object out of scope ends the run and every later step stays listed as Skipped.
The store is written once, at the end, in one transaction (never with --what-if).
"""
from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import ADConnector, Config
from .connectors.ad import ADObject, ADSession
from .connectors.entra import GROUP_SELECT, USER_SELECT, GraphClient, odata_quote, random_password
from .core import dn as dnlib
from .core import plan as planlib
from .core import scoping, troubleshoot, validate
from .core.rules import RuleEvaluationError, RuleSet, SyncOutcome
from .core.rules.engine import GRAPH_WRITABLE_TYPES
from .core.errorcodes import lookup
from .core.model import (Action, AttributeInfo, ProvisioningIdentity, ProvisioningStep,
                         Status, StatusInfo, SyncResult, iso, new_steps, utcnow)
from .core.values import display, display_list, get_one, get_values, guid_string
from .errors import PyBridgeError, TargetError
from .store import ENTRA, CSObject, RunWrites, Store, new_id

log = logging.getLogger("pybridge")

GraphFactory = Callable[[Config], GraphClient]
ADFactory = Callable[[ADConnector], ADSession]
Progress = Callable[[ProvisioningStep], None]

# Attributes read besides those the rules name.
BASE_ATTRIBUTES = ["objectClass", "objectGUID", "objectSid", "cn", "sAMAccountName", "memberOf",
                   "userAccountControl", "groupType", "mail", "proxyAddresses", "isCriticalSystemObject",
                   "userCertificate", "thumbnailPhoto"]


class StepFailed(Exception):
    """Ends the run at the current step with the given outcome."""

    def __init__(self, status: Status, code: str, reason: str, action: str | None = None,
                 details: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason, self.action, self.details = status, code, reason, action, details


@dataclass
class Options:
    staging_mode: bool = False
    what_if: bool = False


@dataclass
class _Run:
    """What one run carries from step to step."""

    dn: str
    connector: ADConnector | None = None
    partition: str | None = None
    ad: ADSession | None = None
    ad_object: ADObject | None = None
    object_class: str | None = None
    anchor_guid: str | None = None
    source_anchor: str | None = None
    inbound: SyncOutcome | None = None
    outbound: SyncOutcome | None = None
    rule_error: PyBridgeError | None = None
    target_type: str | None = None
    entra_object: dict[str, Any] | None = None
    match: str = "None"
    mv_id: str | None = None
    export: planlib.PendingExport | None = None
    unresolved: list[str] = field(default_factory=list)
    writes: RunWrites = field(default_factory=RunWrites)


def _attr_json(infos: list[AttributeInfo]) -> str:
    """The original double-encodes AttributeInfo as a JSON string in Details["AttributeInfoJson"]."""
    return json.dumps([{"Name": a.name, "IsMultiValued": a.is_multi_valued, "Type": a.type, "Value": a.value,
                        "Add": a.add, "Delete": a.delete, "Operation": a.operation, "SyncRule": a.sync_rule,
                        "MappingType": a.mapping_type, "DataSource": a.data_source} for a in infos],
                      ensure_ascii=False)


class Pipeline:
    def __init__(self, config: Config, *, store: Store, graph_factory: GraphFactory, ad_factory: ADFactory,
                 rules: RuleSet | None = None, progress: Progress | None = None,
                 release_ad: Callable[[ADSession, bool], None] | None = None) -> None:
        self.config = config
        self.store = store
        self.graph_factory = graph_factory
        self.ad_factory = ad_factory
        self.rules = rules if rules is not None else RuleSet.load(source_anchor=config.sync.source_anchor)
        self.progress = progress
        self.release_ad = release_ad  # who keeps or closes the LDAP session after the run (default: close)
        self.graph: GraphClient | None = None
        self._domain_cache: list[dict[str, Any]] | None = None

    # -- the run ------------------------------------------------------------------------------------
    def run(self, dn: str, options: Options | None = None,
            finish: Callable[[SyncResult], None] | None = None) -> SyncResult:
        """Run the ten steps; *finish* (e.g. writing the HTML report) runs before the state is committed."""
        options = options or Options()
        staging = options.staging_mode or options.what_if or self.config.sync.staging_mode
        result = SyncResult(distinguished_name=dn, start_time=utcnow(), steps=new_steps(), staging_mode=staging,
                            what_if=options.what_if,
                            config_path=str(self.config.path) if self.config.path else None,
                            run_id=new_id())
        result.source_identity = ProvisioningIdentity(name=dn)
        run = _Run(dn=dn)
        handlers = [self._scope_ad_domain, self._scope_entra_domain, self._scope_container, self._scope_access,
                    self._scope_type, self._scope_group, self._import_ad, self._import_entra, self._sync,
                    lambda step, r, res: self._export(step, r, res, staging)]
        try:
            for step, handler in zip(result.steps, handlers):
                step.timestamp = utcnow()
                try:
                    handler(step, run, result)
                    if step.status == Status.SKIPPED:
                        step.status = Status.SUCCESS
                except StepFailed as stop:
                    self._stop(step, result, stop)
                    break
                except PyBridgeError as exc:
                    self._stop(step, result, StepFailed(Status.FAILURE, exc.error_code, exc.message,
                                                        exc.recommended_action or None))
                    break
                except Exception as exc:  # noqa: BLE001 - every run ends in a result, never a traceback
                    log.debug("unexpected error in step %s", step.number, exc_info=True)
                    self._stop(step, result, StepFailed(
                        Status.FAILURE, "InternalError", f"{type(exc).__name__}: {exc}",
                        details="".join(traceback.format_exception_only(type(exc), exc)).strip()))
                    break
                finally:
                    if self.progress:
                        self.progress(step)
        finally:
            if run.ad is not None:
                healthy = not (result.status_info.error_code or "").startswith("Ldap")
                if self.release_ad is not None:
                    self.release_ad(run.ad, healthy)
                else:
                    run.ad.close()
        result.end_time = utcnow()
        if result.status_info.status == Status.SUCCESS and run.unresolved:
            result.status_info.additional_details = (
                f"{len(run.unresolved)} reference(s) could not be resolved and were not exported: "
                + "; ".join(run.unresolved[:20]) + (" ..." if len(run.unresolved) > 20 else ""))
        if finish is not None:
            finish(result)
        self._commit(run, result, options)
        return result

    def _stop(self, step: ProvisioningStep, result: SyncResult, stop: StepFailed) -> None:
        step.status = Status.FAILURE if stop.status == Status.FAILURE else Status.SKIPPED
        step.details.setdefault("Reason", stop.reason)
        info = lookup(stop.code)
        result.status_info = StatusInfo(status=stop.status, error_code=stop.code, reason=stop.reason,
                                        additional_details=stop.details,
                                        error_category=info.category if stop.status == Status.FAILURE else "success",
                                        recommended_action=stop.action or info.action)
        if stop.status == Status.FAILURE:
            result.action = Action.OTHER

    # -- steps 1-6: scoping --------------------------------------------------------------------------
    def _scope_ad_domain(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        try:
            dnlib.split(run.dn)
        except dnlib.InvalidDnError as exc:
            raise StepFailed(Status.FAILURE, "InvalidDistinguishedName", exc.message) from None
        match = scoping.find_partition(self.config.ad_connectors, run.dn)
        if match is None:
            configured = "; ".join(f'"{p}" ({c.name})' for c in self.config.ad_connectors for p in c.partitions)
            raise StepFailed(Status.FAILURE, "PartitionNotInScope",
                             f'Could not find the connector for partition with the distinguished name "{run.dn}". '
                             f"Selected partitions: {configured}.")
        run.connector, run.partition = match.connector, match.partition
        step.details[f'Connector "{match.connector.name}" Partition "{match.partition}" selected'] = "True"

    def _scope_entra_domain(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        entra = self.config.entra
        self.graph = self.graph_factory(self.config)
        self.graph.start_run()
        try:
            self.graph.token()
        except PyBridgeError as exc:
            raise StepFailed(Status.FAILURE, exc.error_code, exc.message,
                             exc.recommended_action or None) from None
        step.details[f'Connector "{entra.name}" Partition "default" selected'] = "True"
        step.details["Tenant"] = entra.tenant_id
        step.details["Graph endpoint"] = entra.graph_endpoint

    def _scope_container(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None
        decision = scoping.container_decision(run.connector, run.dn)
        step.details["Included containers"] = "; ".join(run.connector.include) or "(none)"
        step.details["Excluded containers"] = "; ".join(run.connector.exclude) or "(none)"
        if not decision.included:
            if decision.kind == "exclude":
                reason = (f"Object is not present in sync scope. Object belongs to container \"{decision.container}\" "
                          "that is excluded from syncing.")
            else:
                reason = "Object is not present in sync scope. Object is not inside any included container."
            raise StepFailed(Status.SKIPPED, "ContainerNotInScope", reason,
                             "If the object should sync, include its container in ad_connectors[].containers.include "
                             "or remove the exclusion" + (f" of \"{decision.container}\"." if decision.container else "."))
        step.details[f'Container "{decision.container}" included'] = "True"

    def _scope_access(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None
        run.ad = self.ad_factory(run.connector)
        url = run.ad.connect()
        wanted = list(dict.fromkeys(BASE_ATTRIBUTES + [self.config.sync.source_anchor] + self._source_attributes()))
        without_ranged = [a for a in wanted if a.lower() != "member"]
        obj = run.ad.read(run.dn, without_ranged)
        account = run.connector.username
        step.details["Domain controller"] = url
        if obj is None:
            raise StepFailed(Status.FAILURE, "ObjectNotAccessible",
                             f'Object "{run.dn}" was not found, or is not readable with connector account '
                             f'"{account}" credentials.',
                             f'Check the distinguished name; if the object exists, grant connector account "{account}" '
                             "read access to it (check for Deny entries and for inheritance being disabled).")
        run.ad_object = obj
        guid = get_one(obj.attributes, "objectGUID")
        run.anchor_guid = guid_string(guid) if isinstance(guid, bytes) and len(guid) == 16 else None
        result.source_identity = ProvisioningIdentity(id=run.anchor_guid, name=obj.dn)
        step.details[f'Object accessible using connector account "{account}" credentials'] = "True"

    def _scope_type(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None and run.ad_object is not None
        classes = [str(c) for c in get_values(run.ad_object.attributes, "objectClass")]
        run.object_class = scoping.structural_class(classes)
        result.source_identity.type = run.object_class
        step.details["Object type inclusion list"] = ", ".join(run.connector.object_types)
        step.details["Object type in Active Directory"] = run.object_class or "(unknown)"
        if not scoping.type_in_scope(run.connector, run.object_class):
            raise StepFailed(Status.SKIPPED, "ObjectTypeNotInScope",
                             f'Object type "{run.object_class}" is not in sync scope of connector '
                             f'"{run.connector.name}" (in scope: {", ".join(run.connector.object_types)}).')

    def _scope_group(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None and run.ad_object is not None and run.ad is not None
        gf = run.connector.group_filtering
        step.details["Group filtering enabled"] = str(bool(gf.group))
        if not gf.group:
            return
        step.details["Group distinguished name"] = gf.group
        member_of = [str(v) for v in get_values(run.ad_object.attributes, "memberOf")]
        member = scoping.is_direct_member(member_of, gf.group)
        how = "direct"
        if not member and gf.nested:
            member, how = run.ad.is_nested_member(run.ad_object.dn, gf.group), "nested"
        step.details[f'Object is member of Group "{gf.group}" in Active Directory'] = str(member)
        if not member:
            kind = "a direct or nested" if gf.nested else "a direct"
            raise StepFailed(Status.SKIPPED, "GroupFilteringNotMember",
                             f'Object is not in sync scope: group filtering is enabled and the object is not {kind} '
                             f'member of group "{gf.group}".')
        step.details["Membership"] = how

    # -- steps 7-8: import ---------------------------------------------------------------------------
    def _source_attributes(self) -> list[str]:
        return sorted(self.rules.source_attributes(), key=str.lower)

    def _import_ad(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None and run.ad_object is not None and run.ad is not None
        obj = run.ad_object
        if run.object_class == "group":
            ranged = run.ad.read(obj.dn, ["member"])
            obj.attributes["member"] = ranged.attributes.get("member", []) if ranged else []
            if ranged and ranged.ranged:
                step.details["Ranged retrieval"] = ", ".join(f"{k}: {v + 1} request(s)"
                                                             for k, v in ranged.ranged.items())
        if run.anchor_guid is None:
            raise StepFailed(Status.FAILURE, "SourceAnchorMissing", f'Object "{obj.dn}" has no objectGUID.')
        previous = self.store.cs_object(run.connector.name, run.anchor_guid)
        attrs = {k: v for k, v in obj.attributes.items()}
        if previous is None:
            operation = "Add"
        elif previous.attributes != attrs or (previous.dn or "") != obj.dn:
            operation = "Update"
        else:
            operation = "None"
        infos = []
        for name in sorted(attrs, key=str.lower):
            values = attrs[name]
            old = previous.attributes.get(name) if previous else None
            infos.append(AttributeInfo(name=name, is_multi_valued=len(values) > 1 or name.lower() in ("member",
                                       "memberof", "objectclass", "proxyaddresses"),
                                       type="Binary" if values and isinstance(values[0], bytes) else "String",
                                       value=display_list(values), operation="None" if old == values else
                                       ("Add" if old is None else "Update"), data_source=run.connector.name))
        run.writes.connector_space.append(CSObject(connector=run.connector.name, anchor=run.anchor_guid, dn=obj.dn,
                                                   object_type=run.object_class or "", attributes=attrs))
        step.details["Run step result"] = "success"
        step.details[f'Object in "{run.connector.name}" Connector Space'] = "True"
        step.details["Connector Space Object Type"] = run.object_class or ""
        step.details["Connector Space Object Operation"] = operation
        step.details["AttributeInfoJson"] = _attr_json(infos)
        step.attributes = infos

    def _import_entra(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None and run.ad_object is not None and self.graph is not None
        entra = self.config.entra
        self._apply_rules(run)
        if run.rule_error is not None or (run.inbound is not None and run.inbound.excluded) or \
                (run.outbound is not None and run.outbound.excluded):
            step.details["Run step result"] = "success"
            step.details["Match"] = "Not searched: the sync rules do not project this object (see the Sync step)"
            return
        assert run.inbound is not None and run.outbound is not None
        run.source_anchor = run.inbound.values.get("sourceAnchor")
        if not run.source_anchor:
            raise StepFailed(Status.FAILURE, "SourceAnchorMissing",
                             f'Object "{run.ad_object.dn}" has no sourceAnchor value '
                             f'({self.config.sync.source_anchor} or objectGUID).')
        run.target_type = (run.outbound.target_type or "").lower() or None
        step.details["Source anchor"] = run.source_anchor
        if run.target_type not in GRAPH_WRITABLE_TYPES:
            step.details["Run step result"] = "success"
            step.details["Match"] = (f"Not searched: Microsoft Graph cannot write objects of type "
                                     f"\"{run.target_type or run.object_class}\"")
            return
        kind = run.target_type
        select = self._select(kind, run)
        found: dict[str, Any] | None = None
        # 1. the join this store recorded (one GET by id)
        mv = self.store.mv_for(run.connector.name, run.anchor_guid or "")
        joined_id = self.store.joined_anchor(mv[0], ENTRA) if mv else None
        if joined_id:
            candidate = self.graph.get(kind, joined_id, select)
            if candidate and (kind != "user" or candidate.get("onPremisesImmutableId") == run.source_anchor):
                found, run.match = candidate, "Joined (hard match on recorded join)"
        # 2. hard match: onPremisesImmutableId = sourceAnchor (users; Graph has no such property on groups)
        if found is None and kind == "user":
            hits = self.graph.find("user", f"onPremisesImmutableId eq {odata_quote(run.source_anchor)}", select)
            if len(hits) > 1:
                raise StepFailed(Status.FAILURE, "AttributeValueMustBeUnique",
                                 f"{len(hits)} Entra users hold onPremisesImmutableId {run.source_anchor}: "
                                 + ", ".join(h.get("userPrincipalName", h["id"]) for h in hits))
            if hits:
                found, run.match = hits[0], "Hard match on onPremisesImmutableId"
                if self.config.sync.block_cloud_object_takeover_through_hard_match and \
                        not found.get("onPremisesSyncEnabled"):
                    raise StepFailed(Status.FAILURE, "InvalidHardMatch",
                                     f'Hard match on onPremisesImmutableId {run.source_anchor} found cloud-managed user '
                                     f'"{found.get("userPrincipalName")}" (id {found["id"]}), and taking over cloud '
                                     "objects by hard match is blocked (sync.block_cloud_object_takeover_through_"
                                     "hard_match, as the tenant's BlockCloudObjectTakeoverThroughHardMatchEnabled).")
        # 3. soft match, only for objects not yet joined (as Entra Connect)
        if found is None and kind == "user" and self.config.sync.soft_match:
            found = self._soft_match_user(run, select)
        if found is not None:
            result.target_identity = ProvisioningIdentity(id=found.get("id"), type=kind,
                                                          name=found.get("userPrincipalName") or found.get("displayName"))
            if kind == "group":
                found["members"] = self.graph.member_ids(found["id"])
            elif "manager" in self._managed(run):
                found["manager"] = self.graph.manager_id(found["id"])
        run.entra_object = found
        infos = [AttributeInfo(name=k, is_multi_valued=isinstance(v, list), type="String",
                               value=display_list(v) if isinstance(v, list) else display(v), operation="None",
                               data_source=entra.name)
                 for k, v in sorted((found or {}).items()) if not k.startswith("@")]
        step.details["Run step result"] = "success"
        step.details[f'Object in "{entra.name}" Connector Space'] = str(found is not None)
        step.details["Match"] = run.match if found is not None else \
            "No matching object in Azure Active Directory (hard match" + \
            (" and soft match" if self.config.sync.soft_match and kind == "user" else "") + "); the export creates it"
        step.details["Connector Space Object Type"] = kind
        step.details["Connector Space Object Operation"] = "Update" if found is not None else "None"
        if infos:
            step.details["AttributeInfoJson"] = _attr_json(infos)
            step.attributes = infos

    def _soft_match_user(self, run: _Run, select: tuple[str, ...]) -> dict[str, Any] | None:
        assert self.graph is not None and run.inbound is not None
        upn = run.inbound.values.get("userPrincipalName")
        mail = run.inbound.values.get("mail")
        clauses = []
        if upn:
            clauses.append(f"userPrincipalName eq {odata_quote(str(upn))}")
        if mail:
            clauses.append(f"proxyAddresses/any(p:p eq {odata_quote('SMTP:' + str(mail))})")
        if not clauses:
            return None
        hits = self.graph.find("user", " or ".join(clauses), select)
        if not hits:
            return None
        hit = hits[0]
        roles = [m for m in self.graph.call("GET", f"/users/{hit['id']}/memberOf",
                                            params={"$select": "id,displayName,roleTemplateId"},
                                            what=f"Reading the roles of user {hit['id']}").get("value", [])
                 if m.get("@odata.type") == "#microsoft.graph.directoryRole"]
        if roles:
            raise StepFailed(Status.FAILURE, "ExistingAdminRoleConflict",
                             f'Soft match found cloud user "{hit.get("userPrincipalName")}" (id {hit["id"]}), who holds '
                             f'the directory role(s) {", ".join(r.get("displayName", r["id"]) for r in roles)}; Entra ID '
                             "never soft-matches users with administrator roles, so this object would not join it.")
        other = hit.get("onPremisesImmutableId")
        if other and other != run.source_anchor:
            by = "userPrincipalName" if upn and str(hit.get("userPrincipalName", "")).lower() == str(upn).lower() \
                else "primary SMTP address"
            raise StepFailed(Status.FAILURE, "InvalidSoftMatch",
                             f'Soft match on {by} found Entra user "{hit.get("userPrincipalName")}" (id {hit["id"]}), '
                             f"but it already holds onPremisesImmutableId {other}, not this object's sourceAnchor "
                             f"{run.source_anchor}.",
                             "Find which on-premises object the Entra user belongs to; remove the duplicate value "
                             "from one of the objects, or clear onPremisesImmutableId of the cloud user if it is "
                             "stale.")
        run.match = "Soft match on " + ("userPrincipalName" if upn and str(hit.get("userPrincipalName", "")).lower()
                                        == str(upn).lower() else "primary SMTP address")
        return hit

    # -- the rules (pure): inbound to the metaverse, outbound to the Entra connector space ----------------
    def _rule_context(self, run: _Run) -> dict[str, Any]:
        assert run.connector is not None and run.ad_object is not None
        fqdn = dnlib.domain_fqdn(run.partition or run.dn)
        user = run.connector.username
        netbios = user.split("\\", 1)[0].upper() if "\\" in user else fqdn.split(".", 1)[0].upper()
        return {"Domain.FQDN": fqdn, "Domain.Netbios": netbios, "Forest.FQDN": fqdn,
                "Connector.Name": run.connector.name, "dn": run.ad_object.dn}

    def _apply_rules(self, run: _Run) -> None:
        """Run the inbound and outbound rules once; a rule's failure is reported by the Sync step."""
        assert run.connector is not None and run.ad_object is not None
        ctx = self._rule_context(run)
        try:
            run.inbound = self.rules.inbound(run.connector.name, run.object_class or "", run.ad_object.attributes,
                                             ctx)
            if run.inbound.excluded:
                return
            mv = {k: (v if isinstance(v, list) else [v]) for k, v in run.inbound.values.items()}
            run.outbound = self.rules.outbound(run.inbound.mv_type or "person", mv, ctx)
        except RuleEvaluationError as exc:
            run.rule_error = exc

    def _select(self, kind: str, run: _Run) -> tuple[str, ...]:
        """The Graph properties to read: the ones pybridge matches on, and every one the rules export."""
        base = USER_SELECT if kind == "user" else GROUP_SELECT
        managed = self._managed(run)
        references = planlib.REFERENCE_ATTRIBUTES | planlib.SINGLE_REFERENCES  # read through their own endpoints
        return tuple(dict.fromkeys(list(base) + [m for m in managed if "." not in m and m not in references]))

    @staticmethod
    def _managed(run: _Run) -> list[str]:
        out = run.outbound
        if out is None:
            return []
        targets = set(out.managed) | set(out.values)
        return sorted((t for t in targets if t not in out.not_exportable), key=str.lower)

    # -- step 9: sync --------------------------------------------------------------------------------
    def _sync(self, step: ProvisioningStep, run: _Run, result: SyncResult) -> None:
        assert run.connector is not None
        if run.rule_error is not None:
            exc = run.rule_error
            raise StepFailed(Status.FAILURE, exc.error_code, exc.message,
                             exc.recommended_action or "Correct the sync rule named in the reason (pybridge rules show "
                                                       "NAME), or the attribute value it cannot handle.")
        assert run.inbound is not None
        if run.inbound.excluded:
            rule, condition = run.inbound.excluded
            step.details["Out of scope sync rules"] = "; ".join(run.inbound.out_of_scope) or "(none)"
            raise StepFailed(Status.SKIPPED, "FilteredObject",
                             f'Object is filtered by sync rule "{rule}": {condition}.',
                             f'This is expected for system and service objects. If the object should sync, change '
                             f'the attribute named in the reason, or customise the rule "{rule}" (a rule of your own '
                             "with a lower precedence number, under rules.files).")
        assert run.outbound is not None
        if run.outbound.excluded:
            rule, condition = run.outbound.excluded
            step.details["Out of scope sync rules"] = "; ".join(run.outbound.out_of_scope) or "(none)"
            raise StepFailed(Status.SKIPPED, "FilteredObject",
                             f'Object is not provisioned to Entra ID by sync rule "{rule}": {condition}.',
                             "Entra Connect exports only security groups and mail-enabled groups; make the group a "
                             f'security group if it should sync, or customise the rule "{rule}".')
        assert run.source_anchor is not None
        mv_type = run.inbound.mv_type or "person"
        existing = self.store.mv_for(run.connector.name, run.anchor_guid or "")
        mv_id = existing[0] if existing else self.store.mv_by_anchor(run.source_anchor)
        operation = "Add" if mv_id is None else "Update"
        mv_id = mv_id or new_id()
        run.mv_id = mv_id
        mv_attrs = {k: (v if isinstance(v, list) else [v]) for k, v in run.inbound.values.items()}
        if existing and existing[1] == mv_attrs:
            operation = "None"
        run.writes.metaverse.append((mv_id, mv_type, run.source_anchor, mv_attrs))
        run.writes.joins.append((run.connector.name, run.anchor_guid or "", mv_id))
        outbound = run.outbound
        managed = self._managed(run)
        desired = {k: v for k, v in outbound.values.items() if k in managed}
        if run.target_type == "group":
            refs = [str(v) for v in (desired.get("members") or [])]
            resolved = self.store.resolve_references(run.connector.name, refs)
            desired["members"] = [i for i in resolved.values() if i]
            run.unresolved = [d for d, i in resolved.items() if not i]
            if "members" not in managed:
                managed.append("members")
        if run.target_type == "user" and desired.get("manager"):
            ref = str(desired["manager"])
            manager_id = self.store.resolve_references(run.connector.name, [ref]).get(ref)
            if manager_id:
                desired["manager"] = manager_id
            else:
                # Entra Connect leaves an unresolved reference out of the export (and keeps what Entra has)
                run.unresolved.append(ref)
                desired.pop("manager")
                managed = [m for m in managed if m != "manager"]
        current = run.entra_object
        run.export = planlib.compute(run.target_type or "", desired, current, managed)
        invalid = validate.problems(run.target_type or "", desired, run.export.operation == Action.CREATE)
        if invalid and run.target_type in GRAPH_WRITABLE_TYPES:
            step.details["Sync step result"] = "failure"
            raise StepFailed(Status.FAILURE, "IdentityDataValidationFailed",
                             "Entra ID would refuse this object: " + "; ".join(invalid) + ".",
                             "Correct the value in Active Directory (the attribute the rule flows from), then sync "
                             "again.")
        result.action = run.export.operation
        result.modified_properties = planlib.modified_properties(run.export)
        if run.entra_object is not None and run.target_type in GRAPH_WRITABLE_TYPES:
            run.writes.joins.append((ENTRA, run.entra_object["id"], mv_id))
            run.writes.connector_space.append(CSObject(
                connector=ENTRA, anchor=run.entra_object["id"], dn=None, object_type=run.target_type or "",
                attributes={k: v for k, v in run.entra_object.items() if not k.startswith("@")},
                pending_export=self._pending_json(run.export)))
        step.details["Sync step result"] = "success"
        out_of_scope = run.inbound.out_of_scope + outbound.out_of_scope
        step.details["Out of scope sync rules"] = "; ".join(out_of_scope) or "(none)"
        step.details["Metaverse Object Type"] = mv_type
        step.details["Metaverse Object Operation"] = operation
        step.details[f'Source Object in "{run.connector.name}" Connector Space'] = run.ad_object.dn if run.ad_object \
            else run.dn
        step.details["Connected Object in Metaverse"] = mv_id
        step.details[f'Connected Target Object in "{self.config.entra.name}" Connector Space'] = \
            (run.entra_object or {}).get("id") or "(none: pending add)"
        step.details["Pending export"] = {Action.CREATE: "Add", Action.UPDATE: "Update"}.get(run.export.operation,
                                                                                               "None")
        if outbound.not_exportable:
            shown = sorted(t for t in outbound.not_exportable if t in outbound.values)
            if shown:
                step.details["Not exportable through Microsoft Graph"] = ", ".join(shown)
        if run.unresolved:
            step.details["Unresolved references"] = "; ".join(run.unresolved)
        infos = run.inbound.info + outbound.info
        step.details["AttributeInfoJson"] = _attr_json(infos)
        step.attributes = infos
        self._rule_of = {a.name: a.sync_rule or "" for a in outbound.info}

    @staticmethod
    def _pending_json(export: planlib.PendingExport) -> dict[str, Any] | None:
        if export.is_empty:
            return None
        return {"operation": export.operation.value,
                "changes": [{"name": c.name, "old": c.old, "new": c.new, "adds": c.adds, "removes": c.removes}
                            for c in export.changes]}

    # -- step 10: export -----------------------------------------------------------------------------
    def _export(self, step: ProvisioningStep, run: _Run, result: SyncResult, staging: bool) -> None:
        assert run.export is not None and self.graph is not None
        export = run.export
        kind = run.target_type
        if kind not in GRAPH_WRITABLE_TYPES:
            assert run.ad_object is not None
            if (run.object_class or "").lower() == "group":
                self._raise(troubleshoot.unwritable_group(run.ad_object.attributes))
            if (kind or run.object_class or "").lower() == "contact":
                raise StepFailed(Status.FAILURE, "UnsupportedObjectType",
                                 f'Microsoft Graph cannot create or update contacts ("{run.dn}"): Graph offers no '
                                 "write API for organizational contacts.",
                                 "Sync contacts with Entra Connect or Cloud Sync, or create them as mail contacts in "
                                 "Exchange Online.")
            why = ""
            if run.outbound is not None and run.outbound.excluded:
                why = f' (no outbound rule provisions it: "{run.outbound.excluded[0]}": {run.outbound.excluded[1]})'
            raise StepFailed(Status.FAILURE, "UnsupportedObjectType",
                             f'Microsoft Graph cannot create or update this object of type "{run.object_class}"{why}.',
                             "Check the outbound sync rules for this object type, or sync it with Entra Connect.")
        body = planlib.graph_body(export)
        members = next((c for c in export.changes if c.name == "members"), None)
        step.attributes = planlib.attribute_info(export, getattr(self, "_rule_of", {}))
        if step.attributes:
            step.details["AttributeInfoJson"] = _attr_json(step.attributes)
        self._check_before_export(run, export)
        if export.is_empty:
            step.details["Export step result"] = "No changes to export"
            return
        target_id = (run.entra_object or {}).get("id")
        method, url = ("POST", f"{self.graph.base}/{kind}s") if export.operation == Action.CREATE else \
            ("PATCH", f"{self.graph.base}/{kind}s/{target_id}")
        shown = dict(body)
        if export.operation == Action.CREATE and kind == "user":
            shown["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": "(random, never stored)"}
        if export.operation == Action.CREATE and kind == "group":
            shown.setdefault("mailEnabled", False)
            shown.setdefault("securityEnabled", True)
        if staging:
            step.description = "[Staging Mode] " + step.description
            step.details["Export step result"] = "Not exported: staging mode" + (" (what-if)" if run and
                                                                                    result.what_if else "")
            if body or export.operation == Action.CREATE:
                step.details["Graph request"] = f"{method} {url}"
                step.details["Graph request body"] = json.dumps(shown, ensure_ascii=False, sort_keys=True)
            if members:
                step.details["Graph member changes"] = json.dumps({"add": members.adds, "remove": members.removes})
            manager = next((c for c in export.changes if c.name == "manager"), None)
            if manager is not None:
                step.details["Graph manager change"] = (f"PUT manager/$ref -> {manager.new}" if manager.new
                                                        else "DELETE manager/$ref")
            return
        # -- the write
        try:
            target_id = self._write(run, export, kind, body, members, target_id, step)
        except TargetError as exc:
            self._explain_conflict(exc, run)
            raise
        step.details["Graph request"] = f"{method} {url}"
        step.details["Graph request body"] = json.dumps(shown, ensure_ascii=False, sort_keys=True)
        # -- read back and confirm
        confirmed = self.graph.get(kind, target_id, self._select(kind, run))
        if confirmed is None:
            raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                             f"The {kind} {target_id} written to Microsoft Graph could not be read back.")
        if kind == "group":
            confirmed["members"] = self.graph.member_ids(target_id)
        elif any(c.name == "manager" for c in export.changes):
            confirmed["manager"] = self.graph.manager_id(target_id)
        mismatched = []
        for c in export.changes:
            got = confirmed.get(c.name)
            if c.multi_valued:
                if {str(v).lower() for v in got or []} != {str(v).lower() for v in c.new or []}:
                    mismatched.append(c.name)
            elif got != c.new and not (c.new is None and got in (None, "")):
                mismatched.append(c.name)
        result.target_identity = ProvisioningIdentity(id=target_id, type=kind,
                                                      name=confirmed.get("userPrincipalName")
                                                      or confirmed.get("displayName"))
        assert run.mv_id is not None
        run.writes.connector_space = [cs for cs in run.writes.connector_space if cs.connector != ENTRA]
        run.writes.connector_space.append(CSObject(connector=ENTRA, anchor=target_id, dn=None, object_type=kind,
                                                   attributes={k: v for k, v in confirmed.items()
                                                               if not k.startswith("@")}))
        run.writes.joins.append((ENTRA, target_id, run.mv_id))
        if mismatched:
            raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                             "After the export, Microsoft Graph shows other values for: " + ", ".join(mismatched))
        step.details["Export step result"] = "success"
        step.details["Confirmed by read-back"] = "True"

    def _write(self, run: _Run, export: planlib.PendingExport, kind: str, body: dict[str, Any],
               members: planlib.AttributeChange | None, target_id: str | None, step: ProvisioningStep) -> str:
        """POST or PATCH the object, then its member changes; returns the Entra object id."""
        assert self.graph is not None
        if export.operation == Action.CREATE:
            create_body = dict(body)
            if kind == "user":
                # Graph requires a password to create a user; pybridge never syncs password hashes, so the
                # user gets an unguessable one nobody knows, and must set their own (SSPR, TAP or an admin reset).
                create_body["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": random_password()}
            else:
                create_body.setdefault("mailEnabled", False)
                create_body.setdefault("securityEnabled", True)
                if members and members.adds:
                    create_body["members@odata.bind"] = [f"{self.graph.base}/directoryObjects/{m}"
                                                         for m in members.adds[:20]]
            created = self._create_once(kind, create_body, run, step)
            target_id = created["id"]
            if members and kind == "group" and len(members.adds) > 20:
                batches = self.graph.change_members(target_id, members.adds[20:], [])
                step.details["Member changes"] = f"{len(members.adds)} added ({batches} $batch request(s))"
        else:
            assert target_id is not None
            if body:
                self.graph.update(kind, target_id, body)
            if members and (members.adds or members.removes):
                batches = self.graph.change_members(target_id, members.adds, members.removes)
                step.details["Member changes"] = (f"{len(members.adds)} added, {len(members.removes)} removed "
                                                  f"({batches} $batch request(s))")
        assert target_id is not None
        manager = next((c for c in export.changes if c.name == "manager"), None)
        if manager is not None and kind == "user":
            if manager.new:
                self.graph.set_manager(target_id, str(manager.new))
            elif manager.old:
                self.graph.remove_manager(target_id)
        return target_id

    # -- what Entra ID would refuse, found before anything is written (also in staging mode) ---------------
    @staticmethod
    def _raise(finding: troubleshoot.Finding | None) -> None:
        if finding is not None:
            raise StepFailed(Status.FAILURE, finding.code, finding.reason, finding.action, finding.details)

    def _check_before_export(self, run: _Run, export: planlib.PendingExport) -> None:
        assert run.ad_object is not None and self.graph is not None
        attrs = run.ad_object.attributes
        if run.target_type == "group":
            self._raise(troubleshoot.unwritable_group(attrs))
        self._raise(troubleshoot.large_object(run.object_class or "", attrs))
        if run.target_type != "user" or export.is_empty:
            return
        changed = {c.name for c in export.changes}
        creating = export.operation == Action.CREATE
        desired = export.desired
        upn, mail = desired.get("userPrincipalName"), desired.get("mail")
        if upn and (creating or "userPrincipalName" in changed):
            current = (run.entra_object or {}).get("userPrincipalName")
            self._raise(troubleshoot.upn_domain(str(upn), self._domains(), current))
        if creating or {"userPrincipalName", "mail"} & changed:
            clauses = []
            if upn:
                clauses.append(f"userPrincipalName eq {odata_quote(str(upn))}")
            if mail:
                clauses += [f"mail eq {odata_quote(str(mail))}",
                            f"proxyAddresses/any(p:p eq {odata_quote('smtp:' + str(mail))})"]
            if clauses:
                own = (run.entra_object or {}).get("id")
                select = ("id", "userPrincipalName", "displayName", "mail", "proxyAddresses",
                          "onPremisesImmutableId", "onPremisesSyncEnabled")
                others = [o for o in self.graph.find("user", " or ".join(clauses), select) if o.get("id") != own]
                self._raise(troubleshoot.conflicts(desired, others))
                if creating and mail:
                    groups = self.graph.find("group", f"proxyAddresses/any(p:p eq {odata_quote('smtp:' + str(mail))})"
                                             f" or mail eq {odata_quote(str(mail))}",
                                             ("id", "displayName", "mail", "proxyAddresses", "onPremisesSyncEnabled"))
                    for g in groups:
                        g.setdefault("@odata.type", "#microsoft.graph.group")
                    self._raise(troubleshoot.type_mismatch("user", groups, str(mail)))

    def _domains(self) -> list[dict[str, Any]]:
        assert self.graph is not None
        if self._domain_cache is None:
            self._domain_cache = self.graph.call("GET", "/domains", what="Reading the tenant's domains",
                                                 params={"$select": "id,isVerified,isDefault,isInitial,"
                                                                    "authenticationType"}).get("value", [])
        return self._domain_cache

    def _explain_conflict(self, exc: TargetError, run: _Run) -> None:
        """Graph answered ObjectConflict: name the object that holds the value."""
        if exc.error_code != "AttributeValueMustBeUnique" or run.export is None:
            return
        assert self.graph is not None
        desired = run.export.desired
        clauses = []
        if desired.get("userPrincipalName"):
            clauses.append(f"userPrincipalName eq {odata_quote(str(desired['userPrincipalName']))}")
        if desired.get("mail"):
            clauses.append(f"mail eq {odata_quote(str(desired['mail']))}")
        own = (run.entra_object or {}).get("id")
        try:
            others = [o for o in self.graph.find("user", " or ".join(clauses), (
                "id", "userPrincipalName", "displayName", "mail", "proxyAddresses", "onPremisesImmutableId",
                "onPremisesSyncEnabled")) if o.get("id") != own] if clauses else []
        except PyBridgeError:
            others = []
        finding = troubleshoot.conflicts(desired, others)
        if finding is not None:
            raise StepFailed(Status.FAILURE, finding.code, finding.reason + f" (Graph: {exc.message})",
                             finding.action) from None

    def _create_once(self, kind: str, body: dict[str, Any], run: _Run, step: ProvisioningStep) -> dict[str, Any]:
        """POST the new object; when the answer is lost, look it up before anything else, never create twice.

        Graph may still be committing a create whose answer was lost, so the lookup is repeated with backoff
        (within the run's wait budget). A user not found is created again: Graph's unique userPrincipalName
        makes a duplicate impossible. A group has nothing unique, so it is never posted twice in one run.
        """
        assert self.graph is not None
        try:
            return self.graph.create(kind, body)
        except TargetError as exc:
            if not (exc.context.get("uncertain") or exc.status in (500, 502, 504)):
                raise
            lost = exc
        budget = self.graph.budget
        for attempt in range(4):
            found = self._find_created(kind, body)
            if found is not None:
                step.details["Create answer lost"] = "the object was found by " + (
                    "onPremisesImmutableId" if kind == "user" else "mailNickname and displayName")
                return found
            delay = budget.next_delay(attempt, None)
            if delay is None:
                break
            budget.wait(max(delay, 0.5 * 2 ** attempt))
        if kind == "user":
            step.details["Create answer lost"] = "not found; created again"
            return self.graph.create(kind, body)
        raise StepFailed(Status.FAILURE, "CreateNotConfirmed",
                         f"Creating the group failed without an answer ({lost.message}), and the group is not in "
                         "Entra ID yet. Graph may still be committing it, so pybridge does not post it again.",
                         "Run the sync again in a minute: it finds the group if Graph created it, and creates it "
                         "otherwise.")

    def _find_created(self, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        assert self.graph is not None
        if kind == "user":
            hits = self.graph.find("user", f"onPremisesImmutableId eq {odata_quote(body['onPremisesImmutableId'])}",
                                   ("id",))
        else:  # Graph offers no source anchor on groups: the values just written identify the new group
            hits = self.graph.find("group", f"mailNickname eq {odata_quote(body['mailNickname'])} and "
                                   f"displayName eq {odata_quote(body['displayName'])}", ("id",))
        return hits[0] if len(hits) == 1 else None

    # -- commit --------------------------------------------------------------------------------------
    def _commit(self, run: _Run, result: SyncResult, options: Options) -> None:
        if options.what_if:
            return
        from .report.adsync import to_adsync
        run.writes.run = {"id": result.run_id, "started": iso(result.start_time), "ended": iso(result.end_time),
                          "dn": result.distinguished_name, "action": result.action.value,
                          "status": result.status_info.status.value, "error_code": result.status_info.error_code,
                          "staging": result.staging_mode, "result": to_adsync(result)}
        if result.status_info.status != Status.SUCCESS:
            # a run that stopped early records only what it established before stopping
            failed_at = next((s.number for s in result.steps if s.status in (Status.FAILURE,)), 11)
            if failed_at <= 8:
                run.writes.metaverse, run.writes.joins = [], []
                run.writes.connector_space = [cs for cs in run.writes.connector_space if cs.connector != ENTRA]
            if failed_at <= 7 or result.status_info.status == Status.SKIPPED:
                run.writes.connector_space = []
        self.store.commit(run.writes)
