"""Step 9 and the sync rules it applies: inbound rules -> metaverse, join, outbound rules -> pending export.

The rules are evaluated once, by :func:`evaluate_rules`, which the step table runs at the
start of step 8 because matching needs their values (UPN, mail, the Entra type); a rule
that fails or filters the object is reported here, by step 9, as Entra Connect does.
"""
from __future__ import annotations

from typing import Any

from ..core import dn as dnlib
from ..core import plan as planlib
from ..core import validate
from ..core.model import Action, ProvisioningStep, Status
from ..core.rules import RuleEvaluationError
from ..core.rules.engine import GRAPH_WRITABLE_TYPES
from ..store import ENTRA, CSObject, new_id
from . import details as d
from .state import RulesOutcome, RunState, StepFailed


def evaluate_rules(run: RunState, step: ProvisioningStep) -> None:
    """Run the inbound and outbound rules once; a rule's failure is kept for step 9 to report."""
    connector, obj = run.connector, run.ad_object
    fqdn = dnlib.domain_fqdn(run.partition)
    user = connector.username
    netbios = user.split("\\", 1)[0].upper() if "\\" in user else fqdn.split(".", 1)[0].upper()
    ctx = {"Domain.FQDN": fqdn, "Domain.Netbios": netbios, "Forest.FQDN": fqdn, "Connector.Name": connector.name,
           "dn": obj.dn}
    outcome = run.rules = RulesOutcome()
    try:
        outcome.inbound = run.env.rules.inbound(connector.name, run.object_class, obj.attributes, ctx)
        if outcome.inbound.excluded:
            return
        mv = {k: (v if isinstance(v, list) else [v]) for k, v in outcome.inbound.values.items()}
        outcome.outbound = run.env.rules.outbound(outcome.inbound.mv_type or "person", mv, ctx)
    except RuleEvaluationError as exc:
        outcome.error = exc


def synchronize(run: RunState, step: ProvisioningStep) -> None:
    """9. Inbound rules -> metaverse, join, outbound rules -> pending export (validated as Entra ID would)."""
    _report_filtered(run, step)
    inbound, outbound = run.rules.inbound, run.rules.outbound
    assert inbound is not None and outbound is not None  # _report_filtered stops every other case
    connector = run.connector
    mv_type = inbound.mv_type or "person"
    existing = run.store.mv_for(connector.name, run.anchor_guid or "")
    mv_id = existing[0] if existing else run.store.mv_by_anchor(run.source_anchor)
    operation = "Add" if mv_id is None else "Update"
    run.mv_id = mv_id = mv_id or new_id()
    mv_attrs = {k: (v if isinstance(v, list) else [v]) for k, v in inbound.values.items()}
    if existing and existing[1] == mv_attrs:
        operation = "None"
    run.writes.metaverse.append((mv_id, mv_type, run.source_anchor, mv_attrs))
    run.writes.joins.append((connector.name, run.anchor_guid or "", mv_id))
    exported = run.rules.exported_properties()
    desired = {k: v for k, v in outbound.values.items() if k in exported}
    _resolve_references(run, desired, exported)
    export = run.export = planlib.compute(run.target_type, desired, run.entra_object, exported)
    invalid = validate.problems(run.target_type, desired, export.operation == Action.CREATE,
                                outbound.values.get("proxyAddresses"))
    if invalid and run.target_type in GRAPH_WRITABLE_TYPES:
        step.details[d.SYNC_STEP_RESULT] = "failure"
        raise StepFailed(Status.FAILURE, "IdentityDataValidationFailed",
                         "Entra ID would refuse this object: " + "; ".join(invalid) + ".",
                         "Correct the value in Active Directory (the attribute the rule flows from), then sync "
                         "again.")
    run.result.action = export.operation
    run.result.modified_properties = planlib.modified_properties(export)
    if run.entra_object is not None and run.target_type in GRAPH_WRITABLE_TYPES:
        run.writes.joins.append((ENTRA, run.entra_object["id"], mv_id))
        run.writes.connector_space.append(CSObject(
            connector=ENTRA, anchor=run.entra_object["id"], dn=None, object_type=run.target_type,
            attributes=dict(run.entra_object), pending_export=_pending_json(export)))
    step.details[d.SYNC_STEP_RESULT] = "success"
    step.details[d.OUT_OF_SCOPE_RULES] = "; ".join(inbound.out_of_scope + outbound.out_of_scope) or "(none)"
    step.details[d.MV_OBJECT_TYPE] = mv_type
    step.details[d.MV_OBJECT_OPERATION] = operation
    step.details[d.source_in_connector_space(connector.name)] = run.ad_object.dn
    step.details[d.CONNECTED_MV_OBJECT] = mv_id
    step.details[d.connected_target(run.config.entra.name)] = \
        (run.entra_object or {}).get("id") or "(none: pending add)"
    step.details[d.PENDING_EXPORT] = {Action.CREATE: "Add", Action.UPDATE: "Update"}.get(export.operation, "None")
    shown = sorted(t for t in outbound.not_exportable if t in outbound.values)
    if shown:
        step.details[d.NOT_EXPORTABLE] = ", ".join(shown)
    if run.unresolved:
        step.details[d.UNRESOLVED_REFERENCES] = "; ".join(run.unresolved)
    d.show_attributes(step, inbound.info + outbound.info)
    run.sync_rule_of = {a.name: a.sync_rule or "" for a in outbound.info}


