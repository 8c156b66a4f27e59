"""End to end: `pybridge sync` against the real Samba AD DC and the Graph emulator, step by step."""
from __future__ import annotations

import json
import sqlite3

import ldap3
import pytest

from tests.integration.conftest import CLIENT_SECRET, run_cli

pytestmark = pytest.mark.integration


def writes(emulator):
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def users_named(emulator, upn):
    return [u for u in emulator.users.values() if u.get("userPrincipalName", "").lower() == upn.lower()]


def state_bytes(cfg):
    import yaml
    return open(yaml.safe_load(cfg.read_text())["state"]["path"], "rb").read()


# -- the main story ---------------------------------------------------------------------------------

def test_create_then_nothing_then_update_then_staging_then_what_if(lab, tmp_path):
    cfg = lab.config(tmp_path)
    dn = lab.dns["user"]

    first = run_cli("sync", "--config", str(cfg), "--distinguished-name", dn)
    assert first.code == 0, first.stderr
    doc = first.json
    assert doc["Action"] == "Create"
    assert doc["StatusInfo"]["Status"] == "Success"
    assert [s["Status"] for s in doc["ProvisioningSteps"]] == ["Success"] * 10
    assert [s["Name"] for s in doc["ProvisioningSteps"]] == [
        "ScopingDomain", "ScopingDomain", "ScopingOrganizationalUnit", "ScopingConnectivity", "ScopingObjectType",
        "ScopingGroup", "ImportSpecificObject", "ImportSpecificObject", "SyncSpecificObject", "ExportSpecificObject"]
    created = users_named(lab.emulator, "jdoe@contoso.com")
    assert len(created) == 1
    user = created[0]
    assert user["displayName"] == "Jane Doe" and user["accountEnabled"] is True
    assert user["onPremisesImmutableId"] == doc["ProvisioningSteps"][7]["Details"]["Source anchor"]
    assert doc["TargetIdentity"]["Id"] == user["id"]
    assert doc["SourceIdentity"]["Name"] == dn and len(doc["SourceIdentity"]["Id"]) == 36
    post = [r for r in writes(lab.emulator) if r["method"] == "POST"]
    assert len(post) == 1 and post[0]["body"]["passwordProfile"]["forceChangePasswordNextSignIn"] is True
    # the random password is never shown or stored
    assert "(random, never stored)" in doc["ProvisioningSteps"][9]["Details"]["Graph request body"]
    names = {p["Name"] for p in doc["ModifiedProperties"]}
    assert {"userPrincipalName", "displayName", "onPremisesImmutableId", "accountEnabled"} <= names

    lab.emulator.clear_log()
    second = run_cli("sync", "--config", str(cfg), dn)
    assert second.code == 0
    assert second.json["Action"] == "Other" and second.json["ModifiedProperties"] == []
    assert writes(lab.emulator) == []

    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Finance"])]})
        lab.emulator.clear_log()
        third = run_cli("sync", "--config", str(cfg), dn)
        assert third.code == 0, third.stderr
        assert third.json["Action"] == "Update"
        assert third.json["ModifiedProperties"] == [{"Name": "department", "OldValue": "Sales",
                                                     "NewValue": "Finance"}]
        patches = writes(lab.emulator)
        assert [(r["method"], r["body"]) for r in patches] == [("PATCH", {"department": "Finance"})]
        assert lab.emulator.get_object(user["id"])["department"] == "Finance"

        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Legal"])]})
        lab.emulator.clear_log()
        staged = run_cli("sync", "--config", str(cfg), dn, "--staging-mode")
        assert staged.code == 0
        export = staged.step(10)
        assert staged.json["Action"] == "Update"
        assert export["Description"].startswith("[Staging Mode] ")
        assert json.loads(export["Details"]["Graph request body"]) == {"department": "Legal"}
        assert export["Details"]["Graph request"] == f"PATCH {lab.emulator.base_url}/v1.0/users/{user['id']}"
        assert writes(lab.emulator) == []
        assert lab.emulator.get_object(user["id"])["department"] == "Finance"

        before = state_bytes(cfg)
        whatif = run_cli("sync", "--config", str(cfg), dn, "--what-if")
        assert whatif.code == 0 and whatif.json["Action"] == "Update"
        assert whatif.step(10)["Description"].startswith("[Staging Mode] ")
        assert state_bytes(cfg) == before
        assert writes(lab.emulator) == []
    finally:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Sales"])]})
        conn.unbind()


