"""The sync rules against the real Samba AD DC and the Graph emulator.

Every exclusion of Entra Connect's out-of-box rules that can be built in Samba is built here (the lab
extends Samba's schema with Exchange's mailNickname, msExchRecipientTypeDetails and extensionAttributes),
synced with `pybridge sync`, and must end Skipped at the Sync step, naming the rule and the condition with
the value that triggered it, without a single write to Entra ID. Then a rule of the admin's own, in YAML,
must change what the next sync writes, and a broken one must stop the run before anything is read.
"""
from __future__ import annotations

import json
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import ldap3
import pytest

from pybridge.core.rules import RuleSet
from pybridge_lab import samba as samba_mod
from pybridge_lab.samba import _unicode_pwd, generate_password, sid_to_string
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration

BASE = "DC=contoso,DC=com"
USERS_OU = f"OU=Users,OU=Corp,{BASE}"
GROUPS_OU = f"OU=Groups,OU=Corp,{BASE}"
USER_CLASSES = ["top", "person", "organizationalPerson", "user"]
UF_NORMAL_ACCOUNT = 0x200
GLOBAL_SECURITY_GROUP = -2147483646
GLOBAL_DISTRIBUTION_GROUP = 2

USER_JOIN = "In from AD - User Join"
GROUP_JOIN = "In from AD - Group Join"


def writes(emulator) -> list[dict]:
    """Graph writes (the token request, a POST too, is not one)."""
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


def sync(lab, tmp_path: Path, dn: str, **overrides):
    return run_cli("sync", "--config", str(lab.config(tmp_path, **overrides)), dn)


def assert_filtered(r, rule: str, *in_reason: str) -> str:
    """The run ended Skipped at step 9 because *rule* filters the object; *in_reason* are in the Reason."""
    assert r.code == 3, (r.code, r.stderr, r.stdout[-2000:])
    info = r.json["StatusInfo"]
    assert info["Status"] == "Skipped"
    assert info["ErrorCode"] == "FilteredObject"
    assert r.step(9)["Status"] == "Skipped"
    assert r.step(9)["Details"]["Reason"] == info["Reason"]
    assert info["Reason"].startswith(f'Object is filtered by sync rule "{rule}": '), info["Reason"]
    for text in in_reason:
        assert text in info["Reason"], (text, info["Reason"])
    assert [s["Status"] for s in r.json["ProvisioningSteps"][:8]] == ["Success"] * 8
    assert r.step(8)["Details"]["Match"].startswith("Not searched")
    assert r.step(10)["Status"] == "Skipped"  # never run
    assert rule in info["RecommendedAction"]
    return info["Reason"]


@contextmanager
def ad_object(lab, dn: str, object_class: list[str], attrs: dict, password: bool = False) -> Iterator[str]:
    """Create *dn* as the admin, yield it, delete it afterwards (also when the test fails)."""
    conn = lab.dc.connection()
    try:
        add = dict(attrs)
        if password:
            add["unicodePwd"] = _unicode_pwd(generate_password(24))
            add.setdefault("userAccountControl", str(UF_NORMAL_ACCOUNT))
        assert conn.add(dn, object_class, add), (dn, conn.result)
        try:
            yield dn
        finally:
            assert conn.delete(dn), (dn, conn.result)
    finally:
        conn.unbind()


def user_attrs(sam: str, **extra) -> dict:
    return {"sAMAccountName": sam, "userPrincipalName": f"{sam.lower()}@contoso.com", "givenName": "Test",
            "sn": sam, **extra}


def new_user(lab, cn: str, sam: str, **extra):
    return ad_object(lab, f"CN={cn},{USERS_OU}", USER_CLASSES, user_attrs(sam, **extra), password=True)


def new_group(lab, cn: str, group_type: int = GLOBAL_SECURITY_GROUP, **extra):
    attrs = {"sAMAccountName": cn.replace(" ", ""), "groupType": str(group_type), **extra}
    return ad_object(lab, f"CN={cn},{GROUPS_OU}", ["top", "group"], attrs)


# -- users the default rules never sync ------------------------------------------------------------------

