"""Step 10: pending export -> Entra ID, then confirmed by reading it back.

Before anything is written (and in staging mode too) the export is checked for what
Entra ID would refuse. A create whose answer is lost is looked up before anything else:
one AD object never becomes two Entra objects.
"""
from __future__ import annotations

import json

from ..core import troubleshoot
from ..core.model import Action, CloudObject, ProvisioningIdentity, ProvisioningStep, Status
from ..core.plan import AttributeChange, PendingExport, attribute_info, graph_body
from ..core.rules.engine import GRAPH_WRITABLE_TYPES
from ..errors import PyBridgeError, TargetError
from ..store import ENTRA, CSObject
from . import details as d
from .import_steps import read_properties
from .ports import Properties
from .state import RunState, StepFailed, fail_on

# How often a lost create is looked up before giving up (each time after a wait within the run's budget).
LOST_CREATE_LOOKUPS = 4


def export_object(run: RunState, step: ProvisioningStep) -> None:
    """10. Pending export -> Microsoft Graph (or, in staging mode, exactly what would be sent)."""
    kind = run.target_type
    if kind not in GRAPH_WRITABLE_TYPES:
        _refuse_unwritable(run)
    export = run.export
    body = graph_body(export)
    members = _change(export, "members")
    infos = attribute_info(export, run.sync_rule_of)
    if infos:
        d.show_attributes(step, infos)
    _check_before_export(run, export)
    if export.is_empty:
        step.details[d.EXPORT_STEP_RESULT] = "No changes to export"
        return
    target_id = (run.entra_object or {}).get("id")
    described = run.tenant.describe_write(kind, body, None if export.operation == Action.CREATE else target_id)
    if run.staging:
        step.description = "[Staging Mode] " + step.description
        step.details[d.EXPORT_STEP_RESULT] = "Not exported: staging mode" + (" (what-if)" if run.options.what_if
                                                                             else "")
        if body or export.operation == Action.CREATE:
            _show_request(step, described.request, described.body)
        if members:
            step.details[d.GRAPH_MEMBER_CHANGES] = json.dumps({"add": members.adds, "remove": members.removes})
        manager = _change(export, "manager")
        if manager is not None:
            step.details[d.GRAPH_MANAGER_CHANGE] = run.tenant.describe_manager_change(
                str(manager.new) if manager.new else None)
        return
    step.details[d.EXPORT_STEP_RESULT] = d.EXPORT_FAILED_WHILE_SENDING  # until the read-back says success
    try:
        target_id = _write(run, step, body, members, target_id)
    except TargetError as exc:
        _explain_conflict(run, exc)
        raise
    _show_request(step, described.request, described.body)
    _confirm(run, step, target_id)


def _refuse_unwritable(run: RunState) -> None:
    """Graph writes users and groups only; say what this object is and where it can be synced."""
    object_class = run.object_class.lower()
    if object_class == "group":
        fail_on(troubleshoot.unwritable_group(run.ad_object.attributes))
    if (run.target_type or object_class) == "contact":
        raise StepFailed(Status.FAILURE, "UnsupportedObjectType",
                         f'Microsoft Graph cannot create or update contacts ("{run.dn}"): Graph offers no '
                         "write API for organizational contacts.",
                         "Sync contacts with Entra Connect or Cloud Sync, or create them as mail contacts in "
                         "Exchange Online.")
    outbound = run.rules.outbound
    why = ""
    if outbound is not None and outbound.excluded:
        why = f' (no outbound rule provisions it: "{outbound.excluded[0]}": {outbound.excluded[1]})'
    raise StepFailed(Status.FAILURE, "UnsupportedObjectType",
                     f'Microsoft Graph cannot create or update this object of type "{run.object_class}"{why}.',
                     "Check the outbound sync rules for this object type, or sync it with Entra Connect.")


def _change(export: PendingExport, name: str) -> AttributeChange | None:
    return next((c for c in export.changes if c.name == name), None)


def _show_request(step: ProvisioningStep, request: str, body: Properties) -> None:
    step.details[d.GRAPH_REQUEST] = request
    step.details[d.GRAPH_REQUEST_BODY] = json.dumps(body, ensure_ascii=False, sort_keys=True)


def _write(run: RunState, step: ProvisioningStep, body: Properties, members: AttributeChange | None,
           target_id: str | None) -> str:
    """Create or update the object, then its members and manager; returns the Entra object id."""
    tenant, kind, export = run.tenant, run.target_type, run.export
    if export.operation == Action.CREATE:
        adds = members.adds if members and kind == "group" else []
        created, batches = _create_once(run, step, body, adds)
        target_id = str(created["id"])
        if batches:
            step.details[d.MEMBER_CHANGES] = f"{len(adds)} added ({batches} $batch request(s))"
    else:
        assert target_id is not None  # an update always has a matched object
        if body:
            tenant.update(kind, target_id, body)
        if members and (members.adds or members.removes):
            batches = tenant.change_members(target_id, members.adds, members.removes)
            step.details[d.MEMBER_CHANGES] = (f"{len(members.adds)} added, {len(members.removes)} removed "
                                              f"({batches} $batch request(s))")
    manager = _change(export, "manager")
    if manager is not None and kind == "user":
        if manager.new:
            tenant.set_manager(target_id, str(manager.new))
        elif manager.old:
            tenant.remove_manager(target_id)
    return target_id


