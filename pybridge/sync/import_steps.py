"""Steps 7-8: import the object from AD into its connector space, and its Entra counterpart into Entra's.

Step 8 finds the counterpart as Entra Connect does: the join this state recorded, then
hard match (onPremisesImmutableId = sourceAnchor), then soft match (UPN or primary
SMTP address), never onto an administrator and never onto another object's anchor.
"""
from __future__ import annotations

import datetime as dt

from ..core import plan as planlib
from ..core.model import AttributeInfo, ProvisioningIdentity, ProvisioningStep, Status, utcnow
from ..core.rules.engine import GRAPH_WRITABLE_TYPES
from ..core.values import display, display_list
from ..store import ENTRA, CSObject
from . import details as d
from .ports import Properties
from .state import REPLICATION_GRACE_SECONDS, RunState, StepFailed

_ALWAYS_MULTI_VALUED = ("member", "memberof", "objectclass", "proxyaddresses")


def import_source_object(run: RunState, step: ProvisioningStep) -> None:
    """7. AD object -> AD connector space (a group's members read completely, with ranged retrieval)."""
    connector, obj = run.connector, run.ad_object
    if run.object_class == "group":
        members = run.directory.read_members(obj.dn)
        obj.attributes["member"] = members.values
        if members.range_requests:
            step.details[d.RANGED_RETRIEVAL] = f"member: {members.range_requests + 1} request(s)"
    if run.anchor_guid is None:
        raise StepFailed(Status.FAILURE, "SourceAnchorMissing", f'Object "{obj.dn}" has no objectGUID.')
    previous = run.store.cs_object(connector.name, run.anchor_guid)
    attrs = dict(obj.attributes)
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
        infos.append(AttributeInfo(
            name=name, is_multi_valued=len(values) > 1 or name.lower() in _ALWAYS_MULTI_VALUED,
            type="Binary" if values and isinstance(values[0], bytes) else "String", value=display_list(values),
            operation="None" if old == values else ("Add" if old is None else "Update"), data_source=connector.name))
    run.writes.connector_space.append(CSObject(connector=connector.name, anchor=run.anchor_guid, dn=obj.dn,
                                               object_type=run.object_class, attributes=attrs))
    step.details[d.RUN_STEP_RESULT] = "success"
    step.details[d.in_connector_space(connector.name)] = "True"
    step.details[d.CS_OBJECT_TYPE] = run.object_class
    step.details[d.CS_OBJECT_OPERATION] = operation
    d.show_attributes(step, infos)


def import_target_object(run: RunState, step: ProvisioningStep) -> None:
    """8. The matching Entra object (join, hard match, soft match) -> Entra connector space."""
    entra = run.config.entra
    rules = run.rules
    if rules.error is not None or rules.excluded:
        step.details[d.RUN_STEP_RESULT] = "success"
        step.details[d.MATCH] = "Not searched: the sync rules do not project this object (see the Sync step)"
        return
    assert rules.inbound is not None and rules.outbound is not None  # no error and not excluded: both ran
    source_anchor = rules.inbound.values.get("sourceAnchor")
    if not source_anchor:
        raise StepFailed(Status.FAILURE, "SourceAnchorMissing",
                         f'Object "{run.ad_object.dn}" has no sourceAnchor value '
                         f"({run.config.sync.source_anchor} or objectGUID).")
    run.source_anchor = str(source_anchor)
    run.target_type = kind = (rules.outbound.target_type or "").lower()
    step.details[d.SOURCE_ANCHOR] = run.source_anchor
    if kind not in GRAPH_WRITABLE_TYPES:
        step.details[d.RUN_STEP_RESULT] = "success"
        step.details[d.MATCH] = (f"Not searched: Microsoft Graph cannot write objects of type "
                                 f'"{kind or run.object_class or None}"')
        return
    run.pending = run.store.pending_create(run.connector.name, run.anchor_guid or "")
    found = _joined(run) or _hard_match(run) or _created_earlier(run)
    if found is not None and run.pending is not None:  # the earlier create is settled: matched, or never made
        run.writes.confirmed_creates.append((run.pending.connector, run.pending.anchor))
    if found is None and kind == "user" and run.config.sync.soft_match:
        found = _soft_match(run)
    if found is not None:
        run.result.target_identity = ProvisioningIdentity(
            id=found.get("id"), type=kind, name=found.get("userPrincipalName") or found.get("displayName"))
        if kind == "group":
            found["members"] = run.tenant.member_ids(found["id"])
        elif _reads_manager(run) and ("manager" not in found or (found["manager"] is None and
                                                                 run.ad_object.attributes.get("manager"))):
            # not read with the joined object; or read as none while AD names one: asked on its own before
            # anything is written (a service that ignores $expand would otherwise look like a removed manager)
            found["manager"] = run.tenant.manager_id(found["id"])
    run.entra_object = found
    step.details[d.RUN_STEP_RESULT] = "success"
    step.details[d.in_connector_space(entra.name)] = str(found is not None)
    step.details[d.MATCH] = run.match if found is not None else \
        (run.match + "; " if run.match.startswith("The joined object") else "") + \
        "No matching object in Azure Active Directory (hard match" + \
        (" and soft match" if run.config.sync.soft_match and kind == "user" else "") + "); the export creates it"
    step.details[d.CS_OBJECT_TYPE] = kind
    step.details[d.CS_OBJECT_OPERATION] = "Update" if found is not None else "None"
    infos = [AttributeInfo(name=k, is_multi_valued=isinstance(v, list), type="String",
                           value=display_list(v) if isinstance(v, list) else display(v), operation="None",
                           data_source=entra.name)
             for k, v in sorted((found or {}).items())]
    if infos:
        d.show_attributes(step, infos)