def test_critical_system_object_is_filtered(lab, tmp_path):
    # The built-in Administrator (isCriticalSystemObject TRUE) lives in CN=Users, outside OU=Corp: a
    # configuration that includes the whole domain lets it pass container scoping so the rule decides.
    dn = f"CN=Administrator,CN=Users,{BASE}"
    r = sync(lab, tmp_path, dn, **{"ad_connectors.0.containers": {"include": [BASE]}})
    assert_filtered(r, USER_JOIN, "cloudFiltered is True because IsPresent([isCriticalSystemObject])",
                    "(isCriticalSystemObject = True)")
    assert writes(lab.emulator) == []


def test_critical_system_group_is_filtered(lab, tmp_path):
    dn = f"CN=Domain Admins,CN=Users,{BASE}"
    r = sync(lab, tmp_path, dn, **{"ad_connectors.0.containers": {"include": [BASE]}})
    assert_filtered(r, GROUP_JOIN, "cloudFiltered is True because IsPresent([isCriticalSystemObject])",
                    "(isCriticalSystemObject = True)")
    assert writes(lab.emulator) == []


@pytest.mark.parametrize("sam,condition", [
    ("AAD_5a1b2c3d4e5f", 'Left([sAMAccountName], 4) = "AAD_" (sAMAccountName = "AAD_5a1b2c3d4e5f")'),
    ("MSOL_0123456789ab", 'Left([sAMAccountName], 5) = "MSOL_" (sAMAccountName = "MSOL_0123456789ab")'),
    ("SUPPORT_388945a0", '[sAMAccountName] = "SUPPORT_388945a0" (sAMAccountName = "SUPPORT_388945a0")'),
    ("CAS_{7f3a}", 'Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}") > 0) '
                   '(sAMAccountName = "CAS_{7f3a}")'),
])
def test_service_accounts_are_filtered_by_sam_account_name(lab, tmp_path, sam, condition):
    with new_user(lab, f"Rules {sam}", sam) as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, USER_JOIN, "cloudFiltered is True because " + condition)
    assert writes(lab.emulator) == []


@pytest.mark.parametrize("nickname,condition", [
    ("SystemMailbox{1f05a927-8d3e-4a6b-9c1d-2e5f7a8b9c0d}",
     'Left([mailNickname], 14) = "SystemMailbox{" '
     '(mailNickname = "SystemMailbox{1f05a927-8d3e-4a6b-9c1d-2e5f7a8b9c0d}")'),
    ("CAS_{5d1a0c2e}",
     'Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0) (mailNickname = "CAS_{5d1a0c2e}")'),
])
def test_exchange_system_mailboxes_are_filtered_by_mail_nickname(lab, tmp_path, nickname, condition):
    with new_user(lab, "Rules System Mailbox", "rsysmbx", mailNickname=nickname) as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, USER_JOIN, "cloudFiltered is True because " + condition)
    assert writes(lab.emulator) == []


def test_cas_prefix_without_a_brace_is_synced(lab, tmp_path):
    with new_user(lab, "Rules Cas Plain", "rcasplain", mailNickname="CAS_plain") as dn:
        r = sync(lab, tmp_path, dn)
    assert r.code == 0, r.stderr
    assert [u["mailNickname"] for u in lab.emulator.users.values()] == ["CAS_plain"]


MASK_CONDITION = ("CBool(IIF(IsPresent([msExchRecipientTypeDetails]),"
                  "BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL))")


@pytest.mark.parametrize("details", [
    4096,         # PublicFolder                 (&H1000)
    8192,         # SystemAttendantMailbox       (&H2000)
    16384,        # SystemMailbox                (&H4000)
    4194304,      # MicrosoftExchange            (&H400000)
    8388608,      # ArbitrationMailbox           (&H800000)
    16777216,     # MailboxPlan                  (&H1000000)
    536870912,    # DiscoveryMailbox             (&H20000000)
    536870912 | 2147483648,  # a mask bit together with bits outside it
])
def test_exchange_recipient_types_in_the_mask_are_filtered(lab, tmp_path, details):
    with new_user(lab, "Rules Recipient Type", "rrtd", msExchRecipientTypeDetails=str(details)) as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, USER_JOIN, f"cloudFiltered is True because {MASK_CONDITION} "
                                  f"(msExchRecipientTypeDetails = {details})")
    assert writes(lab.emulator) == []


