"""Troubleshooting: what Entra ID would refuse is found before export and explained with what to do."""
from __future__ import annotations

import ldap3
import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def writes(emulator):
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE") and r["path"].startswith("/v1.0/")]


def assert_failure(r, step, code, *in_reason):
    assert r.code == 1, r.stderr
    assert r.step(step)["Status"] == "Failure"
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == code
    for text in in_reason:
        assert text in info["Reason"], (text, info["Reason"])
    assert info["RecommendedAction"]
    return info


@pytest.mark.parametrize("mode", [[], ["--staging-mode"]])
def test_value_held_by_another_object_is_named_before_export(lab, tmp_path, mode):
    other = lab.emulator.add_user(userPrincipalName="j.doe.cloud@contoso.com", displayName="Jane (cloud)",
                                  mailNickname="jdoecloud", accountEnabled=True, mail="jdoe@contoso.com")
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"], *mode)
    info = assert_failure(r, 10, "AttributeValueMustBeUnique", 'mail "jdoe@contoso.com"', "j.doe.cloud@contoso.com",
                          other["id"], "cloud-only")
    assert "Decide which object should keep the value" in info["RecommendedAction"]
    assert writes(lab.emulator) == []


def test_conflict_reported_by_graph_at_export(lab, tmp_path):
    lab.emulator.inject_fault(method="POST", path_regex=r"^/v1\.0/users$", status=400, count=1, body={
        "error": {"code": "Request_BadRequest",
                  "message": "Another object with the same value for property proxyAddresses already exists.",
                  "details": [{"code": "ObjectConflict", "message": "conflict", "target": "proxyAddresses"}]}})
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert_failure(r, 10, "AttributeValueMustBeUnique", "proxyAddresses already exists")


def test_soft_match_onto_an_object_of_another_type(lab, tmp_path):
    lab.emulator.add_group(displayName="Jane's list", mailNickname="janelist", mailEnabled=True,
                           securityEnabled=False, mail="jdoe@contoso.com", groupTypes=["Unified"],
                           proxyAddresses=["SMTP:jdoe@contoso.com"])
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    info = assert_failure(r, 10, "ObjectTypeMismatch", "found a group, not a user", "Jane's list")
    assert "never joins objects of different types" in info["RecommendedAction"]


def test_upn_suffix_that_is_not_a_verified_domain(lab, tmp_path):
    dn = lab.dns["user_comma"]
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@fabrikam.example"])]})
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn, "--staging-mode")
    finally:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@contoso.com"])]})
        conn.unbind()
    info = assert_failure(r, 10, "UpnSuffixNotVerified", '"fabrikam.example"', "jsmith@contoso.onmicrosoft.com")
    assert "verify" in info["RecommendedAction"]


def test_too_many_certificates_is_a_large_object(lab, tmp_path):
    dn = lab.dns["user_nonascii"]
    conn = lab.dc.connection()
    try:
        assert conn.modify(dn, {"userCertificate": [(ldap3.MODIFY_REPLACE,
                                                     [bytes([i]) * 64 for i in range(1, 17)])]}), conn.result
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn)
    finally:
        conn.modify(dn, {"userCertificate": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()
    assert_failure(r, 10, "LargeObject", "userCertificate holds 16 values", "at most 15")
    assert writes(lab.emulator) == []


def test_mail_enabled_security_group_cannot_be_written(lab, tmp_path):
    dn = lab.dns["group_nested"]
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"proxyAddresses": [(ldap3.MODIFY_REPLACE, ["SMTP:emea@contoso.com"])]})
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn)
    finally:
        conn.modify(dn, {"proxyAddresses": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()
    info = assert_failure(r, 10, "UnsupportedObjectType", "mail-enabled security group")
    assert "Exchange Online" in info["RecommendedAction"]
    assert writes(lab.emulator) == []


def test_distribution_group_is_not_provisioned(lab, tmp_path):
    dn = "CN=Newsletter,OU=Groups,OU=Corp,DC=contoso,DC=com"
    conn = lab.dc.connection()
    try:
        assert conn.add(dn, ["top", "group"], {"sAMAccountName": "newsletter", "groupType": 2}), conn.result
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn)
    finally:
        conn.delete(dn)
        conn.unbind()
    assert r.code == 3 and r.step(9)["Status"] == "Skipped"
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == "FilteredObject" and "Out to AAD - Group Join" in info["Reason"]
    assert writes(lab.emulator) == []


def test_cloud_admin_is_never_soft_matched(lab, tmp_path):
    admin = lab.emulator.add_user(userPrincipalName="jdoe@contoso.com", displayName="Jane (admin)",
                                  mailNickname="jdoe", accountEnabled=True)
    lab.emulator.assign_role(admin["id"], "Global Administrator")
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    info = assert_failure(r, 8, "ExistingAdminRoleConflict", "jdoe@contoso.com", "Global Administrator")
    assert "Remove the directory role" in info["RecommendedAction"]
    assert writes(lab.emulator) == []


def test_hard_match_onto_a_cloud_object_can_be_blocked(lab, tmp_path):
    cfg = lab.config(tmp_path)
    first = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    anchor = first.step(8)["Details"]["Source anchor"]
    lab.emulator.add_user(userPrincipalName="jane.cloud@contoso.com", displayName="Jane cloud", mailNickname="jc",
                          accountEnabled=True, onPremisesImmutableId=anchor)
    allowed = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    assert allowed.code == 0 and allowed.step(8)["Details"]["Match"] == "Hard match on onPremisesImmutableId"
    blocked_cfg = lab.config(tmp_path, **{"sync.block_cloud_object_takeover_through_hard_match": True})
    r = run_cli("sync", "--config", str(blocked_cfg), lab.dns["user"])
    assert_failure(r, 8, "InvalidHardMatch", "jane.cloud@contoso.com", "blocked")


def test_upn_move_between_federated_domains(lab, tmp_path):
    cfg = lab.config(tmp_path)
    dn = lab.dns["user_comma"]
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@fabrikam.com"])]})
        created = run_cli("sync", "--config", str(cfg), dn)
        assert created.code == 0, created.stderr
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@northwind.com"])]})
        r = run_cli("sync", "--config", str(cfg), dn)
    finally:
        conn.modify(dn, {"userPrincipalName": [(ldap3.MODIFY_REPLACE, ["jsmith@contoso.com"])]})
        conn.unbind()
    info = assert_failure(r, 10, "FederatedDomainChangeError", '"fabrikam.com"', '"northwind.com"')
    assert "managed domain" in info["RecommendedAction"]
    assert [w["method"] for w in writes(lab.emulator)] == ["POST"]
