"""The built-in rules mirror Entra Connect's out-of-box rules: the exclusions (cloudFiltered), users, inetOrgPersons,
groups, contacts and foreign security principals, the outbound mapping onto Graph, and a table of real expressions
from Entra Connect's default rules and Microsoft's documentation evaluated as Entra Connect evaluates them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pybridge.core.rules import ErrorFunctionTriggered, RuleSet, compile_expression

ROOT = Path(__file__).resolve().parents[2]
CTX = {"Domain.FQDN": "contoso.com", "Domain.Netbios": "CONTOSO", "Forest.FQDN": "contoso.com",
       "Connector.Name": "contoso.com"}
GUID = bytes(range(16))
SID = bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xE8, 3, 0, 0])


@pytest.fixture(scope="module")
def rs() -> RuleSet:
    return RuleSet.load()


def user(**extra):
    attrs = {"cn": ["Jane Doe"], "sAMAccountName": ["jdoe"], "objectGUID": [GUID], "objectSid": [SID],
             "userAccountControl": [512], "distinguishedName": ["CN=Jane Doe,OU=Users,DC=contoso,DC=com"]}
    attrs.update({k: v if isinstance(v, list) else [v] for k, v in extra.items()})
    return {k: v for k, v in attrs.items() if v != [None]}


def sync(rs: RuleSet, object_class: str, attrs: dict):
    inbound = rs.inbound("contoso.com", object_class, attrs, CTX)
    mv = {k: v if isinstance(v, list) else [v] for k, v in inbound.values.items()}
    return inbound, rs.outbound(inbound.mv_type, mv, CTX) if inbound.mv_type and inbound.excluded is None else None


# -- users -------------------------------------------------------------------------------------------

def test_user_flows_follow_entra_connect_defaults(rs):
    inbound, out = sync(rs, "user", user(userAccountControl=514, givenName="  Jane ", title="Engineer"))
    v = inbound.values
    assert v["displayName"] == "Jane Doe"  # cn when displayName is empty
    assert v["userPrincipalName"] == "jdoe@contoso.com"  # sAMAccountName@domain when the UPN is absent
    assert v["accountEnabled"] is False  # ACCOUNTDISABLE bit, from User Common
    assert v["givenName"] == "Jane"  # trimmed
    assert v["sourceAnchor"] == "AAECAwQFBgcICQoLDA0ODw=="  # objectGUID as base64
    assert v["sourceObjectType"] == "User" and "cloudFiltered" not in v
    assert inbound.mv_type == "person" and inbound.join_rule == "In from AD - User Join"
    assert inbound.out_of_scope == ["In from AD - User AccountEnabled (Scope conditions not satisfied: "
                                    "[userAccountControl ISBITNOTSET 2])"]
    assert out.target_type == "user"
    assert {k: out.values[k] for k in ("onPremisesImmutableId", "userPrincipalName", "accountEnabled", "displayName",
                                       "givenName", "jobTitle", "mailNickname")} == {
        "onPremisesImmutableId": "AAECAwQFBgcICQoLDA0ODw==", "userPrincipalName": "jdoe@contoso.com",
        "accountEnabled": False, "displayName": "Jane Doe", "givenName": "Jane", "jobTitle": "Engineer",
        "mailNickname": "jdoe"}


def test_an_enabled_user_gets_accountEnabled_and_the_upn_from_the_account_enabled_rule(rs):
    inbound, _ = sync(rs, "user", user(userPrincipalName=" jane@contoso.com "))
    info = {i.name: i for i in inbound.info}
    assert inbound.values["accountEnabled"] is True
    assert inbound.values["userPrincipalName"] == "jane@contoso.com"
    assert (info["accountEnabled"].sync_rule, info["accountEnabled"].mapping_type) == \
        ("In from AD - User AccountEnabled", "Constant")
    assert info["userPrincipalName"].sync_rule == "In from AD - User AccountEnabled"
    assert info["displayName"].data_source == "contoso.com"


def test_consistency_guid_wins_over_object_guid(rs):
    inbound, _ = sync(rs, "user", user(**{"mS-DS-ConsistencyGuid": b"\x01" * 16}))
    assert inbound.values["sourceAnchor"] == "AQEBAQEBAQEBAQEBAQEBAQ=="


def test_the_configured_source_anchor_attribute_is_used():
    rs = RuleSet.load(source_anchor="employeeID")
    assert rs.inbound("c", "user", user(employeeID=" E123 "), CTX).values["sourceAnchor"] == "E123"  # text as it is
    assert rs.inbound("c", "user", user(), CTX).values["sourceAnchor"] == "AAECAwQFBgcICQoLDA0ODw=="  # objectGUID
    assert "[employeeID]" in rs.get("In from AD - User Join").flows[1].expression


def test_a_linked_mailbox_contributes_no_source_anchor(rs):
    inbound, _ = sync(rs, "user", user(msExchRecipientTypeDetails="2"))
    assert "sourceAnchor" not in inbound.values


@pytest.mark.parametrize("extra,because", [
    ({"isCriticalSystemObject": "TRUE"}, 'IsPresent([isCriticalSystemObject]) (isCriticalSystemObject = "TRUE")'),
    ({"sAMAccountName": None}, "IsPresent([sAMAccountName]) = False (sAMAccountName = null)"),
    ({"sAMAccountName": "SUPPORT_388945a0"}, '[sAMAccountName] = "SUPPORT_388945a0"'),
    ({"mailNickname": "SystemMailbox{1f05a927}"}, 'Left([mailNickname], 14) = "SystemMailbox{"'),
    ({"sAMAccountName": "AAD_5a1b2c3d4e5f"}, 'Left([sAMAccountName], 4) = "AAD_"'),
    ({"sAMAccountName": "MSOL_0123456789ab"}, 'Left([sAMAccountName], 5) = "MSOL_"'),
    ({"mailNickname": "CAS_{abc}"}, 'Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0)'),
    ({"sAMAccountName": "CAS_{abc}"}, 'Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}") > 0)'),
    ({"msExchRecipientTypeDetails": 536870912},  # discovery mailbox
     "CBool(IIF(IsPresent([msExchRecipientTypeDetails]),BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL))"),
    ({"distinguishedName": "CN=Jane Doe\\0ACNF:5bd5e6f4-8b9a-4e4f-9c84-0f3c2c0f1e2a,OU=Users,DC=contoso,DC=com"},
     'CBool(InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0)'),
])
def test_users_entra_connect_never_syncs_are_excluded_naming_the_condition(rs, extra, because):
    inbound, out = sync(rs, "user", user(**extra))
    assert inbound.excluded is not None and out is None
    rule, condition = inbound.excluded
    assert rule == "In from AD - User Join"
    assert condition.startswith("cloudFiltered is True because " + because)
    assert inbound.values["cloudFiltered"] is True


def test_mailbox_types_outside_the_mask_are_synced(rs):
    for details in (1, 4, 128, 2147483648):  # user mailbox, shared, mail user, remote mailbox
        inbound, out = sync(rs, "user", user(msExchRecipientTypeDetails=details))
        assert inbound.excluded is None and out.target_type == "user", details


def test_admin_description_user_prefix_keeps_the_user_out_of_the_join(rs):
    inbound, _ = sync(rs, "user", user(adminDescription="User_abc"))
    assert inbound.excluded == ("In from AD - User Join", "Scope conditions not satisfied: [adminDescription "
                                "NOTSTARTSWITH User_] (adminDescription = \"User_abc\")")
    assert inbound.values == {}


def test_inet_org_person_gets_the_user_rules_under_its_own_names(rs):
    inbound, out = sync(rs, "inetOrgPerson", user(givenName="Ines", sn="Org"))
    assert inbound.mv_type == "person" and inbound.join_rule == "In from AD - InetOrgPerson Join"
    assert {i.sync_rule for i in inbound.info} == {"In from AD - InetOrgPerson Join",
                                                   "In from AD - InetOrgPerson AccountEnabled",
                                                   "In from AD - InetOrgPerson Common"}
    assert out.target_type == "user" and out.values["surname"] == "Org"


def test_user_common_flows(rs):
    inbound, out = sync(rs, "user", user(
        displayName="  Jane  ", mail="jane@contoso.com", proxyAddresses=["SMTP:jane@contoso.com ", " SMTP:jane@contoso.com", "smtp:jd@contoso.com"],
        description=["  " + "d" * 500], department="R&D", company="Contoso", l="Oslo", co="Norway", c="NO",
        telephoneNumber="+47 1", mobile="+47 2", employeeID="E1", extensionAttribute7="x7",
        manager="CN=Boss,OU=Users,DC=contoso,DC=com", physicalDeliveryOfficeName="HQ"))
    v = inbound.values
    assert v["displayName"] == "Jane"
    assert v["proxyAddresses"] == ["SMTP:jane@contoso.com", "smtp:jd@contoso.com"]  # trimmed, duplicates removed
    assert v["description"] == "d" * 448  # first value, trimmed, cut to 448
    assert v["distinguishedName"] == "CN=Jane Doe,OU=Users,DC=contoso,DC=com"
    assert (v["domainFQDN"], v["domainNetBios"]) == ("contoso.com", "CONTOSO")
    o = out.values
    assert (o["companyName"], o["city"], o["country"], o["officeLocation"], o["employeeId"]) == \
        ("Contoso", "Oslo", "Norway", "HQ", "E1")
    assert o["businessPhones"] == ["+47 1"] and o["mobilePhone"] == "+47 2"
    assert o["onPremisesSecurityIdentifier"] == "S-1-5-21-1-2-3-1000"
    assert o["onPremisesSamAccountName"] == "jdoe" and o["onPremisesDomainName"] == "contoso.com"
    assert o["onPremisesExtensionAttributes.extensionAttribute7"] == "x7"
    assert o["proxyAddresses"] == ["SMTP:jane@contoso.com", "smtp:jd@contoso.com"]
    assert {"proxyAddresses", "onPremisesSecurityIdentifier", "onPremisesSamAccountName", "onPremisesDomainName",
            "onPremisesDistinguishedName", "onPremisesUserPrincipalName",
            "onPremisesExtensionAttributes.extensionAttribute7"} <= out.not_exportable
    # manager is a reference the pipeline resolves and writes through /users/{id}/manager/$ref
    assert not {"displayName", "userPrincipalName", "onPremisesImmutableId", "accountEnabled", "mailNickname",
                "businessPhones", "manager"} & out.not_exportable


@pytest.mark.parametrize("attrs,expected", [
    ({"mailNickname": " jd.mail "}, "jd.mail"),  # the admin's mailNickname
    ({"userPrincipalName": "jane.doe@contoso.com"}, "jane.doe"),  # the UPN prefix
    ({}, "jdoe"),  # no UPN: sAMAccountName@domain, so the sAMAccountName
    ({"userPrincipalName": "jöhn.müller@contoso.com"}, "john.muller"),  # accents transliterated
    ({"sAMAccountName": "we(i)rd; na,me:x"}, "weirdnamex"),  # characters Graph refuses removed
])
def test_user_mail_nickname_falls_back_to_the_upn_prefix_as_entra_derives_it(rs, attrs, expected):
    _, out = sync(rs, "user", user(**attrs))
    assert out.values["mailNickname"] == expected


# -- groups ------------------------------------------------------------------------------------------

def group(**extra):
    attrs = {"cn": ["Pilot"], "sAMAccountName": ["Pilot"], "objectGUID": [GUID], "objectSid": [SID],
             "groupType": [-2147483646], "distinguishedName": ["CN=Pilot,OU=Groups,DC=contoso,DC=com"],
             "member": ["CN=Jane Doe,OU=Users,DC=contoso,DC=com", "CN=Bob,OU=Users,DC=contoso,DC=com"]}
    attrs.update({k: v if isinstance(v, list) else [v] for k, v in extra.items()})
    return {k: v for k, v in attrs.items() if v != [None]}


def test_security_group_flows(rs):
    inbound, out = sync(rs, "group", group(description="Pilot users"))
    assert inbound.mv_type == "group" and inbound.values["securityEnabled"] is True
    assert out.target_type == "group"
    assert out.values["members"] == ["CN=Jane Doe,OU=Users,DC=contoso,DC=com", "CN=Bob,OU=Users,DC=contoso,DC=com"]
    assert {k: out.values[k] for k in ("displayName", "mailNickname", "description", "securityEnabled",
                                       "mailEnabled")} == {"displayName": "Pilot", "mailNickname": "Pilot",
                                                           "description": "Pilot users", "securityEnabled": True,
                                                           "mailEnabled": False}
    assert next(i for i in out.info if i.name == "members").type == "Reference"
    assert {"onPremisesSecurityIdentifier", "onPremisesSamAccountName"} <= out.not_exportable
    assert "members" not in out.not_exportable


def test_group_mail_nickname_falls_back_to_the_sam_account_name_cleaned(rs):
    _, out = sync(rs, "group", group(sAMAccountName="Sales Team (EU)"))
    assert out.values["mailNickname"] == "SalesTeamEU"
    _, out = sync(rs, "group", group(mailNickname="sales-eu"))
    assert out.values["mailNickname"] == "sales-eu"


def test_distribution_groups_sync_only_when_mail_enabled(rs):
    inbound, out = sync(rs, "group", group(groupType=2))
    assert inbound.excluded is None and inbound.values["securityEnabled"] is False
    assert out.excluded == ("Out to AAD - Group Join", "Scope conditions not satisfied: [securityEnabled EQUAL True] "
                                                       "(securityEnabled = False) OR [mailEnabled EQUAL True] "
                                                       "(mailEnabled = False)")
    assert out.values == {}
    _, out = sync(rs, "group", group(groupType=2, proxyAddresses=["SMTP:pilot@contoso.com"]))
    assert out.excluded is None and out.target_type == "group"
    assert "mail" in out.not_exportable and "proxyAddresses" in out.not_exportable
    _, out = sync(rs, "group", group(groupType=2, mail="pilot@contoso.com"))
    assert out.excluded is None
    _, out = sync(rs, "group", group(groupType=2, proxyAddresses=["smtp:secondary@contoso.com"]))
    assert out.excluded is not None  # no primary SMTP address


@pytest.mark.parametrize("extra,because", [
    ({"isCriticalSystemObject": True}, "IsPresent([isCriticalSystemObject])"),
    ({"sAMAccountName": "MSOL_AD_Sync_RichCoexistence"}, '[sAMAccountName] = "MSOL_AD_Sync_RichCoexistence"'),
    ({"msExchRecipientTypeDetails": 1073741824}, "CBool(IIF(IsPresent([msExchRecipientTypeDetails]),"
                                                 "BitAnd([msExchRecipientTypeDetails],&H40000000) > 0,NULL))"),
    ({"member": [f"CN=U{i},DC=contoso,DC=com" for i in range(250_000)]}, "Count([member]) >= 250000"),
    ({"distinguishedName": "CN=Pilot\\0ACNF:1,OU=Groups,DC=contoso,DC=com"}, "CBool(InStr(DNComponent("),
])
def test_groups_entra_connect_never_syncs_are_excluded(rs, extra, because):
    inbound, _ = sync(rs, "group", group(**extra))
    assert inbound.excluded[0] == "In from AD - Group Join"
    assert inbound.excluded[1].startswith("cloudFiltered is True because " + because)


def test_a_group_of_249999_members_syncs(rs):
    inbound, out = sync(rs, "group", group(member=[f"CN=U{i},DC=contoso,DC=com" for i in range(249_999)]))
    assert inbound.excluded is None and len(out.values["members"]) == 249_999


def test_admin_description_group_prefix_keeps_the_group_out(rs):
    inbound, _ = sync(rs, "group", group(adminDescription="Group_0123"))
    assert inbound.excluded[0] == "In from AD - Group Join"


# -- contacts and foreign security principals -------------------------------------------------------

def contact(**extra):
    attrs = {"cn": ["Ext Partner"], "objectGUID": [GUID], "distinguishedName": ["CN=Ext Partner,OU=C,DC=contoso,DC=com"]}
    attrs.update({k: v if isinstance(v, list) else [v] for k, v in extra.items()})
    return attrs


def test_mail_enabled_contacts_sync_as_contacts_graph_cannot_write(rs):
    inbound, out = sync(rs, "contact", contact(mail="partner@fabrikam.com", givenName="Ext"))
    assert inbound.mv_type == "person" and inbound.values["sourceObjectType"] == "Contact"
    assert out.target_type == "contact" and out.values["mail"] == "partner@fabrikam.com"
    assert out.not_exportable == {f.target for f in rs.get("Out to AAD - Contact Identity").flows}
    assert "Out to AAD - User Join (Scope conditions not satisfied: [sourceObjectType EQUAL User])" in out.out_of_scope


@pytest.mark.parametrize("extra,synced", [
    ({}, False),  # not mail-enabled
    ({"mail": "no-at-sign"}, False),
    ({"proxyAddresses": ["smtp:p@fabrikam.com"]}, False),  # no primary address
    ({"proxyAddresses": ["SMTP:p@fabrikam.com"]}, True),
    ({"mail": "p@fabrikam.com", "isCriticalSystemObject": "TRUE"}, False),
    ({"mail": "p@fabrikam.com", "displayName": "Partner (MSOL)", "msExchHideFromAddressLists": "TRUE"}, False),
    ({"mail": "p@fabrikam.com", "displayName": "Partner (MSOL)", "msExchHideFromAddressLists": "FALSE"}, True),
    ({"mail": "p@fabrikam.com", "mailNickname": "CAS_{1}"}, False),
])
def test_contact_exclusions(rs, extra, synced):
    inbound, _ = sync(rs, "contact", contact(**extra))
    assert (inbound.excluded is None) is synced, inbound.excluded


def test_foreign_security_principals_join_but_never_provision(rs):
    inbound = rs.inbound("contoso.com", "foreignSecurityPrincipal", {"objectSid": [SID], "cn": ["S-1-5-21-9"]}, CTX)
    assert inbound.excluded is None and inbound.link_type == "Join" and inbound.mv_type == "*"
    assert rs.get(inbound.join_rule).join[0].conditions[0].source == "objectSid"


def test_computers_have_no_rules_yet(rs):
    assert rs.inbound("contoso.com", "computer", {"cn": ["PC1"]}, CTX).excluded[0] == "(no sync rule)"


# -- the defaults as a whole ---------------------------------------------------------------------------

def test_every_default_rule_is_enabled_with_a_unique_precedence_from_100(rs):
    names = [r.name for r in rs.rules]
    assert len(names) == 17 and len(set(names)) == 17
    assert all(r.enabled for r in rs.rules)
    assert sorted(r.precedence for r in rs.rules) == [r.precedence for r in rs.rules]
    assert min(r.precedence for r in rs.rules) == 100
    assert {r.name for r in rs.rules if r.link_type == "Provision"} == {
        "In from AD - User Join", "In from AD - InetOrgPerson Join", "In from AD - Group Join",
        "In from AD - Contact Join", "Out to AAD - User Join", "Out to AAD - Group Join", "Out to AAD - Contact Join"}


def test_the_example_custom_rule_wins_over_the_defaults():
    rs = RuleSet.load([ROOT / "config" / "rules" / "example-custom.yaml"])
    attrs = user(givenName="Jane", sn="Doe", displayName="JD (IT)", mail="jane.doe@fabrikam.com",
                 userPrincipalName="jdoe@contoso.com")
    inbound, out = sync(rs, "user", attrs)
    info = {i.name: i.sync_rule for i in inbound.info}
    assert inbound.values["userPrincipalName"] == "jane.doe@fabrikam.com"
    assert inbound.values["displayName"] == "Jane Doe"
    assert info["userPrincipalName"] == info["displayName"] == "In from AD - User Custom UPN and displayName"
    assert out.values["userPrincipalName"] == "jane.doe@fabrikam.com"
    # no sn: the custom flow yields NULL and the default rule contributes
    inbound, _ = sync(rs, "user", {k: v for k, v in attrs.items() if k != "sn"})
    assert inbound.values["displayName"] == "JD (IT)"
    # no mail: the custom rule is out of scope
    inbound, _ = sync(rs, "user", {k: v for k, v in attrs.items() if k != "mail"})
    assert inbound.values["userPrincipalName"] == "jdoe@contoso.com"
    assert ("In from AD - User Custom UPN and displayName (Scope conditions not satisfied: [mail ISNOTNULL], "
            "[mail CONTAINS @])") in inbound.out_of_scope


# -- real expressions --------------------------------------------------------------------------------

CNF_DN = "CN=Jane\\0ACNF:5bd5e6f4-8b9a-4e4f-9c84-0f3c2c0f1e2a,OU=Users,DC=contoso,DC=com"
PROXIES = ["smtp:jd@contoso.com", "SMTP:john.doe@contoso.com", "SIP:jd@contoso.com"]

# (expression, attributes, expected) - expressions as Entra Connect's out-of-box rules and Microsoft's
# documentation of them write them (spacing included)
REAL_EXPRESSIONS = [
    ("IIF(BitAnd([userAccountControl],2)=0,True,False)", {"userAccountControl": [512]}, True),
    ("IIF(BitAnd([userAccountControl],2)=0,True,False)", {"userAccountControl": [66050]}, False),
    ("IIF(IsNullOrEmpty([displayName]),[cn],[displayName])", {"cn": ["Jane"]}, "Jane"),
    ("IIF(IsNullOrEmpty([displayName]),[cn],[displayName])", {"cn": ["Jane"], "displayName": ["Jane D."]}, "Jane D."),
    ('IIF(IsPresent([userPrincipalName]),[userPrincipalName], IIF(IsPresent([sAMAccountName]),'
     '([sAMAccountName]&"@"&%Domain.FQDN%),Error("AccountName is not present")))', {"sAMAccountName": ["jd"]},
     "jd@contoso.com"),
    ('IIF(IsPresent([pwdLastSet]),CStr(FormatDateTime(DateFromNum([pwdLastSet]),"yyyyMMddHHmmss.0Z")),NULL)',
     {"pwdLastSet": [130543784930000000]}, "20140905081453.0Z"),
    ('IIF(IsPresent([pwdLastSet]),CStr(FormatDateTime(DateFromNum([pwdLastSet]),"yyyyMMddHHmmss.0Z")),NULL)', {},
     None),
    ('RemoveDuplicates(Trim(ImportedValue("proxyAddresses")))', {"proxyAddresses": [" a", "a "]}, ["a"]),
    ("IIF([msExchRecipientTypeDetails]=2,NULL,ConvertToBase64([objectGUID]))",
     {"msExchRecipientTypeDetails": ["2"], "objectGUID": [GUID]}, None),
    ("IIF([msExchRecipientTypeDetails]=2,NULL,ConvertToBase64([objectGUID]))", {"objectGUID": [GUID]},
     "AAECAwQFBgcICQoLDA0ODw=="),
    ("IsPresent([isCriticalSystemObject])", {"isCriticalSystemObject": ["TRUE"]}, True),
    ("IsPresent([sAMAccountName]) = False", {}, True),
    ('Left([sAMAccountName], 4) = "AAD_"', {"sAMAccountName": ["AAD_abc"]}, True),
    ('Left([sAMAccountName], 5) = "MSOL_"', {"sAMAccountName": ["MSOLX"]}, False),
    ('[sAMAccountName] = "SUPPORT_388945a0"', {"sAMAccountName": ["SUPPORT_388945a0"]}, True),
    ('Left([mailNickname], 14) = "SystemMailbox{"', {"mailNickname": ["SystemMailbox{a}"]}, True),
    ('(Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0))', {"mailNickname": ["CAS_{x}"]}, True),
    ('(Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}")> 0))', {"sAMAccountName": ["CAS_x"]}, False),
    ("CBool(IIF(IsPresent([msExchRecipientTypeDetails]),BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL))",
     {"msExchRecipientTypeDetails": [8192]}, True),
    ("CBool(IIF(IsPresent([msExchRecipientTypeDetails]),BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL))",
     {}, False),
    ('CBool(InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0)', {"dn": [CNF_DN]}, True),
    ('CBool(InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0)', {"dn": ["CN=Jane,DC=contoso,DC=com"]}, False),
    ("BitAnd([msExchRecipientTypeDetails],&H40000000)", {"msExchRecipientTypeDetails": [1073741824]}, 1073741824),
    ('[sAMAccountName] = "MSOL_AD_Sync_RichCoexistence"', {"sAMAccountName": ["MSOL_AD_Sync_RichCoexistence"]}, True),
    ('((InStr([displayName], "(MSOL)") > 0) && (CBool([msExchHideFromAddressLists])))',
     {"displayName": ["X (MSOL)"], "msExchHideFromAddressLists": ["TRUE"]}, True),
    ('(Contains([proxyAddresses], "SMTP:") > 0) && (InStr(Item([proxyAddresses], Contains([proxyAddresses], '
     '"SMTP:")), "@") > 0)', {"proxyAddresses": PROXIES}, True),
    ('(Contains([proxyAddresses], "SMTP:") > 0) && (InStr(Item([proxyAddresses], Contains([proxyAddresses], '
     '"SMTP:")), "@") > 0)', {"proxyAddresses": ["smtp:a@b"]}, False),
    ('(IsPresent([mail]) = True && (InStr([mail], "@") > 0))', {"mail": ["a@b"]}, True),
    ("IIF([cloudSOAExchMailbox] = True,[cloudMSExchSafeSendersHash],IgnoreThisFlow)",
     {"cloudSOAExchMailbox": [True], "cloudMSExchSafeSendersHash": [b"\x01\x02"]}, b"\x01\x02"),
    ("Trim([proxyAddresses])", {"proxyAddresses": [" a ", "b "]}, ["a", "b"]),
    ('Word([proxyAddresses],1,"@") & "@contoso.com"', {"proxyAddresses": ["smtp:a@x.com", "smtp:b@y.com"]},
     ["smtp:a@contoso.com", "smtp:b@contoso.com"]),
    ('IIF(InStr([proxyAddresses],"SIP:")=1,NULL,[proxyAddresses])', {"proxyAddresses": PROXIES}, PROXIES[:2]),
    ('IIF(Contains([proxyAddresses],"SMTP:")>0,[proxyAddresses],Error("No primary SMTP address found."))',
     {"proxyAddresses": PROXIES}, PROXIES),
    ('Mid(Item([proxyAddresses],Contains([proxyAddresses], "SMTP:")),6)', {"proxyAddresses": PROXIES},
     "john.doe@contoso.com"),
    ('Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], '
     'IsPresent([director]),[director])', {"skiplevelManager": ["CN=B"], "director": ["CN=C"]}, "CN=B"),
    ('DNComponentRev(CRef([dn]),1,"DC")', {"dn": ["cn=Joe,ou=Atlanta,ou=GA,ou=US, dc=contoso,dc=com"]}, "US"),
    ('Select($item,[otherTelephone],Replace($item,"-",""))', {"otherTelephone": ["555-1", "555-2"]},
     ["5551", "5552"]),
    ('IIF(IsGuid([strAttribute]),CGuid([strAttribute]),NULL)', {"strAttribute": ["not-a-guid"]}, None),
    ("IIF(IsPresent([description]),Left(Trim(Item([description],1)),448),NULL)", {"description": [" x "]}, "x"),
    ("IIF(IsPresent([mS-DS-ConsistencyGuid]),[mS-DS-ConsistencyGuid],[objectGUID])", {"objectGUID": [GUID]}, GUID),
    ("StringFromSid([objectSid])", {"objectSid": [SID]}, "S-1-5-21-1-2-3-1000"),
    ("IIF(BitAnd([groupType],&H80000000)=&H80000000,True,False)", {"groupType": [-2147483644]}, True),
    ("IIF(BitAnd([groupType],&H80000000)=&H80000000,True,False)", {"groupType": [8]}, False),
    ('IIF(IsPresent([mailNickname]),Trim([mailNickname]),NULL)', {"mailNickname": [" jd "]}, "jd"),
    ("%Domain.Netbios%", {}, "CONTOSO"),
    ('IIF([employeeType]="Intern","t-" & [alias],[alias])', {"employeeType": ["Intern"], "alias": ["jd"]}, "t-jd"),
]


@pytest.mark.parametrize("expression,attrs,expected", REAL_EXPRESSIONS)
def test_real_entra_connect_expressions(expression, attrs, expected):
    assert compile_expression(expression)(attrs, CTX) == expected


def test_real_error_expression_raises_at_sync():
    with pytest.raises(ErrorFunctionTriggered, match="No primary SMTP address found."):
        compile_expression('IIF(Contains([proxyAddresses],"SMTP:")>0,[proxyAddresses],'
                           'Error("No primary SMTP address found."))')({"proxyAddresses": ["smtp:a@b"]}, CTX)


def test_every_default_expression_compiles_and_reads_known_parameters_only(rs):
    expressions = [f.expression for r in rs.rules for f in r.flows if f.expression]
    assert len(expressions) > 60
    assert all(compile_expression(e).fn for e in expressions)


def test_dates_flow_as_text(rs, tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("rules:\n  - name: When\n    direction: inbound\n    source_object_type: user\n"
                 "    target_object_type: person\n    precedence: 1\n    flows:\n"
                 "      - {target: created, expression: 'CDate([whenCreated])'}\n")
    out = RuleSet.load([p]).inbound("c", "user", user(whenCreated="20240102030405.0Z"), CTX)
    assert out.values["created"] == "2024-01-02T03:04:05Z"
    assert dt.datetime.fromisoformat(out.values["created"].replace("Z", "+00:00")).year == 2024