@pytest.mark.parametrize("details", [
    1,              # UserMailbox
    4,              # SharedMailbox
    128,            # MailUser
    2147483648,     # RemoteUserMailbox (needs more than 32 bits signed: a large integer)
    34359738368,    # RemoteSharedMailbox
])
def test_exchange_recipient_types_outside_the_mask_are_synced(lab, tmp_path, details):
    with new_user(lab, "Rules Mailbox", "rmailbox", msExchRecipientTypeDetails=str(details)) as dn:
        r = sync(lab, tmp_path, dn)
    assert r.code == 0, (r.stderr, r.json["StatusInfo"])
    assert [u["userPrincipalName"] for u in lab.emulator.users.values()] == ["rmailbox@contoso.com"]


def test_admin_description_user_prefix_keeps_the_user_out_of_the_join_rule(lab, tmp_path):
    with new_user(lab, "Rules Admin Description", "radmindesc", adminDescription="User_abc123") as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, USER_JOIN, "Scope conditions not satisfied: [adminDescription NOTSTARTSWITH User_] "
                                  '(adminDescription = "User_abc123")')
    assert writes(lab.emulator) == []


def test_replication_conflict_object_is_filtered(lab, tmp_path):
    # When two DCs create the same name, AD keeps both and renames the loser "<cn>\nCNF:<objectGUID>" -
    # a line feed in the RDN, escaped in the DN as \0A. Samba accepts that name from an admin.
    guid = str(uuid.uuid4())
    dn = f"CN=Rules Conflict\\0ACNF:{guid},{USERS_OU}"
    with ad_object(lab, dn, USER_CLASSES, user_attrs("rconflict"), password=True):
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, USER_JOIN,
                    'cloudFiltered is True because CBool(InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0)',
                    f"CNF:{guid}")
    assert writes(lab.emulator) == []


def test_user_without_a_readable_sam_account_name_is_filtered(lab, tmp_path):
    # AD never stores a user without sAMAccountName: the DC makes one up when the add has none, and
    # refuses to remove it. What the connector cannot read is absent for the rules too, so the closest
    # real case is a user whose sAMAccountName the connector account may not read (a Deny ACE).
    sam_guid = "3e0abfd0-126a-11d0-a060-00aa006c33ed"  # schemaIDGUID of sAMAccountName
    conn = lab.dc.connection()
    try:
        dn = f"CN=Rules No Sam,{USERS_OU}"
        assert conn.add(dn, USER_CLASSES, {"userPrincipalName": "rnosam@contoso.com"}), conn.result
        try:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["sAMAccountName"])
            assert conn.response[0]["attributes"]["sAMAccountName"][0].startswith("$")  # made up by the DC
            assert not conn.modify(dn, {"sAMAccountName": [(ldap3.MODIFY_DELETE, [])]})
            conn.search(lab.info.connector_dn, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
            sid = sid_to_string(conn.response[0]["raw_attributes"]["objectSid"][0])
            res = subprocess.run(
                [samba_mod._which("samba-tool") or "samba-tool", "dsacl", "set", "-s", str(lab.dc.smb_conf),
                 "-H", str(lab.dc.base_dir / "private" / "sam.ldb"), "--action=deny",
                 f"--objectdn={dn}", f"--sddl=(OD;;RP;{sam_guid};;{sid})"],
                capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
            assert res.returncode == 0, res.stderr
            probe = lab.dc.connector_connection()
            try:
                probe.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["sAMAccountName", "userPrincipalName"])
                seen = probe.response[0]["attributes"]
                assert seen.get("userPrincipalName") and not seen.get("sAMAccountName"), seen
            finally:
                probe.unbind()
            r = sync(lab, tmp_path, dn)
        finally:
            assert conn.delete(dn), conn.result
    finally:
        conn.unbind()
    assert_filtered(r, USER_JOIN, "cloudFiltered is True because IsPresent([sAMAccountName]) = False "
                                  "(sAMAccountName = null)")
    assert writes(lab.emulator) == []


# -- groups --------------------------------------------------------------------------------------------------

def test_exchange_role_group_is_filtered(lab, tmp_path):
    with new_group(lab, "Rules Role Group", msExchRecipientTypeDetails=str(0x40000000)) as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, GROUP_JOIN, "cloudFiltered is True because CBool(IIF(IsPresent([msExchRecipientTypeDetails]),"
                                   "BitAnd([msExchRecipientTypeDetails],&H40000000) > 0,NULL)) "
                                   "(msExchRecipientTypeDetails = 1073741824)")
    assert writes(lab.emulator) == []


