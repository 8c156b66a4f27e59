"""The steps under Graph's documented behaviours, with in-memory ports: replication delay after a create, lost
answers, creates recorded before they are sent, every address checked for uniqueness, privileged users,
non-nullable properties, objects deleted in the cloud and objects leaving scope.

The same behaviours run end to end against the Graph emulator in tests/integration/test_graph_behaviour.py.
"""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from msgspec.structs import replace

from pybridge.core.model import Action, Status, StepKey
from pybridge.errors import StateError, TargetError
from pybridge.report.adsync import to_adsync
from pybridge.sync import details
from pybridge.sync.state import Options
from pybridge.sync.steps import run_steps
from tests.unit.fakes import BASE, FakeDirectory, FakeTenant, anchor_of, environment, user_attributes

USERS = f"OU=Users,OU=Corp,{BASE}"
GROUPS = f"OU=Groups,OU=Corp,{BASE}"
JANE = f"CN=Jane Doe,{USERS}"
SALES = f"CN=Sales,{GROUPS}"


@pytest.fixture
def directory() -> FakeDirectory:
    d = FakeDirectory()
    d.add(JANE, **user_attributes("Jane Doe", mail="jane.doe@contoso.com",
                                  proxyAddresses=["SMTP:jane.doe@contoso.com", "smtp:jdoe@contoso.com"]))
    d.add(SALES, objectClass=["top", "group"], cn="Sales", sAMAccountName="Sales", groupType=[-2147483646])
    return d


@pytest.fixture
def tenant() -> FakeTenant:
    return FakeTenant()


@pytest.fixture
def env(tmp_path, directory, tenant):
    e = environment(tmp_path, directory, tenant)
    yield e
    e.store.close()


def sync(env, dn: str = JANE, **options: Any):
    result = run_steps(env, dn, Options(**options))
    return result, to_adsync(result)


def creates(tenant: FakeTenant, kind: str | None = None) -> list[tuple[Any, ...]]:
    return [c for c in tenant.calls if c[0] == "create" and (kind is None or c[1] == kind)]


def pending(env, dn: str) -> Any:
    directory_obj = env.directory_for(None).objects[dn]
    return env.store.pending_create("contoso.com", str(uuid.UUID(bytes_le=directory_obj["objectGUID"][0])))


# -- a create is recorded before it is sent, and its id from the answer before anything else -------------------
def test_the_intent_is_saved_before_the_create_and_nothing_is_sent_when_it_cannot_be(env, tenant):
    def full_disk(writes, intent):
        raise StateError("The run could not be saved: database or disk is full; the state is unchanged.")
    env.store.record_create_intent = full_disk  # type: ignore[method-assign]
    result, _ = sync(env)
    assert result.status_info.error_code == "StateStoreError" and result.steps[9].status == Status.FAILURE
    assert creates(tenant) == []


def test_the_new_id_and_join_are_recorded_before_the_members_are_added(env, tenant, directory):
    members = [f"CN=Member {i},{USERS}" for i in range(23)]
    for i, dn in enumerate(members):
        directory.add(dn, **user_attributes(f"Member N{i}"))
        sync(env, dn)
    directory.objects[SALES]["member"] = members
    seen: list[str | None] = []
    change_members = tenant.change_members

    def checking(group_id, adds, removes, **kwargs):
        mv = env.store.mv_for("contoso.com", str(uuid.UUID(bytes_le=directory.objects[SALES]["objectGUID"][0])))
        seen.append(env.store.joined_anchor(mv[0], "entra") if mv else None)
        return change_members(group_id, adds, removes, **kwargs)
    tenant.change_members = checking  # type: ignore[method-assign]
    result, _ = sync(env, SALES)
    assert result.status_info.status == Status.SUCCESS
    assert seen == [result.target_identity.id]  # the join was in the state when the follow-up went out
    assert pending(env, SALES) is None  # confirmed by the read-back


# -- replication delay ----------------------------------------------------------------------------------------
def test_a_new_object_graph_shows_after_a_few_reads_is_confirmed_within_the_run(env, tenant):
    tenant.hidden_reads = 2
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.warnings == []
    assert result.step(StepKey.EXPORT).details[details.CONFIRMED_BY_READ_BACK] == "True"
    assert tenant.waits == 2 and len(creates(tenant)) == 1


