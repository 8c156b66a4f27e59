"""Step 10: pending export -> Entra ID, then confirmed by reading it back.

Before anything is written (and in staging mode too) the export is checked for what
Entra ID would refuse. A create whose answer is lost is looked up before anything else:
one AD object never becomes two Entra objects.
"""
from __future__ import annotations

import json
from typing import cast

from ..core import troubleshoot
from ..core.model import Action, CloudObject, ProvisioningIdentity, ProvisioningStep, Status, iso, utcnow
from ..core.plan import AttributeChange, PendingExport, attribute_info, graph_body
from ..core.rules.engine import GRAPH_WRITABLE_TYPES
from ..errors import PyBridgeError, TargetError
from ..store import ENTRA, CSObject, PendingCreate
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
    if export.not_cleared:
        step.details[d.NOT_CLEARED] = ", ".join(export.not_cleared) + \
            ": the rules would clear them, and Microsoft Graph does not allow an empty value; Entra keeps its value"
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
        target_id, created = _write(run, step, body, members, target_id)
    except TargetError as exc:
        _explain_conflict(run, exc)
        raise
    _show_request(step, described.request, described.body)
    _confirm(run, step, target_id, created)


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
           target_id: str | None) -> tuple[str, bool]:
    """Create or update the object, then its members and manager; returns its id and whether it is new."""
    tenant, kind, export = run.tenant, run.target_type, run.export
    creating = export.operation == Action.CREATE
    adds = list(members.adds) if members else []
    removes = list(members.removes) if members else []
    bound = 0
    try:
        if creating:
            target_id, bound = _create(run, step, body, adds if kind == "group" else [])
            adds = adds[bound:]
        else:
            assert target_id is not None  # an update always has a matched object
            if body:
                tenant.update(kind, target_id, body)
        if kind == "group" and (adds or removes):
            batches = tenant.change_members(target_id, adds, removes, added_before=bound)
            total = len(members.adds) if members else 0
            step.details[d.MEMBER_CHANGES] = (f"{total} added ({batches} $batch request(s))" if creating else
                                              f"{total} added, {len(removes)} removed ({batches} $batch request(s))")
        manager = _change(export, "manager")
        if manager is not None and kind == "user":
            if manager.new:
                tenant.set_manager(target_id, str(manager.new))
            elif manager.old:
                tenant.remove_manager(target_id)
    except TargetError as exc:
        if target_id is None or not exc.context.get("replicating"):
            raise
        # the object exists and is joined; Graph does not show it (or an object it names) everywhere yet
        raise StepFailed(Status.FAILURE, "EntraReplicationDelay",
                         f"The {kind} {target_id} is written, but Microsoft Graph does not show it (or an object it "
                         f"refers to) everywhere yet, so the rest of the export waits: {exc.message}",
                         "Run the sync again in a minute: the object is recorded, so the next run completes its "
                         "members and manager without creating it again.") from None
    return target_id, creating


def _create(run: RunState, step: ProvisioningStep, body: Properties, members: list[str]) -> tuple[str, int]:
    """Create the object exactly once: recorded before it is sent, its id recorded from the answer before any
    follow-up call. Returns the new id and how many of *members* the create carried."""
    tenant, kind = run.tenant, run.target_type
    lookup: Properties = {k: body[k] for k in ("userPrincipalName", "mailNickname", "displayName") if k in body}
    intent = PendingCreate(run.connector.name, run.anchor_guid or "", kind, lookup, None, iso(utcnow()), None)
    run.store.record_create_intent(run.writes, intent)  # StateError: nothing is sent
    bound = min(len(members), tenant.members_in_create())
    created = _create_once(run, step, body, members[:bound])
    target_id = str(created["id"])
    answer = CSObject(connector=ENTRA, anchor=target_id, dn=None, object_type=kind, attributes=dict(created))
    run.store.record_created(intent, target_id, run.mv_id, iso(utcnow()), answer)
    run.writes.joins.append((ENTRA, target_id, run.mv_id))
    run.writes.connector_space.append(answer)  # replaced by what the read-back shows, once Graph shows it
    return target_id, bound