def test_staging_commits_import_and_sync_to_state(lab, tmp_path):
    cfg = lab.config(tmp_path)
    r = run_cli("sync", "--config", str(cfg), lab.dns["user_comma"], "--staging-mode")
    assert r.code == 0 and r.json["Action"] == "Create"
    assert writes(lab.emulator) == []
    import yaml
    db = sqlite3.connect(yaml.safe_load(cfg.read_text())["state"]["path"])
    assert db.execute("SELECT count(*) FROM connector_space WHERE connector='contoso.com'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM metaverse").fetchone()[0] == 1
    assert db.execute("SELECT staging, action FROM runs").fetchall() == [(1, "Create")]


def test_staging_mode_from_configuration(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"sync.staging_mode": True})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user_nonascii"])
    assert r.code == 0 and r.step(10)["Description"].startswith("[Staging Mode] ")
    assert writes(lab.emulator) == []


@pytest.mark.parametrize("key, upn, display", [
    ("user_comma", "jsmith@contoso.com", "Smith, John"),
    ("user_nonascii", "zangstrom@contoso.com", "Zoë Ångström"),
    ("user_special", "rstar@contoso.com", "Rock (Star) *\\ Ops"),
])
def test_special_dns_are_read_exactly(lab, tmp_path, key, upn, display):
    cfg = lab.config(tmp_path)
    r = run_cli("sync", "--config", str(cfg), lab.dns[key])
    assert r.code == 0, r.stderr
    assert r.json["SourceIdentity"]["Name"] == lab.dns[key]
    (user,) = users_named(lab.emulator, upn)
    assert user["displayName"] == display


def test_disabled_user_is_created_disabled(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user_disabled"])
    assert r.code == 0
    (user,) = users_named(lab.emulator, "bdisabled@contoso.com")
    assert user["accountEnabled"] is False


def test_group_members_resolve_through_joins(lab, tmp_path):
    cfg = lab.config(tmp_path)
    for key in ("user", "user_comma"):
        assert run_cli("sync", "--config", str(cfg), lab.dns[key]).code == 0
    r = run_cli("sync", "--config", str(cfg), lab.dns["group"])
    assert r.code == 0, r.stderr
    doc = r.json
    assert doc["Action"] == "Create" and doc["TargetIdentity"]["Type"] == "group"
    group = lab.emulator.get_object(doc["TargetIdentity"]["Id"])
    assert group["securityEnabled"] is True and group["mailEnabled"] is False
    members = {lab.emulator.get_object(m)["userPrincipalName"] for m in lab.emulator.group_members(group["id"])}
    assert members == {"jdoe@contoso.com", "jsmith@contoso.com"}
    # the nested group is not in Entra yet: listed as an unresolved reference, everything else exported
    assert lab.dns["group_nested"] in doc["ProvisioningSteps"][8]["Details"]["Unresolved references"]
    assert "could not be resolved" in doc["StatusInfo"]["AdditionalDetails"]
    # sync the nested group, then the parent again: the member is added, nothing else changes
    assert run_cli("sync", "--config", str(cfg), lab.dns["group_nested"]).code == 0
    lab.emulator.clear_log()
    again = run_cli("sync", "--config", str(cfg), lab.dns["group"])
    assert again.json["Action"] == "Update"
    assert again.json["ModifiedProperties"] == [{"Name": "members - Count", "OldValue": "2", "NewValue": "3"}]
    assert len(lab.emulator.group_members(group["id"])) == 3


def test_soft_match_stamps_the_source_anchor(lab, tmp_path):
    cloud = lab.emulator.add_user(userPrincipalName="jdoe@contoso.com", displayName="Cloud Jane",
                                  mailNickname="jdoe", accountEnabled=True)
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 0, r.stderr
    assert r.step(8)["Details"]["Match"] == "Soft match on userPrincipalName"
    assert r.json["Action"] == "Update" and r.json["TargetIdentity"]["Id"] == cloud["id"]
    after = lab.emulator.get_object(cloud["id"])
    assert after["displayName"] == "Jane Doe" and after["onPremisesImmutableId"]
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1


def test_hard_match_without_local_state(lab, tmp_path):
    cfg = lab.config(tmp_path)
    assert run_cli("sync", "--config", str(cfg), lab.dns["user"]).code == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    r = run_cli("sync", "--config", str(lab.config(fresh)), lab.dns["user"])
    assert r.code == 0 and r.json["Action"] == "Other"
    assert r.step(8)["Details"]["Match"] == "Hard match on onPremisesImmutableId"
    assert len(users_named(lab.emulator, "jdoe@contoso.com")) == 1


# -- each step's failure path --------------------------------------------------------------------------

def test_step1_malformed_dn(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "CN=broken,,DC=contoso,DC=com")
    assert r.code == 1
    assert r.json["StatusInfo"]["ErrorCode"] == "InvalidDistinguishedName"
    assert r.step(1)["Status"] == "Failure"
    assert all(s["Status"] == "Skipped" for s in r.json["ProvisioningSteps"][1:])
    assert "Traceback" not in r.stderr


def test_step1_partition_not_selected(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "CN=x,DC=fabrikam,DC=com")
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "PartitionNotInScope"
    assert "Could not find the connector for partition" in r.json["StatusInfo"]["Reason"]


def test_step2_wrong_client_secret(lab, tmp_path):
    bad = tmp_path / "bad-secret"
    bad.write_text("wrong-secret\n")
    bad.chmod(0o600)
    r = run_cli("sync", "--config", str(lab.config(tmp_path, **{"entra.client_secret_file": str(bad)})),
                lab.dns["user"])
    assert r.code == 1
    assert r.step(2)["Status"] == "Failure" and r.step(1)["Status"] == "Success"
    assert r.json["StatusInfo"]["ErrorCode"] == "AuthenticationFailed"
    assert "client secret" in r.json["StatusInfo"]["RecommendedAction"]
    assert "wrong-secret" not in r.stdout + r.stderr


def test_step2_graph_unreachable(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"entra.authority_host": "https://127.0.0.1:9", "entra.graph_endpoint":
                                  "https://127.0.0.1:9"})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.step(2)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == "GraphUnavailable"


