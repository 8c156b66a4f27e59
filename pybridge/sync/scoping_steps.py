"""Steps 1-6: is the object in sync scope? Partition, tenant, container, access, type, group filtering."""
from __future__ import annotations

from ..config import Config
from ..core import dn as dnlib
from ..core import scoping
from ..core.model import ProvisioningIdentity, ProvisioningStep, Status
from ..core.values import get_one, get_values, guid_string
from ..core.rules import RuleSet
from ..errors import PyBridgeError
from ..store import ENTRA
from . import details as d
from .state import RunState, StepFailed

# What step 4 reads besides the attributes the rules name.
BASE_ATTRIBUTES = ("objectClass", "objectGUID", "objectSid", "cn", "sAMAccountName", "memberOf",
                   "userAccountControl", "groupType", "mail", "proxyAddresses", "isCriticalSystemObject",
                   "userCertificate", "thumbnailPhoto")
RANGED = ("member",)  # read by step 7 with ranged retrieval, not here


def attributes_to_read(config: Config, rules: RuleSet) -> list[str]:
    """What step 4 reads of an object (and a scan of every object): the base, the source anchor, what the rules
    name, and the ranged members (read by step 7)."""
    return list(dict.fromkeys([*BASE_ATTRIBUTES, config.sync.source_anchor,
                               *sorted(rules.source_attributes(), key=str.lower), *RANGED]))


def select_source_partition(run: RunState, step: ProvisioningStep) -> None:
    """1. The DN's partition belongs to a configured AD connector."""
    try:
        dnlib.split(run.dn)
    except dnlib.InvalidDnError as exc:
        raise StepFailed(Status.FAILURE, "InvalidDistinguishedName", exc.message) from None
    match = scoping.find_partition(run.config.ad_connectors, run.dn)
    if match is None:
        configured = "; ".join(f'"{p}" ({c.name})' for c in run.config.ad_connectors for p in c.partitions)
        raise StepFailed(Status.FAILURE, "PartitionNotInScope",
                         f'Could not find the connector for partition with the distinguished name "{run.dn}". '
                         f"Selected partitions: {configured}.")
    run.connector, run.partition = match.connector, match.partition
    step.details[d.partition_selected(match.connector.name, match.partition)] = "True"


def select_tenant(run: RunState, step: ProvisioningStep) -> None:
    """2. The Entra connector is configured and usable: the app gets a token."""
    entra = run.config.entra
    tenant = run.env.tenant_for(run.config)
    tenant.start_run()
    try:
        tenant.authenticate()
    except PyBridgeError as exc:
        raise StepFailed.from_error(exc) from None
    run.tenant = tenant
    step.details[d.partition_selected(entra.name, "default")] = "True"
    step.details[d.TENANT] = entra.tenant_id
    step.details[d.GRAPH_ENDPOINT] = entra.graph_endpoint


def check_container(run: RunState, step: ProvisioningStep) -> None:
    """3. The most specific inclusion or exclusion container decides."""
    connector = run.connector
    decision = scoping.container_decision(connector, run.dn)
    step.details[d.INCLUDED_CONTAINERS] = "; ".join(connector.include) or "(none)"
    step.details[d.EXCLUDED_CONTAINERS] = "; ".join(connector.exclude) or "(none)"
    if not decision.included:
        if decision.kind == "exclude":
            reason = (f'Object is not present in sync scope. Object belongs to container "{decision.container}" '
                      "that is excluded from syncing.")
        else:
            reason = "Object is not present in sync scope. Object is not inside any included container."
        raise StepFailed(Status.SKIPPED, "ContainerNotInScope", reason,
                         "If the object should sync, include its container in ad_connectors[].containers.include "
                         "or remove the exclusion" + (f' of "{decision.container}".' if decision.container else "."))
    step.details[d.container_included(str(decision.container))] = "True"


def read_object(run: RunState, step: ProvisioningStep) -> None:
    """4. The connector account can read the object."""
    connector = run.connector
    directory = run.directory = run.env.directory_for(connector)
    server = directory.connect()
    obj = directory.read(run.dn, [a for a in attributes_to_read(run.config, run.env.rules) if a.lower() not in RANGED])
    account = connector.username
    step.details[d.DOMAIN_CONTROLLER] = server
    if obj is None:
        raise StepFailed(Status.FAILURE, "ObjectNotAccessible",
                         f'Object "{run.dn}" was not found, or is not readable with connector account '
                         f'"{account}" credentials.',
                         f'Check the distinguished name; if the object exists, grant connector account "{account}" '
                         "read access to it (check for Deny entries and for inheritance being disabled).")
    _decide_again_on_the_directorys_dn(run, obj.dn)
    run.ad_object = obj
    guid = get_one(obj.attributes, "objectGUID")
    run.anchor_guid = guid_string(guid) if isinstance(guid, bytes) and len(guid) == 16 else None
    run.result.source_identity = ProvisioningIdentity(id=run.anchor_guid, name=obj.dn)
    step.details[d.accessible_with(account)] = "True"