def test_dirsync_rich_coexistence_group_is_filtered(lab, tmp_path):
    with new_group(lab, "MSOL_AD_Sync_RichCoexistence") as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, GROUP_JOIN, '[sAMAccountName] = "MSOL_AD_Sync_RichCoexistence"')
    assert writes(lab.emulator) == []


def test_admin_description_group_prefix_keeps_the_group_out_of_the_join_rule(lab, tmp_path):
    with new_group(lab, "Rules Group Admin Description", adminDescription="Group_abc123") as dn:
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, GROUP_JOIN, "Scope conditions not satisfied: [adminDescription NOTSTARTSWITH Group_] "
                                   '(adminDescription = "Group_abc123")')
    assert writes(lab.emulator) == []


def test_replication_conflict_group_is_filtered(lab, tmp_path):
    guid = str(uuid.uuid4())
    dn = f"CN=Rules Group\\0ACNF:{guid},{GROUPS_OU}"
    with ad_object(lab, dn, ["top", "group"], {"sAMAccountName": "rgroupcnf",
                                               "groupType": str(GLOBAL_SECURITY_GROUP)}):
        r = sync(lab, tmp_path, dn)
    assert_filtered(r, GROUP_JOIN, 'InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0', f"CNF:{guid}")
    assert writes(lab.emulator) == []


def test_distribution_group_that_is_not_mail_enabled_is_not_provisioned(lab, tmp_path):
    # Not filtered inbound: "Out to AAD - Group Join" provisions distribution groups only when they are
    # mail-enabled, so Entra Connect never exports this one: Skipped at the Sync step, naming the rule and the
    # clauses that failed.
    with new_group(lab, "Rules Distribution", GLOBAL_DISTRIBUTION_GROUP) as dn:
        r = sync(lab, tmp_path, dn)
    assert r.code == 3, r.stderr
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == "FilteredObject"
    assert 'sync rule "Out to AAD - Group Join"' in info["Reason"]
    assert "[securityEnabled EQUAL True]" in info["Reason"] and "[mailEnabled EQUAL True]" in info["Reason"]
    assert r.step(9)["Status"] == "Skipped" and r.step(10)["Status"] == "Skipped"
    assert writes(lab.emulator) == []


def test_group_member_limit_is_checked_by_the_rules_engine(lab):
    # 250,000 members are not built in Samba: the group is read from the lab and the rules engine gets its
    # attributes with the member list padded to the limit (and one below it).
    conn = lab.dc.connector_connection()
    try:
        conn.search(lab.dns["group"], "(objectClass=*)", ldap3.BASE,
                    attributes=["sAMAccountName", "groupType", "objectGUID", "member", "mailNickname"])
        raw = conn.response[0]["raw_attributes"]
    finally:
        conn.unbind()
    attrs = {k: [v if k == "objectGUID" else v.decode() for v in vs] for k, vs in raw.items()}
    rs = RuleSet.load()
    ctx = {"Domain.FQDN": "contoso.com", "Domain.Netbios": "CONTOSO", "dn": lab.dns["group"]}
    filler = [f"CN=Member {i},{USERS_OU}" for i in range(250_000 - len(attrs["member"]))]
    at_limit = rs.inbound("contoso.com", "group", {**attrs, "member": attrs["member"] + filler}, ctx)
    below = rs.inbound("contoso.com", "group", {**attrs, "member": attrs["member"] + filler[1:]}, ctx)
    assert below.excluded is None and below.values["mailNickname"] == "Sales"
    rule, condition = at_limit.excluded
    assert rule == GROUP_JOIN
    assert condition.startswith("cloudFiltered is True because Count([member]) >= 250000")
    assert len(condition) < 2000, len(condition)  # the explanation must not list 250,000 DNs