def test_a_new_object_graph_does_not_show_yet_is_a_warning_and_the_next_run_creates_nothing(env, tenant):
    tenant.hidden_reads = 50  # beyond the run's wait budget
    result, doc = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.CREATE
    assert "does not show it yet" in doc["StatusInfo"]["AdditionalDetails"]
    assert result.step(StepKey.EXPORT).details[details.CONFIRMED_BY_READ_BACK].startswith("Not yet")
    user_id = result.target_identity.id
    assert pending(env, JANE).entra_id == user_id  # not confirmed yet

    still, _ = sync(env)  # replication still running, the create is recent: wait, never create again
    assert still.status_info.error_code == "EntraReplicationDelay" and still.steps[7].status == Status.FAILURE
    assert len(creates(tenant)) == 1

    tenant._hidden.clear()  # replication done
    settled, _ = sync(env)
    assert settled.status_info.status == Status.SUCCESS and settled.action == Action.OTHER
    assert settled.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Joined (hard match on recorded join)"
    assert len(creates(tenant)) == 1 and len(tenant.users) == 1
    assert pending(env, JANE) is None


def test_members_graph_cannot_see_yet_end_the_run_with_the_object_recorded(env, tenant, directory):
    member = f"CN=Member,{USERS}"
    directory.add(member, **user_attributes("Member One"))
    sync(env, member)
    directory.objects[SALES]["member"] = [member]
    tenant.fail["set_manager"] = TargetError("x", error_code="GraphResourceNotFound", status=404,
                                             replicating=True)
    boss = f"CN=Boss,{USERS}"
    directory.add(boss, **user_attributes("Boss Person"))
    sync(env, boss)
    directory.objects[JANE]["manager"] = [boss]
    result, _ = sync(env)
    assert result.status_info.error_code == "EntraReplicationDelay"
    user_id = next(u["id"] for u in tenant.users.values() if u["displayName"] == "Jane Doe")
    assert user_id in result.status_info.reason
    again, _ = sync(env)  # the next run finds the user by its join and sets the manager
    assert again.status_info.status == Status.SUCCESS and len(creates(tenant, "user")) == 3
    assert tenant.managers[user_id] == next(u["id"] for u in tenant.users.values() if u["displayName"] == "Boss Person")


# -- lost answers ---------------------------------------------------------------------------------------------
def test_a_lost_group_create_is_found_by_the_next_run_and_never_posted_twice(env, tenant):
    tenant.lose_create_answer = True
    tenant.hidden_reads = 50  # Graph committed it, but shows it nowhere yet
    result, _ = sync(env, SALES)
    assert result.status_info.error_code == "CreateNotConfirmed" and len(creates(tenant, "group")) == 1
    intent = pending(env, SALES)
    assert intent is not None and intent.entra_id is None and intent.lookup["displayName"] == "Sales"

    again, _ = sync(env, SALES)  # still invisible: the intent stops a second POST
    assert again.status_info.error_code == "CreateNotConfirmed" and again.steps[7].status == Status.FAILURE
    assert len(creates(tenant, "group")) == 1

    tenant._hidden.clear()
    found, _ = sync(env, SALES)
    assert found.status_info.status == Status.SUCCESS
    assert found.step(StepKey.TARGET_IMPORT).details[details.MATCH].startswith("Found the group an earlier run")
    assert len(tenant.groups) == 1 and len(creates(tenant, "group")) == 1
    assert pending(env, SALES) is None


def test_a_group_anchor_property_finds_a_lost_group_even_after_the_state_is_lost(tmp_path, directory, tenant):
    tenant.group_anchor = "extension_0123456789abcdef0123456789abcdef_sourceAnchor"
    env = environment(tmp_path, directory, tenant)
    env.config = replace(env.config, entra=replace(env.config.entra, group_anchor_property=tenant.group_anchor))
    first, _ = sync(env, SALES)
    assert first.status_info.status == Status.SUCCESS
    env.store.close()
    (tmp_path / "state" / "pybridge.db").unlink()  # the state file is lost
    env = environment(tmp_path, directory, tenant)
    env.config = replace(env.config, entra=replace(env.config.entra, group_anchor_property=tenant.group_anchor))
    again, _ = sync(env, SALES)
    assert again.status_info.status == Status.SUCCESS
    assert again.step(StepKey.TARGET_IMPORT).details[details.MATCH] == \
        "Hard match on the group source anchor property"
    assert len(tenant.groups) == 1
    env.store.close()


def test_a_retried_user_create_that_meets_its_own_first_create_takes_it(env, tenant):
    tenant.lose_create_answer = True
    tenant.hidden_reads = 8  # the lookups after the lost answer do not see it; the UPN conflict does
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS, result.status_info
    assert "met the first create" in result.step(StepKey.EXPORT).details[details.CREATE_ANSWER_LOST]
    assert len(tenant.users) == 1