@pytest.mark.parametrize("key, reason", [
    ("user_excluded", "that is excluded from syncing"),
    ("connector", "not inside any included container"),
])
def test_step3_out_of_scope_container(lab, tmp_path, key, reason):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns[key])
    assert r.code == 3
    assert r.json["StatusInfo"]["Status"] == "Skipped" and r.json["StatusInfo"]["ErrorCode"] == "ContainerNotInScope"
    assert reason in r.json["StatusInfo"]["Reason"] and r.step(3)["Status"] == "Skipped"
    assert lab.emulator.requests == [] or all(q["path"].endswith("/token") or "openid" in q["path"]
                                              for q in lab.emulator.requests)


def test_step4_object_that_does_not_exist(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "CN=Nobody,OU=Users,OU=Corp,DC=contoso,DC=com")
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "ObjectNotAccessible"
    assert r.step(4)["Status"] == "Failure"


def test_step4_object_the_connector_account_cannot_read(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["hidden"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "ObjectNotAccessible"
    assert lab.info.connector_username in r.json["StatusInfo"]["Reason"]


def test_step4_ldap_server_down_then_next_server(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"ad_connectors.0.servers": ["ldaps://127.0.0.1:1"]})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "LdapServerUnavailable"
    cfg = lab.config(tmp_path, **{"ad_connectors.0.servers": ["ldaps://127.0.0.1:1", lab.info.ldaps_url]})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    assert r.code == 0 and r.step(4)["Details"]["Domain controller"] == lab.info.ldaps_url


def test_step4_starttls_works(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"ad_connectors.0.servers": [lab.info.starttls_url]})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    assert r.code == 0, r.stderr