def _create_once(run: RunState, step: ProvisioningStep, body: Properties, members: list[str]) -> Properties:
    """POST the new object; when the answer is lost, look it up before anything else, never create twice.

    Graph may still be committing a create whose answer was lost, so the lookup (by source anchor, then by
    the UPN given) is repeated with backoff within the run's wait budget. A user not found is created again:
    Graph's unique userPrincipalName makes a duplicate impossible, and a conflict with a user carrying this
    object's own source anchor is that same user. A group has nothing unique, so it is never posted twice.
    """
    tenant, kind, anchor = run.tenant, run.target_type, run.source_anchor
    try:
        return tenant.create(kind, body, members=members, source_anchor=anchor)
    except TargetError as exc:
        if not (exc.context.get("uncertain") or exc.status in (500, 502, 504)):
            # Graph answered and refused the create: nothing was made, so the recorded intent is settled (left in
            # place it would make the next runs look for a group that never existed)
            run.writes.confirmed_creates.append((run.connector.name, run.anchor_guid or ""))
            raise
        lost = exc
    for attempt in range(LOST_CREATE_LOOKUPS):
        found = tenant.find_created(kind, anchor, body)
        if found is not None:
            step.details[d.CREATE_ANSWER_LOST] = "the object was found by " + (
                "onPremisesImmutableId" if kind == "user" else "its source anchor property"
                if run.config.entra.group_anchor_property else "mailNickname and displayName")
            return found
        if not tenant.backoff(attempt, f"the {kind} was created without an answer, and Microsoft Graph may "
                                       "still be committing it"):
            break
    if kind == "user":
        step.details[d.CREATE_ANSWER_LOST] = "not found; created again"
        try:
            return tenant.create(kind, body, members=members, source_anchor=anchor)
        except TargetError as exc:
            itself = _holding_own_anchor(run, exc)
            if itself is None:
                raise
            step.details[d.CREATE_ANSWER_LOST] = "the retry met the first create: the object was found by its " \
                                                 "userPrincipalName and source anchor"
            return itself
    raise StepFailed(Status.FAILURE, "CreateNotConfirmed",
                     f"Creating the group failed without an answer ({lost.message}), and the group is not in "
                     "Entra ID yet. Graph may still be committing it, so pybridge does not post it again.",
                     "Run the sync again in a minute: it finds the group if Graph created it. If it is still "
                     "missing an hour later, pybridge creates it.")


def _holding_own_anchor(run: RunState, exc: TargetError) -> Properties | None:
    """A uniqueness conflict whose holder carries this object's own source anchor: the object itself.

    Graph names the holder in the conflict (ConflictingObjects); when the lookup by UPN does not show it yet
    (replication), it is read by id, waiting within the run's budget. A holder Graph still does not show is
    almost certainly the first create, made moments ago: the run stops there (EntraReplicationDelay) with the
    create still on record, and creates nothing more.
    """
    if exc.error_code != "AttributeValueMustBeUnique":
        return None
    upn = run.export.desired.get("userPrincipalName")
    holders = run.tenant.address_holders(user_principal_name=str(upn) if upn else None, kinds=("user",))
    found = next((h.properties for h in holders if h.properties.get("onPremisesImmutableId") == run.source_anchor),
                 None)
    if found is not None or holders:
        return found
    for holder_id in cast("list[str]", exc.context.get("holders") or []):  # classify() files the ids as a list
        holder = run.tenant.read_back("user", str(holder_id))
        if holder is None:
            raise StepFailed(Status.FAILURE, "EntraReplicationDelay",
                             f"The answer to the create of this user was lost, and sending it again was refused: "
                             f"Entra object {holder_id} already holds its userPrincipalName {upn}. Microsoft Graph "
                             f"does not show {holder_id} yet (Entra ID replicates new objects with a delay), so it "
                             "cannot be confirmed to be this user, though it almost certainly is the first create. "
                             "Nothing more is created.",
                             "Run the sync again in a minute: pybridge finds the user by its source anchor once "
                             "Microsoft Graph shows it.")
        if holder.get("onPremisesImmutableId") == run.source_anchor:
            return holder
    return None


def _confirm(run: RunState, step: ProvisioningStep, target_id: str, created: bool) -> None:
    """Read the object back: what Graph now holds is the Entra connector space, and must match the export.

    A new object Graph does not show yet (replication) is a warning, not a failure: it is joined, and the
    next run confirms it without creating anything.
    """
    tenant, kind, export = run.tenant, run.target_type, run.export
    properties = read_properties(run)
    confirmed = tenant.read_back(kind, target_id, properties) if created else tenant.get(kind, target_id, properties)
    run.result.target_identity = ProvisioningIdentity(id=target_id, type=kind)
    if confirmed is None and created:
        run.warn(f"The {kind} was created as {target_id}, but Microsoft Graph does not show it yet (Entra ID "
                 "replicates new objects with a delay); it is joined, and the next sync confirms it without "
                 "creating anything.")
        run.result.target_identity.name = str(export.desired.get("userPrincipalName")
                                              or export.desired.get("displayName") or "") or None
        step.details[d.EXPORT_STEP_RESULT] = "success"
        step.details[d.CONFIRMED_BY_READ_BACK] = "Not yet: Microsoft Graph does not show the new object yet"
        return
    if confirmed is None:
        raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                         f"The {kind} {target_id} written to Microsoft Graph could not be read back.")
    run.writes.confirmed_creates.append((run.connector.name, run.anchor_guid or ""))
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
    run.result.target_identity.name = confirmed.get("userPrincipalName") or confirmed.get("displayName")
    _report_provisioning_errors(run, confirmed)
    run.writes.connector_space = [cs for cs in run.writes.connector_space if cs.connector != ENTRA]
    run.writes.connector_space.append(CSObject(connector=ENTRA, anchor=target_id, dn=None, object_type=kind,
                                               attributes=dict(confirmed)))
    run.writes.joins.append((ENTRA, target_id, run.mv_id))
    if mismatched:
        raise StepFailed(Status.FAILURE, "ExportNotConfirmed",
                         "After the export, Microsoft Graph shows other values for: " + ", ".join(mismatched))
    step.details[d.EXPORT_STEP_RESULT] = "success"
    step.details[d.CONFIRMED_BY_READ_BACK] = "True"