def test_a_retried_user_create_meeting_a_first_create_graph_does_not_show_yet_stops_and_keeps_the_record(env, tenant):
    """The conflict names the holder (ConflictingObjects); Graph shows it neither to the lookup nor by id within
    the run: the run stops with EntraReplicationDelay, blames no other object, and keeps the create on record."""
    tenant.lose_create_answer = True
    tenant.hidden_reads = 50
    tenant.lookups_hide_new = True
    result, _ = sync(env)
    (first,) = tenant.users
    assert result.status_info.error_code == "EntraReplicationDelay", result.status_info
    assert first in result.status_info.reason and "another object" not in result.status_info.reason.lower()
    assert len(creates(tenant)) == 2 and len(tenant.users) == 1   # the retry was refused: one user only
    assert pending(env, JANE) is not None and pending(env, JANE).entra_id is None

    tenant._hidden.clear()  # replication done: the next run finds it by its source anchor
    settled, _ = sync(env)
    assert settled.status_info.status == Status.SUCCESS and settled.target_identity.id == first
    assert len(creates(tenant)) == 2 and pending(env, JANE) is None


@pytest.mark.parametrize("dn", [JANE, SALES])
def test_a_create_graph_refuses_settles_its_record(env, tenant, dn):
    """Graph answered the create with a refusal: nothing was made, so the record of the create is settled and the
    next run is free to create (for a group, no "CreateNotConfirmed" for an hour)."""
    tenant.fail["create"] = TargetError("Creating the object failed: Graph answered 400 Request_BadRequest: Invalid "
                                        "value specified for property 'displayName'.", error_code="GraphBadRequest",
                                        status=400)
    result, _ = sync(env, dn)
    assert result.status_info.error_code == "GraphBadRequest"
    assert pending(env, dn) is None and tenant.users == {} and tenant.groups == {}
    again, _ = sync(env, dn)
    assert again.status_info.status == Status.SUCCESS and again.action == Action.CREATE
    assert len(tenant.users) + len(tenant.groups) == 1 and pending(env, dn) is None


# -- every address is checked ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["user", "group", "contact"])
def test_a_secondary_address_another_object_holds_is_named_with_what_resiliency_would_do(env, tenant, kind):
    holder = {"id": "h1", "displayName": "Shared mailbox", "mail": "shared@contoso.com",
              "proxyAddresses": ["SMTP:shared@contoso.com", "smtp:jdoe@contoso.com"]}
    if kind == "user":
        holder["userPrincipalName"] = "shared@contoso.com"
    {"user": tenant.users, "group": tenant.groups, "contact": tenant.contacts}[kind]["h1"] = holder
    result, doc = sync(env)
    assert result.status_info.error_code == "AttributeValueMustBeUnique"
    reason = doc["StatusInfo"]["Reason"]
    assert 'proxyAddresses "jdoe@contoso.com"' in reason and f'{kind} "' in reason and "h1" in reason
    assert "cloud-only" in reason and "duplicate attribute resiliency" in reason and "quarantined" in reason
    assert creates(tenant) == []


def test_a_upn_conflict_says_what_resiliency_would_rename_it_to(tmp_path, directory, tenant):
    tenant.users["u1"] = {"id": "u1", "userPrincipalName": "jane.doe@contoso.com", "onPremisesSyncEnabled": True,
                          "onPremisesImmutableId": "b3RoZXI="}
    env = environment(tmp_path, directory, tenant, sync={"soft_match": False})
    result, _ = sync(env)
    assert result.status_info.error_code == "AttributeValueMustBeUnique"
    assert '"jane.doeNNNN@contoso.onmicrosoft.com"' in result.status_info.reason
    assert "synced from on-premises" in result.status_info.reason
    env.store.close()


# -- privileged users -----------------------------------------------------------------------------------------
GLOBAL_ADMIN = {"id": "r1", "displayName": "Global Administrator",
                "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"}