# -- a rule of the admin's own -------------------------------------------------------------------------------

CUSTOM_RULE = "In from AD - User Custom UPN and displayName"
CUSTOM_RULES_YAML = f"""\
rules:
  - name: {CUSTOM_RULE}
    description: UPN from mail, displayName from given name and surname
    direction: inbound
    source_object_type: user
    target_object_type: person
    link_type: Join
    precedence: 50          # the out-of-box rules start at 100: this one wins for what it flows
    scope:
      - - {{attribute: mail, operator: ISNOTNULL}}
    flows:
      - {{target: userPrincipalName, type: Expression, expression: "Trim([mail])"}}
      - target: displayName
        type: Expression
        expression: '[givenName] & " " & [sn]'
"""


def sync_step_rules(r) -> dict[str, str]:
    """Metaverse attribute -> the sync rule that gave it its value, from the Sync step's AttributeInfoJson."""
    infos = json.loads(r.step(9)["Details"]["AttributeInfoJson"])
    return {i["Name"]: i["SyncRule"] for i in infos if i["DataSource"] != "Metaverse"}


def the_user(emulator, source_anchor: str) -> dict:
    found = [u for u in emulator.users.values() if u.get("onPremisesImmutableId") == source_anchor]
    assert len(found) == 1, emulator.users
    return found[0]


def test_custom_rule_changes_what_the_next_sync_writes(lab, tmp_path):
    rule_file = tmp_path / "rules" / "custom.yaml"
    rule_file.parent.mkdir()
    rule_file.write_text(CUSTOM_RULES_YAML, encoding="utf-8")
    attrs = user_attrs("fcustom", givenName="First", sn="Last", displayName="F. Last (Sales)",
                       mail="first.last@contoso.com", userPrincipalName="fcustom@contoso.com")
    with ad_object(lab, f"CN=First Last,{USERS_OU}", USER_CLASSES, attrs, password=True) as dn:
        # 1. the defaults: UPN and displayName as they are in AD
        default_cfg = str(lab.config(tmp_path))
        r = run_cli("sync", "--config", default_cfg, dn)
        assert r.code == 0, (r.stderr, r.json["StatusInfo"])
        anchor = r.step(8)["Details"]["Source anchor"]
        user = the_user(lab.emulator, anchor)
        assert (user["userPrincipalName"], user["displayName"]) == ("fcustom@contoso.com", "F. Last (Sales)")
        assert sync_step_rules(r)["userPrincipalName"] == "In from AD - User AccountEnabled"
        assert sync_step_rules(r)["displayName"] == "In from AD - User Common"

        # 2. the same object, same state, now with the admin's rule: the next sync updates both
        lab.emulator.clear_log()
        custom_cfg = str(lab.config(tmp_path, **{"rules": {"files": [str(rule_file)]}}))
        r = run_cli("sync", "--config", custom_cfg, dn)
        assert r.code == 0, (r.stderr, r.json["StatusInfo"])
        assert r.json["Action"] == "Update"
        user = the_user(lab.emulator, anchor)
        assert (user["userPrincipalName"], user["displayName"]) == ("first.last@contoso.com", "First Last")
        rules = sync_step_rules(r)
        assert rules["userPrincipalName"] == CUSTOM_RULE and rules["displayName"] == CUSTOM_RULE
        assert rules["sn"] == "In from AD - User Common"  # what the rule does not flow is unchanged
        patches = [w for w in writes(lab.emulator) if w["method"] == "PATCH"]
        assert len(patches) == 1 and patches[0]["body"]["userPrincipalName"] == "first.last@contoso.com"
        assert patches[0]["body"]["displayName"] == "First Last"
        changed = {p["Name"]: (p["OldValue"], p["NewValue"]) for p in r.json["ModifiedProperties"]}
        assert changed["userPrincipalName"] == ("fcustom@contoso.com", "first.last@contoso.com")
        assert changed["displayName"] == ("F. Last (Sales)", "First Last")

        # 3. a change in AD flows through the rule on the sync after
        conn = lab.dc.connection()
        try:
            assert conn.modify(dn, {"givenName": [(ldap3.MODIFY_REPLACE, ["Firstname"])]}), conn.result
        finally:
            conn.unbind()
        r = run_cli("sync", "--config", custom_cfg, dn)
        assert r.code == 0, r.stderr
        assert the_user(lab.emulator, anchor)["displayName"] == "Firstname Last"

        # 4. without the rule file the defaults give the original values back
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn)
        assert r.code == 0, r.stderr
        user = the_user(lab.emulator, anchor)
        assert (user["userPrincipalName"], user["displayName"]) == ("fcustom@contoso.com", "F. Last (Sales)")
        assert sync_step_rules(r)["userPrincipalName"] == "In from AD - User AccountEnabled"