def _report_provisioning_errors(run: RunState, obj: Properties) -> None:
    """Conflicts Entra ID recorded on the object itself (duplicate attribute resiliency writes them there)."""
    for error in obj.get("onPremisesProvisioningErrors") or []:
        run.warn(f"Entra ID records a provisioning error on this object: {error.get('category') or 'error'} on "
                 f"{error.get('propertyCausingError') or 'a property'} (value \"{error.get('value')}\", since "
                 f"{error.get('occurredDateTime')}).")


# -- what Entra ID would refuse, found before anything is written (also in staging mode) --------------------
# proxyAddresses (and mail) are unique across users, groups and organizational contacts (Graph's user resource,
# proxyAddresses; tshoot-connect-sync-errors, AttributeValueMustBeUnique).
ADDRESS_SPACE = ("user", "group", "contact")


def _check_before_export(run: RunState, export: PendingExport) -> None:
    attrs = run.ad_object.attributes
    if run.target_type == "group":
        fail_on(troubleshoot.unwritable_group(attrs))
    fail_on(troubleshoot.large_object(run.object_class, attrs))
    if run.target_type != "user" or export.is_empty:
        return
    changed = {c.name for c in export.changes}
    creating = export.operation == Action.CREATE
    upn, mail = _upn_and_mail(run)
    if upn and (creating or "userPrincipalName" in changed):
        current = (run.entra_object or {}).get("userPrincipalName")
        fail_on(troubleshoot.upn_domain(upn, run.tenant.verified_domains(), current))
    addresses = _addresses(run)
    entra = run.entra_object or {}
    held_now = {a.lower() for a in troubleshoot.smtp_addresses(entra.get("proxyAddresses") or [], entra.get("mail"))}
    if creating or {"userPrincipalName", "mail"} & changed or {a.lower() for a in addresses} != held_now:
        holders = _other_holders(run, ADDRESS_SPACE)
        if creating and mail:
            primary = [h for h in holders if h.kind != "user" and _holds(h, mail)]
            fail_on(troubleshoot.type_mismatch("user", primary, mail))
        if holders:
            initial = troubleshoot.initial_domain(run.tenant.verified_domains())
            fail_on(troubleshoot.conflicts(upn, addresses, holders, initial))
    if not creating and entra.get("id"):
        _check_privileged(run, entra, changed)


def _upn_and_mail(run: RunState) -> tuple[str | None, str | None]:
    desired = run.export.desired
    upn, mail = desired.get("userPrincipalName"), desired.get("mail")
    return (str(upn) if upn else None), (str(mail) if mail else None)


def _addresses(run: RunState) -> list[str]:
    """Every SMTP address the object would hold: its mail and the smtp: values of its proxyAddresses."""
    outbound = run.rules.outbound
    proxies = (outbound.values.get("proxyAddresses") if outbound else None) or []
    return troubleshoot.smtp_addresses(proxies if isinstance(proxies, list) else [proxies], _upn_and_mail(run)[1])


def _holds(holder: CloudObject, address: str) -> bool:
    p = holder.properties
    held = {str(a).split(":", 1)[-1].lower() for a in p.get("proxyAddresses") or []}
    return address.lower() == str(p.get("mail") or "").lower() or address.lower() in held


def _other_holders(run: RunState, kinds: tuple[str, ...]) -> list[CloudObject]:
    """Objects other than this one's Entra counterpart that hold its UPN or one of its SMTP addresses."""
    upn, _ = _upn_and_mail(run)
    own = (run.entra_object or {}).get("id")
    holders = run.tenant.address_holders(user_principal_name=upn, addresses=_addresses(run), kinds=kinds)
    return [h for h in holders if h.properties.get("id") != own]


def _check_privileged(run: RunState, user: Properties, changed: set[str]) -> None:
    """Graph refuses an app's change of a privileged user's sensitive properties: say so before sending it."""
    if not changed & troubleshoot.SENSITIVE_USER_PROPERTIES:
        return
    roles = run.tenant.directory_roles(str(user["id"]))
    if roles:
        fail_on(troubleshoot.privileged_user(user, sorted(changed), roles, run.tenant.app_directory_roles()))


def _explain_conflict(run: RunState, exc: TargetError) -> None:
    """Graph answered ObjectConflict: name the object that holds the value."""
    if exc.error_code != "AttributeValueMustBeUnique":
        return
    upn, _ = _upn_and_mail(run)
    try:
        others = _other_holders(run, ADDRESS_SPACE)
        initial = troubleshoot.initial_domain(run.tenant.verified_domains()) if others else ""
    except PyBridgeError:
        return
    finding = troubleshoot.conflicts(upn, _addresses(run), others, initial)
    if finding is not None:
        raise StepFailed(Status.FAILURE, finding.code, finding.reason + f" (Graph: {exc.message})",
                         finding.action) from None