def test_step4_wrong_connector_password(lab, tmp_path):
    bad = tmp_path / "bad-pw"
    bad.write_text("Wrong-Password-123\n")
    bad.chmod(0o600)
    cfg = lab.config(tmp_path, **{"ad_connectors.0.account": {"username": lab.info.connector_username,
                                                               "password_file": str(bad)}})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "LdapAuthenticationFailed"
    assert lab.info.connector_username in r.json["StatusInfo"]["Reason"]
    assert "Wrong-Password-123" not in r.stdout + r.stderr


def test_step4_untrusted_certificate(lab, tmp_path):
    from pybridge_lab.ca import create_ca
    other = create_ca(tmp_path / "other-ca")
    cfg = lab.config(tmp_path, **{"ad_connectors.0.tls": {"ca_file": str(other.cert)}})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "LdapTlsValidationFailed"


def test_step5_object_type_not_in_scope(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"ad_connectors.0.object_types": ["user"]})
    r = run_cli("sync", "--config", str(cfg), lab.dns["group"])
    assert r.code == 3 and r.json["StatusInfo"]["ErrorCode"] == "ObjectTypeNotInScope"
    assert r.step(5)["Details"]["Object type in Active Directory"] == "group"


def test_step6_group_filtering_direct_and_nested(lab, tmp_path):
    pilot = lab.dns["group_pilot"]
    cfg = lab.config(tmp_path, **{"ad_connectors.0.group_filtering": {"group": pilot}})
    ok = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    assert ok.code == 0 and ok.step(6)["Details"]["Group filtering enabled"] == "True"
    nested = run_cli("sync", "--config", str(cfg), lab.dns["user_nonascii"], "--what-if")
    assert nested.code == 3 and nested.json["StatusInfo"]["ErrorCode"] == "GroupFilteringNotMember"
    cfg = lab.config(tmp_path, **{"ad_connectors.0.group_filtering": {"group": pilot, "nested": True}})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user_nonascii"], "--what-if")
    assert r.code == 0 and r.step(6)["Details"]["Membership"] == "nested"


def test_step7_directory_stops_before_import(lab, tmp_path):
    """The DC stops after scoping: the import fails cleanly and nothing is committed."""
    from pybridge import config as configlib
    from pybridge.engine import sync_object

    cfg = configlib.load(lab.config(tmp_path))

    def stop_after_scoping(step):
        if step.number == 6:
            lab.dc.stop()

    try:
        result = sync_object(lab.dns["group"], cfg, progress=stop_after_scoping)
    finally:
        lab.dc.start()
    assert result.steps[6].status.value == "Failure"
    assert result.status_info.error_code == "LdapServerUnavailable"
    db = sqlite3.connect(cfg.state_path)
    assert db.execute("SELECT count(*) FROM connector_space").fetchone()[0] == 0
    assert db.execute("SELECT status FROM runs").fetchall() == [("Failure",)]


def test_step8_graph_fails_during_import(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=500, count=20)
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 1 and r.step(8)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == "GraphServiceError"
    assert writes(lab.emulator) == []


def test_step8_invalid_soft_match(lab, tmp_path):
    lab.emulator.add_user(userPrincipalName="jdoe@contoso.com", displayName="Other Jane", mailNickname="jdoe",
                          accountEnabled=True, onPremisesImmutableId="c29tZW9uZSBlbHNl")
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "InvalidSoftMatch"
    assert "c29tZW9uZSBlbHNl" in r.json["StatusInfo"]["Reason"]
    assert writes(lab.emulator) == []


def test_step9_invalid_identity_data_is_caught_before_export(lab, tmp_path):
    dn = lab.dns["user_comma"]
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["john smith@contoso.com"])]})
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn, "--staging-mode")
    finally:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@contoso.com"])]})
        conn.unbind()
    assert r.code == 1 and r.step(9)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == "IdentityDataValidationFailed"
    assert "john smith@contoso.com" in r.json["StatusInfo"]["Reason"]


def test_step10_graph_refuses_the_export(lab, tmp_path):
    lab.emulator.add_user(userPrincipalName="jdoe@contoso.com", displayName="Cloud only", mailNickname="other",
                          accountEnabled=True)
    cfg = lab.config(tmp_path, **{"sync.soft_match": False})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 1 and r.step(10)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == "AttributeValueMustBeUnique"
    assert "userPrincipalName" in r.json["StatusInfo"]["Reason"]
    assert r.json["StatusInfo"]["ErrorCategory"] == "failure"