def _create_once(run: RunState, step: ProvisioningStep, body: Properties,
                 members: list[str]) -> tuple[Properties, int]:
    """Create the object; when the answer is lost, look it up before anything else, never create twice.

    Graph may still be committing a create whose answer was lost, so the lookup is repeated with backoff
    (within the run's wait budget). A user not found is created again: Graph's unique userPrincipalName
    makes a duplicate impossible. A group has nothing unique, so it is never posted twice in one run.
    """
    tenant, kind = run.tenant, run.target_type
    try:
        return tenant.create(kind, body, members)
    except TargetError as exc:
        if not (exc.context.get("uncertain") or exc.status in (500, 502, 504)):
            raise
        lost = exc
    for attempt in range(LOST_CREATE_LOOKUPS):
        found = tenant.find_created(kind, body)
        if found is not None:
            step.details[d.CREATE_ANSWER_LOST] = "the object was found by " + (
                "onPremisesImmutableId" if kind == "user" else "mailNickname and displayName")
            return found, 0
        if not tenant.backoff(attempt, f"the {kind} was created without an answer, and Microsoft Graph may "
                                       "still be committing it"):
            break
    if kind == "user":
        step.details[d.CREATE_ANSWER_LOST] = "not found; created again"
        return tenant.create(kind, body, members)
    raise StepFailed(Status.FAILURE, "CreateNotConfirmed",
                     f"Creating the group failed without an answer ({lost.message}), and the group is not in "
                     "Entra ID yet. Graph may still be committing it, so pybridge does not post it again.",
                     "Run the sync again in a minute: it finds the group if Graph created it, and creates it "
                     "otherwise.")


def _confirm(run: RunState, step: ProvisioningStep, target_id: str) -> None:
    """Read the object back: what Graph now holds is the Entra connector space, and must match the export."""
    tenant, kind, export = run.tenant, run.target_type, run.export
    confirmed = tenant.get(kind, target_id, read_properties(run))
    if confirmed is None:
        raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                         f"The {kind} {target_id} written to Microsoft Graph could not be read back.")
    if kind == "group":
        confirmed["members"] = tenant.member_ids(target_id)
    elif _change(export, "manager") is not None:
        confirmed["manager"] = tenant.manager_id(target_id)
    mismatched = []
    for c in export.changes:
        got = confirmed.get(c.name)
        if c.multi_valued:
            if {str(v).lower() for v in got or []} != {str(v).lower() for v in c.new or []}:
                mismatched.append(c.name)
        elif got != c.new and not (c.new is None and got in (None, "")):
            mismatched.append(c.name)
    run.result.target_identity = ProvisioningIdentity(
        id=target_id, type=kind, name=confirmed.get("userPrincipalName") or confirmed.get("displayName"))
    run.writes.connector_space = [cs for cs in run.writes.connector_space if cs.connector != ENTRA]
    run.writes.connector_space.append(CSObject(connector=ENTRA, anchor=target_id, dn=None, object_type=kind,
                                               attributes=dict(confirmed)))
    run.writes.joins.append((ENTRA, target_id, run.mv_id))
    if mismatched:
        raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                         "After the export, Microsoft Graph shows other values for: " + ", ".join(mismatched))
    step.details[d.EXPORT_STEP_RESULT] = "success"
    step.details[d.CONFIRMED_BY_READ_BACK] = "True"


# -- what Entra ID would refuse, found before anything is written (also in staging mode) --------------------
def _check_before_export(run: RunState, export: PendingExport) -> None:
    attrs = run.ad_object.attributes
    if run.target_type == "group":
        fail_on(troubleshoot.unwritable_group(attrs))
    fail_on(troubleshoot.large_object(run.object_class, attrs))
    if run.target_type != "user" or export.is_empty:
        return
    changed = {c.name for c in export.changes}
    creating = export.operation == Action.CREATE
    desired = export.desired
    upn, mail = desired.get("userPrincipalName"), desired.get("mail")
    if upn and (creating or "userPrincipalName" in changed):
        current = (run.entra_object or {}).get("userPrincipalName")
        fail_on(troubleshoot.upn_domain(str(upn), run.tenant.verified_domains(), current))
    if (upn or mail) and (creating or {"userPrincipalName", "mail"} & changed):
        kinds = ("user", "group") if creating and mail else ("user",)
        holders = _other_holders(run, kinds)
        fail_on(troubleshoot.conflicts(desired, [h for h in holders if h.kind == "user"]))
        if creating and mail:
            fail_on(troubleshoot.type_mismatch("user", [h for h in holders if h.kind == "group"], str(mail)))


def _other_holders(run: RunState, kinds: tuple[str, ...]) -> list[CloudObject]:
    """Objects other than this one's Entra counterpart that hold its UPN or mail."""
    desired = run.export.desired
    upn, mail = desired.get("userPrincipalName"), desired.get("mail")
    own = (run.entra_object or {}).get("id")
    holders = run.tenant.address_holders(user_principal_name=str(upn) if upn else None,
                                         addresses=[str(mail)] if mail else [], kinds=kinds)
    return [h for h in holders if h.properties.get("id") != own]


def _explain_conflict(run: RunState, exc: TargetError) -> None:
    """Graph answered ObjectConflict: name the object that holds the value."""
    if exc.error_code != "AttributeValueMustBeUnique":
        return
    desired = run.export.desired
    if not (desired.get("userPrincipalName") or desired.get("mail")):
        return
    try:
        others = _other_holders(run, ("user",))
    except PyBridgeError:
        return
    finding = troubleshoot.conflicts(desired, others)
    if finding is not None:
        raise StepFailed(Status.FAILURE, finding.code, finding.reason + f" (Graph: {exc.message})",
                         finding.action) from None