def _decide_again_on_the_directorys_dn(run: RunState, dn: str) -> None:
    """Steps 1 and 3 decided on the DN as typed; the directory may have resolved another spelling of it (an
    escaped trailing space, other case or escapes) to an object elsewhere. Scope is decided again on the DN as
    the directory returns it, so that no spelling moves an object into scope."""
    try:
        if dnlib.canonical(dn) == dnlib.canonical(run.dn):
            return
    except dnlib.InvalidDnError:
        pass
    match = scoping.find_partition(run.config.ad_connectors, dn)
    if match is None or match.connector != run.connector:
        raise StepFailed(Status.FAILURE, "PartitionNotInScope",
                         f'The directory names the object "{dn}", which is not in the partition '
                         f'"{run.partition}" of connector "{run.connector.name}" selected for "{run.dn}".')
    decision = scoping.container_decision(run.connector, dn)
    if not decision.included:
        where = (f'belongs to container "{decision.container}" that is excluded from syncing'
                 if decision.kind == "exclude" else "is not inside any included container")
        raise StepFailed(Status.SKIPPED, "ContainerNotInScope",
                         f'Object is not present in sync scope. The directory names it "{dn}", and it {where} '
                         f'(the DN given, "{run.dn}", spells its location differently).',
                         "Pass the object's DN as Active Directory shows it. If it should sync, include its "
                         "container in ad_connectors[].containers.include or remove the exclusion.")


def check_object_type(run: RunState, step: ProvisioningStep) -> None:
    """5. The object's type is in scope of the connector."""
    connector = run.connector
    classes = [str(c) for c in get_values(run.ad_object.attributes, "objectClass")]
    object_class = scoping.structural_class(classes)
    run.object_class = object_class or ""
    run.result.source_identity.type = object_class
    step.details[d.OBJECT_TYPE_INCLUSION_LIST] = ", ".join(connector.object_types)
    step.details[d.OBJECT_TYPE_IN_AD] = object_class or "(unknown)"
    if not scoping.type_in_scope(connector, object_class):
        raise StepFailed(Status.SKIPPED, "ObjectTypeNotInScope",
                         f'Object type "{object_class}" is not in sync scope of connector '
                         f'"{connector.name}" (in scope: {", ".join(connector.object_types)}).')


def check_group_filtering(run: RunState, step: ProvisioningStep) -> None:
    """6. With group filtering on, the object is a member of the filtering group."""
    gf = run.connector.group_filtering
    step.details[d.GROUP_FILTERING_ENABLED] = str(bool(gf.group))
    if not gf.group:
        return
    step.details[d.GROUP_DN] = gf.group
    obj = run.ad_object
    member = scoping.is_direct_member([str(v) for v in get_values(obj.attributes, "memberOf")], gf.group)
    how = "direct"
    if not member and gf.nested:
        member, how = run.directory.is_nested_member(obj.dn, gf.group), "nested"
    step.details[d.member_of_group(gf.group)] = str(member)
    if not member:
        kind = "a direct or nested" if gf.nested else "a direct"
        raise StepFailed(Status.SKIPPED, "GroupFilteringNotMember",
                         f"Object is not in sync scope: group filtering is enabled and the object is not {kind} "
                         f'member of group "{gf.group}".')
    step.details[d.MEMBERSHIP] = how


def report_departure(run: RunState) -> None:
    """An object out of scope that an earlier run joined to Entra ID: what Entra Connect would do, and that
    pybridge does not (it never deletes)."""
    if not RunState.connector.is_set(run):
        return
    store, connector = run.store, run.connector.name
    anchor = run.anchor_guid or _guid_of(run)  # moved into an excluded OU: known by its objectGUID, not its DN
    cs = store.cs_object(connector, anchor) if anchor else store.cs_by_dn(connector, run.dn)
    mv = store.mv_for(connector, cs.anchor) if cs is not None else None
    entra_id = store.joined_anchor(mv[0], ENTRA) if mv else None
    if not entra_id:
        return
    target = store.cs_object(ENTRA, entra_id)
    kind = target.object_type if target is not None else "object"
    run.warn(f"This object was synced before: it is joined to the Entra {kind} {entra_id}. Out of scope, Entra "
             "Connect would delete that object from Entra ID at its next export (unless the pending deletes exceed "
             "the accidental-delete threshold, 500 by default, which stops the export). pybridge never deletes: "
             "delete it in the Entra admin center if it should go, or bring the object back into scope.")


def _guid_of(run: RunState) -> str | None:
    """The objectGUID of the DN, read only to tell whether an object out of scope was synced before."""
    try:
        if not RunState.directory.is_set(run):
            run.directory = run.env.directory_for(run.connector)
        run.directory.connect()
        obj = run.directory.read(run.dn, ["objectGUID"])
    except PyBridgeError:
        return None
    guid = get_one(obj.attributes, "objectGUID") if obj is not None else None
    return guid_string(guid) if isinstance(guid, bytes) and len(guid) == 16 else None