PRIVILEGED_AUTH_ADMIN = {"id": "r2", "displayName": "Privileged Authentication Administrator",
                         "roleTemplateId": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"}


def test_disabling_an_administrator_is_explained_before_graph_would_refuse_it(env, tenant, directory):
    first, _ = sync(env)
    user_id = first.target_identity.id
    tenant.roles[user_id] = [GLOBAL_ADMIN]
    directory.objects[JANE]["userAccountControl"] = [514]
    result, _ = sync(env)
    assert result.status_info.error_code == "PrivilegedUserProtected"
    assert "Global Administrator" in result.status_info.reason and "accountEnabled" in result.status_info.reason
    assert not [c for c in tenant.writes if c[0] == "update"]

    tenant.app_roles = [PRIVILEGED_AUTH_ADMIN]
    allowed, _ = sync(env)
    assert allowed.status_info.status == Status.SUCCESS
    assert ("update", "user", user_id, {"accountEnabled": False}) in tenant.writes


def test_a_change_of_an_unprotected_property_of_an_administrator_goes_through(env, tenant, directory):
    first, _ = sync(env)
    tenant.roles[first.target_identity.id] = [GLOBAL_ADMIN]
    directory.objects[JANE]["department"] = ["Finance"]
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS
    assert ("directory_roles", first.target_identity.id) not in tenant.calls


# -- never null where Graph forbids it ------------------------------------------------------------------------
def test_a_flow_that_would_clear_usage_location_is_reported_not_sent(env, tenant, directory):
    directory.objects[JANE]["msExchUsageLocation"] = ["US"]
    first, _ = sync(env)
    user_id = first.target_identity.id
    assert tenant.users[user_id]["usageLocation"] == "US"
    del directory.objects[JANE]["msExchUsageLocation"]
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.OTHER
    assert "usageLocation" in result.step(StepKey.EXPORT).details[details.NOT_CLEARED]
    assert not [c for c in tenant.writes if c[0] == "update"] and tenant.users[user_id]["usageLocation"] == "US"


# -- deleted in the cloud, departed from scope ---------------------------------------------------------------
def test_a_joined_object_deleted_in_the_cloud_is_said_before_it_is_created_again(env, tenant):
    first, _ = sync(env)
    old_id = first.target_identity.id
    del tenant.users[old_id]
    result, doc = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.CREATE
    assert old_id in result.step(StepKey.TARGET_IMPORT).details[details.MATCH]
    assert f"{old_id} this object was joined to no longer exists" in doc["StatusInfo"]["AdditionalDetails"]
    assert len(tenant.users) == 1 and result.target_identity.id != old_id


def test_an_object_leaving_scope_says_what_entra_connect_would_delete(env, tenant, directory):
    first, _ = sync(env)
    moved = f"CN=Jane Doe,OU=Excluded,OU=Corp,{BASE}"
    directory.objects[moved] = directory.objects.pop(JANE)
    result, doc = sync(env, moved)
    assert result.status_info.status == Status.SKIPPED and result.status_info.error_code == "ContainerNotInScope"
    additional = doc["StatusInfo"]["AdditionalDetails"]  # the DN is new, the objectGUID is not
    assert first.target_identity.id in additional and "would delete" in additional

    rule_out = directory.objects[moved]
    directory.objects[JANE] = rule_out
    del directory.objects[moved]
    rule_out["isCriticalSystemObject"] = [True]  # now filtered by a sync rule at step 9
    result, doc = sync(env)
    assert result.status_info.error_code == "FilteredObject"
    additional = doc["StatusInfo"]["AdditionalDetails"]
    assert first.target_identity.id in additional and "would delete" in additional
    assert "accidental-delete threshold" in additional and "pybridge never deletes" in additional
    assert len(tenant.users) == 1 and not [c for c in tenant.writes if c[0] != "create"]


def test_an_object_in_an_excluded_container_that_was_synced_under_its_dn_says_so(env, tenant, directory):
    first, _ = sync(env)
    excluded = replace(env.config.ad_connectors[0], exclude=(f"OU=Users,OU=Corp,{BASE}",))
    env.config = replace(env.config, ad_connectors=(excluded, *env.config.ad_connectors[1:]))
    result, doc = sync(env)
    assert result.status_info.error_code == "ContainerNotInScope"
    assert first.target_identity.id in doc["StatusInfo"]["AdditionalDetails"]


def test_hard_match_still_wins_over_a_stale_pending_record(env, tenant, directory):
    anchor = anchor_of(directory.objects[JANE])
    tenant.users["u1"] = {"id": "u1", "userPrincipalName": "jane.doe@contoso.com", "onPremisesImmutableId": anchor,
                          "onPremisesSyncEnabled": True, "displayName": "Jane Doe"}
    result, _ = sync(env)
    assert result.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Hard match on onPremisesImmutableId"
    assert creates(tenant) == []