def test_step10_contact_cannot_be_written_through_graph(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["contact"])
    assert r.code == 1 and r.step(10)["Status"] == "Failure"
    assert r.json["StatusInfo"]["ErrorCode"] == "UnsupportedObjectType"
    assert writes(lab.emulator) == []


# -- configuration, secrets ----------------------------------------------------------------------------------

def test_missing_secret_is_a_configuration_error(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"entra.client_secret_file": None, "entra.client_secret_env": "PYBRIDGE_T_UNSET"})
    r = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert r.code == 2
    assert r.json["StatusInfo"]["ErrorCode"] == "ConfigurationError"
    assert "PYBRIDGE_T_UNSET" in r.stderr


def test_secrets_never_reach_output_or_state(lab, tmp_path):
    cfg = lab.config(tmp_path)
    ad_password = lab.info.connector_password_file.read_text().strip()
    outputs = []
    for args in (["-vv", "sync", "--config", str(cfg), lab.dns["user"]],
                 ["sync", "--config", str(cfg), lab.dns["hidden"]],
                 ["sync", "--config", str(cfg), lab.dns["group"], "--staging-mode"]):
        r = run_cli(*args)
        outputs += [r.stdout, r.stderr]
    blob = "\n".join(outputs) + state_bytes(cfg).decode("latin-1")
    assert CLIENT_SECRET not in blob and ad_password not in blob


def test_manager_reference_resolves_or_is_reported_unresolved(lab, tmp_path):
    cfg = lab.config(tmp_path)
    boss, report = lab.dns["user"], lab.dns["user_comma"]
    conn = lab.dc.connection()
    try:
        conn.modify(report, {"manager": [(ldap3.MODIFY_REPLACE, [boss])]})
        # the manager is not in Entra yet: everything else is exported, the reference is listed
        first = run_cli("sync", "--config", str(cfg), report)
        assert first.code == 0, first.stderr
        assert boss in first.step(9)["Details"]["Unresolved references"]
        newest = json.loads(run_cli("history", "list", "--config", str(cfg), "--json").stdout)[0]["id"]
        graph = run_cli("history", "show", newest, "--config", str(cfg), "--format", "graph").json
        assert any(s["provisioningStepType"] == "referenceResolution" and s["status"] == "warning"
                   for s in graph["provisioningSteps"])
        (jsmith,) = users_named(lab.emulator, "jsmith@contoso.com")
        # once the manager is synced, the next run sets the reference
        assert run_cli("sync", "--config", str(cfg), boss).code == 0
        (jdoe,) = users_named(lab.emulator, "jdoe@contoso.com")
        lab.emulator.clear_log()
        second = run_cli("sync", "--config", str(cfg), report)
        assert second.code == 0 and second.json["Action"] == "Update"
        assert {"Name": "manager", "OldValue": None, "NewValue": jdoe["id"]} in second.json["ModifiedProperties"]
        puts = [r for r in lab.emulator.requests if r["method"] == "PUT"]
        assert [(r["path"], r["body"]["@odata.id"].rsplit("/", 1)[1]) for r in puts] == [
            (f"/v1.0/users/{jsmith['id']}/manager/$ref", jdoe["id"])]
        lab.emulator.clear_log()
        third = run_cli("sync", "--config", str(cfg), report)
        assert third.json["Action"] == "Other"
        # unchanged: the joined user and its manager came back in one read (user-list-manager's $expand)
        reads = [r for r in lab.emulator.requests if r["path"].startswith(f"/v1.0/users/{jsmith['id']}")]
        assert [(r["method"], r["path"], r["query"].get("$expand")) for r in reads] == [
            ("GET", f"/v1.0/users/{jsmith['id']}", "manager($select=id)")]
        # the manager cleared in AD is cleared in Entra
        conn.modify(report, {"manager": [(ldap3.MODIFY_DELETE, [])]})
        lab.emulator.clear_log()
        fourth = run_cli("sync", "--config", str(cfg), report)
        assert fourth.code == 0 and [r["method"] for r in writes(lab.emulator)] == ["DELETE"]
    finally:
        conn.modify(report, {"manager": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()
