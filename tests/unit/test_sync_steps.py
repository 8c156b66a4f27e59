"""Every row of the step table, success and each failure path, with in-memory ports (tests/unit/fakes.py).

No directory server, no Graph, no root: these run in seconds. The integration tests
(tests/integration) run the same steps against Samba and the Graph emulator.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from pybridge.core.model import Action, Status, StepKey, StepType
from pybridge.core.rules import RuleSet
from pybridge.errors import AuthenticationError, SourceError, TargetError
from pybridge.report.adsync import to_adsync
from pybridge.sync import details
from pybridge.sync.state import Environment, Options
from pybridge.sync.steps import STEPS, new_steps, run_steps
from tests.unit.fakes import (BASE, FakeDirectory, FakeTenant, anchor_of, environment, unreachable,
                              user_attributes)

USERS = f"OU=Users,OU=Corp,{BASE}"
GROUPS = f"OU=Groups,OU=Corp,{BASE}"
JANE = f"CN=Jane Doe,{USERS}"


@pytest.fixture
def directory() -> FakeDirectory:
    d = FakeDirectory()
    d.add(JANE, **user_attributes("Jane Doe", mail="jane.doe@contoso.com",
                                  proxyAddresses=["SMTP:jane.doe@contoso.com", "smtp:jdoe@contoso.com"]))
    return d


@pytest.fixture
def tenant() -> FakeTenant:
    return FakeTenant()


@pytest.fixture
def env(tmp_path: Path, directory: FakeDirectory, tenant: FakeTenant):
    e = environment(tmp_path, directory, tenant)
    yield e
    e.store.close()


def sync(env: Environment, dn: str = JANE, **options: Any):
    result = run_steps(env, dn, Options(**options))
    return result, to_adsync(result)


def statuses(result) -> list[str]:
    return [s.status.value for s in result.steps]


def stopped_at(result, n: int, status: Status, code: str) -> None:
    """Steps before *n* succeeded, step *n* ended the run with *code*, every later step is Skipped."""
    assert result.status_info.status == status and result.status_info.error_code == code, result.status_info
    expected = ["Success"] * (n - 1) + [("Failure" if status == Status.FAILURE else "Skipped")] + \
        ["Skipped"] * (10 - n)
    assert statuses(result) == expected
    assert result.steps[n - 1].details[details.REASON] == result.status_info.reason
    assert result.status_info.recommended_action


# -- the table ------------------------------------------------------------------------------------------------
def test_the_table_lists_the_ten_steps_in_the_original_order_with_their_names():
    assert [s.key for s in STEPS] == list(StepKey)
    assert [(s.type, s.name) for s in STEPS] == [
        (StepType.SCOPING, "ScopingDomain"), (StepType.SCOPING, "ScopingDomain"),
        (StepType.SCOPING, "ScopingOrganizationalUnit"), (StepType.SCOPING, "ScopingConnectivity"),
        (StepType.SCOPING, "ScopingObjectType"), (StepType.SCOPING, "ScopingGroup"),
        (StepType.IMPORT, "ImportSpecificObject"), (StepType.IMPORT, "ImportSpecificObject"),
        (StepType.SYNC, "SyncSpecificObject"), (StepType.EXPORT, "ExportSpecificObject")]
    assert [s.number for s in new_steps()] == list(range(1, 11))
    assert all(s.status == Status.SKIPPED for s in new_steps())


def test_a_new_user_is_created_once_and_the_next_run_finds_it_unchanged(env, tenant):
    result, doc = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.CREATE
    assert statuses(result) == ["Success"] * 10
    creates = [c for c in tenant.writes if c[0] == "create"]
    assert len(creates) == 1 and creates[0][1] == "user"
    body = creates[0][2]
    assert body["userPrincipalName"] == "jane.doe@contoso.com" and body["accountEnabled"] is True
    assert "proxyAddresses" not in body  # Graph cannot write it: shown, never sent
    assert result.step(StepKey.EXPORT).details[details.CONFIRMED_BY_READ_BACK] == "True"
    assert doc["TargetIdentity"]["Name"] == "jane.doe@contoso.com"
    counts = env.store.counts()
    assert counts == {"connector_space": 2, "metaverse": 1, "joins": 2, "runs": 1}

    again, _ = sync(env)
    assert again.status_info.status == Status.SUCCESS and again.action == Action.OTHER
    assert again.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Joined (hard match on recorded join)"
    assert again.step(StepKey.EXPORT).details[details.EXPORT_STEP_RESULT] == "No changes to export"
    assert len(tenant.writes) == 1 and len(tenant.users) == 1


# -- 1. ScopingDomain (source) ----------------------------------------------------------------------------------
def test_an_invalid_dn_fails_step_1(env, tenant):
    result, _ = sync(env, "CN=Jane,OU=Users,,DC=contoso")
    stopped_at(result, 1, Status.FAILURE, "InvalidDistinguishedName")
    assert tenant.calls == []


def test_a_dn_outside_every_selected_partition_fails_step_1(env):
    result, _ = sync(env, "CN=Jane Doe,OU=Users,DC=fabrikam,DC=com")
    stopped_at(result, 1, Status.FAILURE, "PartitionNotInScope")
    assert '"DC=contoso,DC=com" (contoso.com)' in result.status_info.reason


# -- 2. ScopingDomain (target) ----------------------------------------------------------------------------------
def test_a_refused_token_fails_step_2_and_ad_is_never_read(env, tenant, directory):
    tenant.auth_error = AuthenticationError("Microsoft Entra ID refused the token request: invalid_client",
                                            error_code="AuthenticationFailed", recommended_action="New secret.")
    result, _ = sync(env)
    stopped_at(result, 2, Status.FAILURE, "AuthenticationFailed")
    assert result.status_info.recommended_action == "New secret."
    assert directory.calls == []


def test_step_2_names_the_tenant_and_endpoint(env):
    result, _ = sync(env)
    step = result.step(StepKey.TARGET_DOMAIN)
    assert step.details[details.TENANT] == "tenant-1"
    assert step.details[details.partition_selected("tenant-1 - AAD", "default")] == "True"


# -- 3. ScopingOrganizationalUnit ------------------------------------------------------------------------------
def test_an_object_in_an_excluded_container_is_skipped_and_leaves_nothing(env, tenant, directory):
    dn = f"CN=Xavier Excluded,OU=Excluded,OU=Corp,{BASE}"
    directory.add(dn, **user_attributes("Xavier Excluded"))
    result, _ = sync(env, dn)
    stopped_at(result, 3, Status.SKIPPED, "ContainerNotInScope")
    assert result.exit_code == 3 and 'excluded from syncing' in result.status_info.reason
    assert tenant.writes == []  # (the directory is asked for the objectGUID only, to find an earlier sync)
    assert env.store.counts()["connector_space"] == 0 and env.store.counts()["runs"] == 1


@pytest.mark.parametrize("spelling", ["OU=Excluded\\ ", "OU=Excluded\\20", "ou=EXCLUDED\\ "])
def test_no_spelling_of_a_dn_moves_an_excluded_object_into_scope(env, tenant, directory, spelling):
    real = f"CN=Xavier Excluded,OU=Excluded,OU=Corp,{BASE}"
    typed = f"CN=Xavier Excluded,{spelling},OU=Corp,{BASE}"
    directory.add(real, **user_attributes("Xavier Excluded"))
    directory.aliases[typed] = real  # the DC resolves the other spelling to the excluded object
    result, _ = sync(env, typed)
    stopped_at(result, 4, Status.SKIPPED, "ContainerNotInScope")
    assert f'"{real}"' in result.status_info.reason and "excluded" in result.status_info.reason
    assert tenant.writes == [] and env.store.counts()["connector_space"] == 0


def test_an_object_outside_every_included_container_is_skipped(env):
    result, _ = sync(env, f"CN=Someone,CN=Users,{BASE}")
    stopped_at(result, 3, Status.SKIPPED, "ContainerNotInScope")
    assert "not inside any included container" in result.status_info.reason


# -- 4. ScopingConnectivity -------------------------------------------------------------------------------------
def test_an_object_the_connector_account_cannot_read_fails_step_4(env, directory):
    result, _ = sync(env, f"CN=Hidden,{USERS}")
    stopped_at(result, 4, Status.FAILURE, "ObjectNotAccessible")
    assert 'connector account "CONTOSO\\svc"' in result.status_info.reason
    assert directory.closed


def test_an_unreachable_domain_controller_fails_step_4(env, directory):
    directory.connect_error = unreachable()
    result, _ = sync(env)
    stopped_at(result, 4, Status.FAILURE, "LdapServerUnavailable")


def test_step_4_names_the_domain_controller_and_the_object_guid(env, directory):
    result, doc = sync(env)
    assert result.step(StepKey.CONNECTIVITY).details[details.DOMAIN_CONTROLLER] == "ldaps://dc1.contoso.com"
    assert doc["SourceIdentity"]["Id"] == str(uuid.UUID(bytes_le=directory.objects[JANE]["objectGUID"][0]))


# -- 5. ScopingObjectType ---------------------------------------------------------------------------------------
def test_an_object_type_out_of_scope_is_skipped(env, directory):
    dn = f"CN=PC01,{USERS}"
    directory.add(dn, objectClass=["top", "person", "organizationalPerson", "user", "computer"], cn="PC01")
    result, _ = sync(env, dn)
    stopped_at(result, 5, Status.SKIPPED, "ObjectTypeNotInScope")
    assert result.step(StepKey.OBJECT_TYPE).details[details.OBJECT_TYPE_IN_AD] == "computer"


# -- 6. ScopingGroup --------------------------------------------------------------------------------------------
FILTER_GROUP = f"CN=Sync Pilot,{GROUPS}"


def test_group_filtering_skips_a_non_member(tmp_path, directory, tenant):
    env = environment(tmp_path, directory, tenant, group_filtering={"group": FILTER_GROUP})
    result, _ = sync(env)
    stopped_at(result, 6, Status.SKIPPED, "GroupFilteringNotMember")
    assert "a direct member" in result.status_info.reason
    env.store.close()


def test_group_filtering_accepts_a_direct_member_and_a_nested_one_when_asked(tmp_path, directory, tenant):
    directory.objects[JANE]["memberOf"] = [FILTER_GROUP.upper()]
    env = environment(tmp_path, directory, tenant, group_filtering={"group": FILTER_GROUP})
    result, _ = sync(env)
    assert result.step(StepKey.GROUP_FILTER).details[details.MEMBERSHIP] == "direct"
    env.store.close()

    del directory.objects[JANE]["memberOf"]
    directory.nested.add((JANE, FILTER_GROUP))
    env = environment(tmp_path / "nested", directory, tenant, group_filtering={"group": FILTER_GROUP,
                                                                               "nested": True})
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS
    assert result.step(StepKey.GROUP_FILTER).details[details.MEMBERSHIP] == "nested"
    env.store.close()


# -- 7. ImportSpecificObject (AD) -------------------------------------------------------------------------------
def test_an_object_without_object_guid_fails_step_7(env, directory):
    del directory.objects[JANE]["objectGUID"]
    result, _ = sync(env)
    stopped_at(result, 7, Status.FAILURE, "SourceAnchorMissing")


def test_step_7_tells_add_update_and_none_from_the_connector_space(env, directory):
    first, _ = sync(env)
    assert first.step(StepKey.SOURCE_IMPORT).details[details.CS_OBJECT_OPERATION] == "Add"
    same, _ = sync(env)
    assert same.step(StepKey.SOURCE_IMPORT).details[details.CS_OBJECT_OPERATION] == "None"
    directory.objects[JANE]["title"] = ["Engineer"]
    changed, _ = sync(env)
    assert changed.step(StepKey.SOURCE_IMPORT).details[details.CS_OBJECT_OPERATION] == "Update"


# -- 8. ImportSpecificObject (Entra): matching ------------------------------------------------------------------
def cloud_user(tenant: FakeTenant, upn: str, **props: Any) -> dict[str, Any]:
    user = {"id": str(uuid.uuid4()), "userPrincipalName": upn, "displayName": upn.split("@")[0],
            "accountEnabled": True, **props}
    tenant.users[user["id"]] = user
    return user


def test_hard_match_on_the_source_anchor_updates_only_what_differs(env, tenant, directory):
    anchor = anchor_of(directory.objects[JANE])
    user = cloud_user(tenant, "jane.doe@contoso.com", onPremisesImmutableId=anchor, onPremisesSyncEnabled=True,
                      displayName="Old Name", givenName="Jane", surname="Doe", mail="jane.doe@contoso.com",
                      mailNickname="jane.doe")
    result, doc = sync(env)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.UPDATE
    assert result.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Hard match on onPremisesImmutableId"
    assert tenant.writes == [("update", "user", user["id"], {"displayName": "Jane Doe"})]
    assert doc["ModifiedProperties"] == [{"Name": "displayName", "OldValue": "Old Name", "NewValue": "Jane Doe"}]


def test_two_users_with_the_same_source_anchor_fail_step_8(env, tenant, directory):
    anchor = anchor_of(directory.objects[JANE])
    cloud_user(tenant, "a@contoso.com", onPremisesImmutableId=anchor)
    cloud_user(tenant, "b@contoso.com", onPremisesImmutableId=anchor)
    result, _ = sync(env)
    stopped_at(result, 8, Status.FAILURE, "AttributeValueMustBeUnique")


def test_hard_match_onto_a_cloud_user_is_refused_when_takeover_is_blocked(tmp_path, directory, tenant):
    cloud_user(tenant, "jane.doe@contoso.com", onPremisesImmutableId=anchor_of(directory.objects[JANE]))
    env = environment(tmp_path, directory, tenant,
                      sync={"block_cloud_object_takeover_through_hard_match": True})
    result, _ = sync(env)
    stopped_at(result, 8, Status.FAILURE, "InvalidHardMatch")
    assert tenant.writes == []
    env.store.close()


def test_soft_match_on_the_upn_joins_a_cloud_user(env, tenant):
    user = cloud_user(tenant, "Jane.Doe@contoso.com")
    result, _ = sync(env)
    assert result.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Soft match on userPrincipalName"
    assert result.action == Action.UPDATE and not [c for c in tenant.writes if c[0] == "create"]
    assert tenant.users[user["id"]]["onPremisesImmutableId"] == result.step(StepKey.TARGET_IMPORT).details[
        details.SOURCE_ANCHOR]


def test_soft_match_on_the_primary_smtp_address_but_never_on_a_secondary_one(env, tenant, directory):
    primary = cloud_user(tenant, "janed@contoso.onmicrosoft.com", proxyAddresses=["SMTP:jane.doe@contoso.com"])
    result, _ = sync(env)
    assert result.step(StepKey.TARGET_IMPORT).details[details.MATCH] == "Soft match on primary SMTP address"
    assert result.target_identity.id == primary["id"]

    tenant.users.clear()
    tenant.calls.clear()
    cloud_user(tenant, "other@contoso.onmicrosoft.com", proxyAddresses=["SMTP:other@contoso.com",
                                                                       "smtp:jane.doe@contoso.com"])
    directory.objects[f"CN=John Roe,{USERS}"] = directory.objects.pop(JANE)  # a new AD object, not joined yet
    directory.objects[f"CN=John Roe,{USERS}"]["objectGUID"] = [uuid.uuid4().bytes_le]
    result, _ = sync(env, f"CN=John Roe,{USERS}")
    # not soft-matched; creating it would put the address on two objects: refused before any write
    stopped_at(result, 10, Status.FAILURE, "AttributeValueMustBeUnique")
    assert "proxyAddresses" in result.status_info.reason and tenant.writes == []


def test_soft_match_onto_a_user_with_another_source_anchor_is_an_invalid_soft_match(env, tenant):
    cloud_user(tenant, "jane.doe@contoso.com", onPremisesImmutableId="c29tZW9uZSBlbHNl")
    result, _ = sync(env)
    stopped_at(result, 8, Status.FAILURE, "InvalidSoftMatch")
    assert "c29tZW9uZSBlbHNl" in result.status_info.reason and tenant.writes == []


def test_soft_match_never_joins_an_administrator(env, tenant):
    admin = cloud_user(tenant, "jane.doe@contoso.com")
    tenant.roles[admin["id"]] = [{"id": "r1", "displayName": "Global Administrator"}]
    result, _ = sync(env)
    stopped_at(result, 8, Status.FAILURE, "ExistingAdminRoleConflict")
    assert "Global Administrator" in result.status_info.reason and tenant.writes == []


def test_soft_match_can_be_turned_off(tmp_path, directory, tenant):
    cloud_user(tenant, "jane.doe@contoso.com")
    env = environment(tmp_path, directory, tenant, sync={"soft_match": False})
    result, _ = sync(env)
    assert ("address_holders", "jane.doe@contoso.com", ("jane.doe@contoso.com",), ("user",)) not in tenant.calls
    stopped_at(result, 10, Status.FAILURE, "AttributeValueMustBeUnique")  # the UPN is taken: nothing created
    env.store.close()


# -- 9. SyncSpecificObject --------------------------------------------------------------------------------------
def test_an_object_a_rule_filters_is_skipped_naming_the_rule(env, directory, tenant):
    directory.objects[JANE]["isCriticalSystemObject"] = [True]
    result, _ = sync(env)
    stopped_at(result, 9, Status.SKIPPED, "FilteredObject")
    assert "isCriticalSystemObject" in result.status_info.reason
    assert result.step(StepKey.TARGET_IMPORT).details[details.MATCH].startswith("Not searched")
    assert tenant.writes == [] and env.store.counts()["connector_space"] == 0


def test_a_value_entra_id_would_refuse_fails_step_9_before_any_write(env, directory, tenant):
    directory.objects[JANE]["userPrincipalName"] = ["jane doe@contoso.com"]
    result, _ = sync(env)
    stopped_at(result, 9, Status.FAILURE, "IdentityDataValidationFailed")
    assert tenant.writes == []
    assert env.store.counts()["metaverse"] == 1  # the sync is committed, as Entra Connect's would be


def test_a_failing_rule_fails_step_9_with_its_name(tmp_path, directory, tenant):
    rule_file = tmp_path / "boom.yaml"
    rule_file.write_text(yaml.safe_dump({"rules": [{
        "name": "In from AD - Boom", "direction": "inbound", "connector": "*", "source_object_type": "user",
        "target_object_type": "person", "link_type": "Join", "precedence": 50,
        "flows": [{"target": "department", "type": "Expression", "expression": 'Error("no department")'}]}]}))
    env = environment(tmp_path, directory, tenant, rules=RuleSet.load([rule_file]))
    result, _ = sync(env)
    stopped_at(result, 9, Status.FAILURE, result.status_info.error_code or "")
    assert "In from AD - Boom" in result.status_info.reason and tenant.writes == []
    env.store.close()


def test_an_unresolved_manager_is_left_out_and_said(env, directory, tenant):
    directory.objects[JANE]["manager"] = [f"CN=Not Synced,{USERS}"]
    result, doc = sync(env)
    assert result.status_info.status == Status.SUCCESS
    assert "could not be resolved" in doc["StatusInfo"]["AdditionalDetails"]
    assert result.step(StepKey.SYNC).details[details.UNRESOLVED_REFERENCES] == f"CN=Not Synced,{USERS}"
    assert not [c for c in tenant.writes if c[0] == "set_manager"]


def test_a_resolved_manager_is_set_through_its_own_write(env, directory, tenant):
    boss = f"CN=Boss,{USERS}"
    directory.add(boss, **user_attributes("Boss Person"))
    sync(env, boss)
    directory.objects[JANE]["manager"] = [boss]
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS
    boss_id = next(u["id"] for u in tenant.users.values() if u["displayName"] == "Boss Person")
    assert ("set_manager", result.target_identity.id, boss_id) in tenant.writes


def test_a_joined_users_manager_is_read_with_it_in_one_request(env, directory, tenant):
    boss = f"CN=Boss,{USERS}"
    directory.add(boss, **user_attributes("Boss Person"))
    sync(env, boss)
    directory.objects[JANE]["manager"] = [boss]
    first, _ = sync(env)
    assert ("manager_id", first.target_identity.id) in tenant.calls  # matched afresh: read on its own
    tenant.calls.clear()
    again, _ = sync(env)
    assert again.step(StepKey.EXPORT).details[details.EXPORT_STEP_RESULT] == "No changes to export"
    reads = [c for c in tenant.calls if c[0] in ("get", "manager_id")]
    assert reads == [("get", "user", first.target_identity.id, True)]
    tenant.managers.clear()  # the manager removed in the cloud: the joined read sees it and sets it again
    fixed, _ = sync(env)
    assert ("set_manager", first.target_identity.id, tenant.managers[first.target_identity.id]) in tenant.calls


def test_a_manager_the_joined_read_did_not_show_is_asked_on_its_own_before_anything_is_written(env, directory,
                                                                                              tenant):
    boss = f"CN=Boss,{USERS}"
    directory.add(boss, **user_attributes("Boss Person"))
    sync(env, boss)
    directory.objects[JANE]["manager"] = [boss]
    first, _ = sync(env)
    tenant.ignores_expand = True  # a service that ignores $expand=manager: the read shows no manager
    tenant.calls.clear()
    again, _ = sync(env)
    assert ("manager_id", first.target_identity.id) in tenant.calls
    assert again.step(StepKey.EXPORT).details[details.EXPORT_STEP_RESULT] == "No changes to export"
    assert not [c for c in tenant.calls if c[0] in ("set_manager", "remove_manager", "update")]


# -- 10. ExportSpecificObject -----------------------------------------------------------------------------------
def test_staging_mode_writes_nothing_to_entra_and_shows_the_request(env, tenant):
    result, doc = sync(env, staging_mode=True)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.CREATE
    export = doc["ProvisioningSteps"][9]
    assert export["Description"].startswith("[Staging Mode] ")
    assert export["Details"][details.GRAPH_REQUEST] == "POST /users"
    assert '"userPrincipalName": "jane.doe@contoso.com"' in export["Details"][details.GRAPH_REQUEST_BODY]
    assert tenant.writes == []
    assert env.store.counts()["metaverse"] == 1  # staging commits import and sync


def test_what_if_writes_nothing_anywhere(env, tenant):
    result, _ = sync(env, what_if=True)
    assert result.status_info.status == Status.SUCCESS and result.what_if
    assert "(what-if)" in result.step(StepKey.EXPORT).details[details.EXPORT_STEP_RESULT]
    assert tenant.writes == [] and env.store.counts() == {"connector_space": 0, "metaverse": 0, "joins": 0,
                                                            "runs": 0}


def test_a_changed_attribute_is_patched_alone(env, directory, tenant):
    sync(env)
    directory.objects[JANE]["department"] = ["Finance"]
    result, doc = sync(env)
    user_id = result.target_identity.id
    assert result.action == Action.UPDATE and tenant.writes[-1] == ("update", "user", user_id,
                                                                    {"department": "Finance"})
    assert doc["ModifiedProperties"] == [{"Name": "department", "OldValue": None, "NewValue": "Finance"}]


def test_a_graph_refusal_fails_step_10_with_graphs_words(env, tenant):
    tenant.fail["create"] = TargetError("Creating the user failed: Graph answered 400 Request_BadRequest: nope",
                                        error_code="GraphBadRequest", status=400)
    result, _ = sync(env)
    stopped_at(result, 10, Status.FAILURE, "GraphBadRequest")
    assert "Request_BadRequest" in result.status_info.reason and tenant.users == {}
    assert env.store.counts()["joins"] == 1  # only the AD object's join to the metaverse


def test_throttling_beyond_the_wait_budget_fails_as_throttled(env, tenant):
    tenant.fail["create"] = TargetError("Creating the user failed: Graph answered 429 TooManyRequests",
                                        error_code="Throttled", status=429)
    result, _ = sync(env)
    stopped_at(result, 10, Status.FAILURE, "Throttled")


def test_a_mail_a_cloud_group_holds_is_an_object_type_mismatch(env, tenant):
    tenant.groups["g1"] = {"id": "g1", "displayName": "Jane's list", "mail": "jane.doe@contoso.com",
                           "proxyAddresses": ["SMTP:jane.doe@contoso.com"]}
    result, _ = sync(env)
    stopped_at(result, 10, Status.FAILURE, "ObjectTypeMismatch")
    assert "found a group, not a user" in result.status_info.reason and tenant.writes == []


def test_a_upn_in_an_unverified_domain_is_refused_with_what_entra_connect_would_do(env, directory, tenant):
    directory.objects[JANE]["userPrincipalName"] = ["jane.doe@fabrikam.com"]
    result, _ = sync(env)
    stopped_at(result, 10, Status.FAILURE, "UpnSuffixNotVerified")
    assert "jane.doe@contoso.onmicrosoft.com" in result.status_info.reason and tenant.writes == []


def test_a_lost_create_answer_finds_the_user_instead_of_creating_it_again(env, tenant):
    tenant.lose_create_answer = True
    result, _ = sync(env)
    assert result.status_info.status == Status.SUCCESS
    assert result.step(StepKey.EXPORT).details[details.CREATE_ANSWER_LOST] == \
        "the object was found by onPremisesImmutableId"
    assert len(tenant.users) == 1 and len([c for c in tenant.writes if c[0] == "create"]) == 1


def test_a_group_create_without_an_answer_is_never_posted_twice(env, tenant, directory):
    group = f"CN=Sales,{GROUPS}"
    directory.add(group, objectClass=["top", "group"], cn="Sales", sAMAccountName="Sales",
                  groupType=[-2147483646])
    tenant.fail["create"] = TargetError("Creating the group failed: no answer", error_code="GraphUnavailable",
                                        uncertain=True)
    result, _ = sync(env, group)
    stopped_at(result, 10, Status.FAILURE, "CreateNotConfirmed")
    assert len([c for c in tenant.calls if c[0] == "create"]) == 1 and tenant.groups == {}
    assert tenant.waits >= 1  # looked up again after waiting before giving up


def test_a_new_group_is_created_with_its_synced_members(env, tenant, directory):
    members = [f"CN=Member {i},{USERS}" for i in range(25)]
    for i, dn in enumerate(members):
        directory.add(dn, **user_attributes(f"Member N{i}"))
        assert sync(env, dn)[0].status_info.status == Status.SUCCESS
    unsynced = f"CN=Outsider,{USERS}"
    group = f"CN=Sales,{GROUPS}"
    directory.add(group, objectClass=["top", "group"], cn="Sales", sAMAccountName="Sales",
                  groupType=[-2147483646], member=members + [unsynced])
    result, doc = sync(env, group)
    assert result.status_info.status == Status.SUCCESS and result.action == Action.CREATE
    create = next(c for c in tenant.writes if c[0] == "create" and c[1] == "group")
    assert len(create[3]) == 20  # as many as a create carries; the rest once the new id is recorded
    group_id = result.target_identity.id
    assert tenant.writes[-1] == ("change_members", group_id, [m for m in tenant.members[group_id]][20:], [])
    assert set(tenant.members[group_id]) == {u["id"] for u in tenant.users.values()}
    assert result.step(StepKey.SYNC).details[details.UNRESOLVED_REFERENCES] == unsynced
    assert ("read_members", group) in directory.calls
    assert {"Name": "members - Count", "OldValue": None, "NewValue": "25"} in doc["ModifiedProperties"]
    # the report names the members it shows by id: step 9 leaves the DN -> id map on the result (not in the JSON)
    resolved = result.extra[details.RESOLVED_REFERENCES]
    assert resolved[unsynced] is None and {resolved[dn] for dn in members} == {u["id"] for u in tenant.users.values()}
    assert details.RESOLVED_REFERENCES not in str(doc)


def test_a_failure_while_writing_is_told_from_one_found_before_sending(env, tenant, directory):
    tenant.fail["create"] = TargetError("Creating the user failed: Graph answered 503", error_code="GraphUnavailable",
                                        status=503)
    result, doc = sync(env)
    stopped_at(result, 10, Status.FAILURE, "GraphUnavailable")
    assert doc["ProvisioningSteps"][9]["Details"][details.EXPORT_STEP_RESULT] == details.EXPORT_FAILED_WHILE_SENDING
    directory.objects[JANE]["userPrincipalName"] = ["jane.doe@fabrikam.com"]  # refused before anything is sent
    tenant.fail.clear()
    result, doc = sync(env)
    stopped_at(result, 10, Status.FAILURE, "UpnSuffixNotVerified")
    assert details.EXPORT_STEP_RESULT not in doc["ProvisioningSteps"][9]["Details"]
    directory.objects[JANE]["userPrincipalName"] = ["jane.doe@contoso.com"]
    result, doc = sync(env)
    assert doc["ProvisioningSteps"][9]["Details"][details.EXPORT_STEP_RESULT] == "success"


def test_a_contact_is_said_to_be_unwritable_through_graph(env, directory, tenant):
    dn = f"CN=Partner,{USERS}"
    directory.add(dn, objectClass=["top", "person", "organizationalPerson", "contact"], cn="Partner",
                  mail="partner@fabrikam.com", proxyAddresses=["SMTP:partner@fabrikam.com"],
                  mailNickname="partner")
    result, _ = sync(env, dn)
    stopped_at(result, 10, Status.FAILURE, "UnsupportedObjectType")
    assert "contacts" in result.status_info.reason and tenant.writes == []


# -- the loop -------------------------------------------------------------------------------------------------
def test_an_unexpected_error_ends_the_run_with_a_result_never_a_traceback(env, directory):
    def broken(dn, attributes):
        raise KeyError("surprise")
    directory.read = broken  # type: ignore[method-assign]
    result, doc = sync(env)
    stopped_at(result, 4, Status.FAILURE, "InternalError")
    assert "KeyError" in doc["StatusInfo"]["Reason"]


def test_progress_sees_every_step_that_ran(env):
    seen: list[tuple[int, str]] = []
    env.progress = lambda step: seen.append((step.number, step.status.value))
    sync(env, f"CN=Someone,CN=Users,{BASE}")
    assert seen == [(1, "Success"), (2, "Success"), (3, "Skipped")]


def test_a_directory_error_mid_run_is_the_runs_result(env, directory):
    def lost(dn, attributes):
        raise SourceError("Connection to ldaps://dc1 was lost", error_code="LdapServerUnavailable",
                          recommended_action="Check the domain controller.")
    directory.read = lost  # type: ignore[method-assign]
    result, _ = sync(env)
    stopped_at(result, 4, Status.FAILURE, "LdapServerUnavailable")
    assert result.status_info.recommended_action == "Check the domain controller."