def test_custom_rule_out_of_scope_leaves_the_defaults(lab, tmp_path):
    # The rule's scope needs a mail: a user without one keeps the out-of-box values, and the Sync step lists
    # the rule as out of scope with the clause that failed.
    rule_file = tmp_path / "custom.yaml"
    rule_file.write_text(CUSTOM_RULES_YAML, encoding="utf-8")
    with new_user(lab, "No Mail", "rnomail", displayName="No Mail (Ops)") as dn:
        r = sync(lab, tmp_path, dn, **{"rules": {"files": [str(rule_file)]}})
    assert r.code == 0, r.stderr
    assert [(u["userPrincipalName"], u["displayName"]) for u in lab.emulator.users.values()] == \
        [("rnomail@contoso.com", "No Mail (Ops)")]
    assert f"{CUSTOM_RULE} (Scope conditions not satisfied: [mail ISNOTNULL])" in \
        r.step(9)["Details"]["Out of scope sync rules"]
    assert CUSTOM_RULE not in sync_step_rules(r).values()


def test_custom_rule_can_let_a_filtered_account_sync(lab, tmp_path):
    # Disabling the out-of-box join rule and adding a copy without the AAD_ condition is how Entra Connect's
    # documentation has an admin change a default rule; the object then syncs.
    rule_file = tmp_path / "unfilter.yaml"
    rule_file.write_text("""\
rules:
  - {name: "In from AD - User Join", enabled: false}
  - name: In from AD - User Join (AAD_ allowed)
    direction: inbound
    source_object_type: user
    target_object_type: person
    link_type: Provision
    precedence: 90
    flows:
      - {target: cloudFiltered, type: Expression, expression: 'IIF(IsPresent([isCriticalSystemObject]), True, NULL)'}
      - {target: sourceAnchor, type: Expression, expression: 'ConvertToBase64([objectGUID])'}
      - {target: sourceObjectType, type: Constant, value: User}
""", encoding="utf-8")
    with new_user(lab, "Rules Allowed", "AAD_allowed") as dn:
        filtered = sync(lab, tmp_path, dn)
        allowed = sync(lab, tmp_path, dn, **{"rules": {"files": [str(rule_file)]}})
    assert_filtered(filtered, USER_JOIN, '(sAMAccountName = "AAD_allowed")')
    assert allowed.code == 0, (allowed.stderr, allowed.json["StatusInfo"])
    assert [u["userPrincipalName"] for u in lab.emulator.users.values()] == ["aad_allowed@contoso.com"]
    assert "In from AD - User Join (Sync rule disabled)" in allowed.step(9)["Details"]["Out of scope sync rules"]


def test_rule_file_with_a_syntax_error_stops_before_anything_is_read(lab, tmp_path):
    rule_file = tmp_path / "broken.yaml"
    rule_file.write_text(CUSTOM_RULES_YAML.replace('"Trim([mail])"', '"Trim([mail]"'), encoding="utf-8")
    r = sync(lab, tmp_path, lab.dns["user"], **{"rules": {"files": [str(rule_file)]}})
    assert r.code == 2, r.stderr
    assert f'rule "{CUSTOM_RULE}"' in r.stderr and "flows[0].expression" in r.stderr
    assert "position 12" in r.stderr and str(rule_file) in r.stderr, r.stderr
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == "ConfigurationError"
    assert lab.emulator.requests == []  # not even a token: nothing ran