def read_properties(run: RunState) -> list[str]:
    """The Entra properties to read besides those matching needs: every one the rules export (not references,
    which have their own reads)."""
    references = planlib.REFERENCE_ATTRIBUTES | planlib.SINGLE_REFERENCES
    return [p for p in run.rules.exported_properties() if "." not in p and p not in references]


def _joined(run: RunState) -> Properties | None:
    """The Entra object this state joined the object to (for users: still holding its source anchor).

    A joined object Graph does not show is either one an earlier run created that is still replicating (the
    run waits for it, and never creates it again) or one deleted in the cloud (said, then matched afresh).
    """
    mv = run.store.mv_for(run.connector.name, run.anchor_guid or "")
    joined_id = run.store.joined_anchor(mv[0], ENTRA) if mv else None
    if not joined_id:
        return None
    kind, pending = run.target_type, run.pending
    candidate = run.tenant.get(kind, joined_id, read_properties(run), with_manager=_reads_manager(run))
    if candidate is None and pending is not None and pending.entra_id == joined_id:
        candidate = run.tenant.read_back(kind, joined_id, read_properties(run))
        if candidate is None and _recent(pending.created or pending.started):
            raise StepFailed(Status.FAILURE, "EntraReplicationDelay",
                             f"The {kind} {joined_id} that an earlier run created at {pending.created} is not "
                             "visible in Microsoft Graph yet (Entra ID replicates new objects with a delay); "
                             "pybridge does not create it again.")
    if candidate is None:
        run.warn(f"The Entra {kind} {joined_id} this object was joined to no longer exists (deleted in the "
                 "cloud); it is matched again, and created anew if nothing matches, as Entra Connect does.")
        run.match = f"The joined object {joined_id} no longer exists"
        run.joined_deleted = joined_id
        return None
    if kind == "user" and candidate.get("onPremisesImmutableId") != run.source_anchor:
        return None
    run.match = "Joined (hard match on recorded join)"
    return candidate


def _reads_manager(run: RunState) -> bool:
    return run.target_type == "user" and "manager" in run.rules.exported_properties()


def _recent(when: str | None) -> bool:
    if not when:
        return False
    try:
        then = dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return False
    return (utcnow() - then).total_seconds() < REPLICATION_GRACE_SECONDS