def _report_filtered(run: RunState, step: ProvisioningStep) -> None:
    """A rule that failed, or filtered the object out, ends the run here."""
    rules = run.rules
    if rules.error is not None:
        exc = rules.error
        raise StepFailed(Status.FAILURE, exc.error_code, exc.message,
                         exc.recommended_action or "Correct the sync rule named in the reason (pybridge rules show "
                                                   "NAME), or the attribute value it cannot handle.")
    assert rules.inbound is not None
    if rules.inbound.excluded:
        rule, condition = rules.inbound.excluded
        step.details[d.OUT_OF_SCOPE_RULES] = "; ".join(rules.inbound.out_of_scope) or "(none)"
        raise StepFailed(Status.SKIPPED, "FilteredObject", f'Object is filtered by sync rule "{rule}": {condition}.',
                         f"This is expected for system and service objects. If the object should sync, change "
                         f'the attribute named in the reason, or customise the rule "{rule}" (a rule of your own '
                         "with a lower precedence number, under rules.files).")
    assert rules.outbound is not None
    if rules.outbound.excluded:
        rule, condition = rules.outbound.excluded
        step.details[d.OUT_OF_SCOPE_RULES] = "; ".join(rules.outbound.out_of_scope) or "(none)"
        raise StepFailed(Status.SKIPPED, "FilteredObject",
                         f'Object is not provisioned to Entra ID by sync rule "{rule}": {condition}.',
                         "Entra Connect exports only security groups and mail-enabled groups; make the group a "
                         f'security group if it should sync, or customise the rule "{rule}".')


def _resolve_references(run: RunState, desired: dict[str, Any], exported: list[str]) -> None:
    """Member and manager DNs -> Entra ids through the joins; unresolved ones are left out, as Entra Connect does."""
    connector = run.connector.name
    if run.target_type == "group":
        refs = [str(v) for v in (desired.get("members") or [])]
        resolved = run.store.resolve_references(connector, refs)
        desired["members"] = [i for i in resolved.values() if i]
        run.unresolved = [dn for dn, i in resolved.items() if not i]
        run.result.extra[d.RESOLVED_REFERENCES] = resolved
        if "members" not in exported:
            exported.append("members")
    if run.target_type == "user" and desired.get("manager"):
        ref = str(desired["manager"])
        manager_id = run.store.resolve_references(connector, [ref]).get(ref)
        run.result.extra[d.RESOLVED_REFERENCES] = {ref: manager_id}
        if manager_id:
            desired["manager"] = manager_id
        else:  # Entra Connect leaves an unresolved reference out of the export (and keeps what Entra has)
            run.unresolved.append(ref)
            desired.pop("manager")
            exported.remove("manager")


def _pending_json(export: planlib.PendingExport) -> dict[str, Any] | None:
    if export.is_empty:
        return None
    return {"operation": export.operation.value,
            "changes": [{"name": c.name, "old": c.old, "new": c.new, "adds": c.adds, "removes": c.removes}
                        for c in export.changes]}