def _created_earlier(run: RunState) -> Properties | None:
    """An earlier run sent a create but never saw its answer: find that object before anything is created.

    A user not found can be created again (Graph's unique userPrincipalName makes a duplicate impossible);
    a group not found within the replication grace is not, because nothing unique would stop a second one.
    """
    pending = run.pending
    if pending is None or pending.entra_id is not None:
        return None
    attempt = 0
    while True:
        found = run.tenant.find_created(pending.kind, run.source_anchor, pending.lookup)
        if found is not None or not run.tenant.backoff(attempt):
            break
        attempt += 1
    if found is not None:
        run.match = f"Found the {pending.kind} an earlier run created at {pending.started} (its answer was lost)"
        return found
    if pending.kind == "group" and _recent(pending.started):
        raise StepFailed(Status.FAILURE, "CreateNotConfirmed",
                         f"An earlier run sent the create of this group at {pending.started} and got no answer, and "
                         "the group is not in Entra ID yet. Graph may still be committing or replicating it, so "
                         "pybridge does not post it again.",
                         "Run the sync again in a minute: it finds the group if Graph created it. If it is still "
                         "missing an hour after that create, pybridge creates it.")
    return None


def _hard_match(run: RunState) -> Properties | None:
    """The source anchor: users by onPremisesImmutableId, groups by entra.group_anchor_property where set."""
    kind = run.target_type
    hits = run.tenant.find_by_anchor(kind, run.source_anchor, read_properties(run))
    where = "onPremisesImmutableId" if kind == "user" else "the source anchor property"
    if len(hits) > 1:
        raise StepFailed(Status.FAILURE, "AttributeValueMustBeUnique",
                         f"{len(hits)} Entra {kind}s hold {where} {run.source_anchor}: "
                         + ", ".join(str(h.get("userPrincipalName") or h.get("displayName") or h["id"]) for h in hits))
    if not hits:
        return None
    found = hits[0]
    run.match = f"Hard match on {where if kind == 'user' else 'the group source anchor property'}"
    if kind == "user" and run.config.sync.block_cloud_object_takeover_through_hard_match and \
            not found.get("onPremisesSyncEnabled"):
        raise StepFailed(Status.FAILURE, "InvalidHardMatch",
                         f"Hard match on onPremisesImmutableId {run.source_anchor} found cloud-managed user "
                         f'"{found.get("userPrincipalName")}" (id {found["id"]}), and taking over cloud '
                         "objects by hard match is blocked (sync.block_cloud_object_takeover_through_"
                         "hard_match, as the tenant's BlockCloudObjectTakeoverThroughHardMatchEnabled).")
    return found


def _soft_match(run: RunState) -> Properties | None:
    """UPN or primary SMTP address, only for objects not joined yet; never onto an administrator."""
    values = run.rules.inbound.values if run.rules.inbound else {}
    upn, mail = values.get("userPrincipalName"), values.get("mail")
    if not upn and not mail:
        return None
    holders = run.tenant.address_holders(user_principal_name=str(upn) if upn else None,
                                         addresses=[str(mail)] if mail else [], kinds=("user",),
                                         properties=read_properties(run))
    hit, by = None, ""
    for holder in holders:
        props = holder.properties
        if upn and str(props.get("userPrincipalName", "")).lower() == str(upn).lower():
            hit, by = props, "userPrincipalName"
            break
        if mail and f"SMTP:{str(mail).lower()}" in {str(p)[:5] + str(p)[5:].lower()
                                                     for p in props.get("proxyAddresses") or []}:
            hit, by = hit or props, by or "primary SMTP address"
    if hit is None:
        return None
    roles = [str(r.get("displayName") or r["id"]) for r in run.tenant.directory_roles(hit["id"])]
    if roles:
        raise StepFailed(Status.FAILURE, "ExistingAdminRoleConflict",
                         f'Soft match found cloud user "{hit.get("userPrincipalName")}" (id {hit["id"]}), who holds '
                         f'the directory role(s) {", ".join(roles)}; Entra ID never soft-matches users with '
                         "administrator roles, so this object would not join it.")
    other = hit.get("onPremisesImmutableId")
    if other and other != run.source_anchor:
        raise StepFailed(Status.FAILURE, "InvalidSoftMatch",
                         f'Soft match on {by} found Entra user "{hit.get("userPrincipalName")}" (id {hit["id"]}), '
                         f"but it already holds onPremisesImmutableId {other}, not this object's sourceAnchor "
                         f"{run.source_anchor}.",
                         "Find which on-premises object the Entra user belongs to; remove the duplicate value "
                         "from one of the objects, or clear onPremisesImmutableId of the cloud user if it is "
                         "stale.")
    run.match = "Soft match on " + by
    return hit
