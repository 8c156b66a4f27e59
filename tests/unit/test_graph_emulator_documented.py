"""Graph emulator: the behaviours Microsoft documents that a sync engine must survive.

Each test names the page it follows (docs/graph-emulator.md lists them all): eventual consistency,
privileged users, non-nullable properties, mail and proxyAddresses, organizational contacts,
memberOf paging, ConflictingObjects, advanced queries, directory extension properties and
onPremisesProvisioningErrors. Requests go to a running emulator over TLS with the fixtures of
test_graph_emulator.py; the official msgraph-sdk reads the new routes at the end.
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import uuid

import pytest

from pybridge_lab.graph_emulator import GraphEmulator
from pybridge_lab.graph_emulator.__main__ import _parser
from tests.unit.test_graph_emulator import (CLIENT, GRAPH_SCOPE, PASSWORD, SECRET, TENANT, Graph,
                                            LabSession, _app, _error, pki, session)

__all__ = ["pki", "session"]   # fixtures used here

EVENTUAL = {"ConsistencyLevel": "eventual"}
NOT_THERE = "does not exist or one of its queried reference-property objects are not present."


@pytest.fixture(scope="module")
def emulator_module(pki: dict):
    emu = GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key,
                        tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    with emu:
        yield emu


@pytest.fixture
def emu(emulator_module: GraphEmulator) -> GraphEmulator:
    emulator_module.reset()
    return emulator_module


@pytest.fixture(scope="module")
def token(emulator_module: GraphEmulator, pki: dict) -> str:
    s = LabSession(pki["ca"].cert)
    result = _app(emulator_module, s, SECRET).acquire_token_for_client(GRAPH_SCOPE)
    assert "access_token" in result, result
    return result["access_token"]


@pytest.fixture
def graph(emu: GraphEmulator, session: LabSession, token: str) -> Graph:
    return Graph(emu, session, token)


def _user(name: str, **extra) -> dict:
    return {"accountEnabled": True, "displayName": name.title(), "mailNickname": name,
            "userPrincipalName": f"{name}@contoso.com", "passwordProfile": {"password": PASSWORD},
            **extra}


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["value"]]


# ---------------------------------------------------------------------------- eventual consistency
# "Designing for eventual consistency for Microsoft Entra": a newly created object may answer
# "Not Found" for a while after its create.


def test_a_new_object_is_invisible_while_it_replicates(emu, graph):
    emu.set_replication_delay(3600)
    r = graph("POST", "/users", json=_user("nia", mail="nia@contoso.com"))
    assert r.status_code == 201 and r.json()["userPrincipalName"] == "nia@contoso.com"   # the create answers
    nia = r.json()["id"]
    assert not emu.is_visible(nia) and emu.get_object(nia) is not None              # it exists...
    r = graph("GET", f"/users/{nia}")
    assert r.status_code == 404 and _error(r)["code"] == "Request_ResourceNotFound"
    assert _error(r)["message"] == f"Resource '{nia}' {NOT_THERE}"
    assert _ids(graph("GET", "/users", params={"$filter": "userPrincipalName eq 'nia@contoso.com'"})) == []
    assert _ids(graph("GET", "/users")) == []
    assert graph("PATCH", f"/users/{nia}", json={"jobTitle": "x"}).status_code == 404
    # ... and uniqueness already holds: a second create of the same UPN is refused, naming it
    r = graph("POST", "/users", json=_user("nia", displayName="Nia 2"))
    assert r.status_code == 400 and _error(r)["details"][1]["target"] == f"User_{nia}"

    # references to it "do not exist" yet
    boss = emu.add_user(userPrincipalName="boss@contoso.com")
    r = graph("PUT", f"/users/{nia}/manager/$ref",
              json={"@odata.id": f"{emu.base_url}/v1.0/users/{boss['id']}"})
    assert r.status_code == 404
    seen = emu.add_user(userPrincipalName="seen@contoso.com")
    r = graph("PUT", f"/users/{seen['id']}/manager/$ref",
              json={"@odata.id": f"{emu.base_url}/v1.0/directoryObjects/{nia}"})
    assert r.status_code == 404 and _error(r)["message"] == f"Resource '{nia}' {NOT_THERE}"
    bind = [f"{emu.base_url}/v1.0/directoryObjects/{nia}"]
    r = graph("POST", "/groups", json={"displayName": "G", "mailNickname": "g", "mailEnabled": False,
                                       "securityEnabled": True, "members@odata.bind": bind})
    assert r.status_code == 400 and "do not exist" in _error(r)["message"]
    visible_group = emu.add_group(displayName="Seen")
    r = graph("POST", "/$batch", json={"requests": [
        {"id": "1", "method": "PATCH", "url": f"/groups/{visible_group['id']}",
         "headers": {"Content-Type": "application/json"}, "body": {"members@odata.bind": bind}},
        {"id": "2", "method": "POST", "url": f"/groups/{visible_group['id']}/members/$ref",
         "headers": {"Content-Type": "application/json"}, "body": {"@odata.id": bind[0]}}]})
    statuses = {x["id"]: (x["status"], x["body"]["error"]["message"]) for x in r.json()["responses"]}
    assert statuses["1"][0] == 400 and "do not exist" in statuses["1"][1]
    assert statuses["2"] == (404, f"Resource '{nia}' {NOT_THERE}")
    assert emu.group_members(visible_group["id"]) == []

    # a new group is invisible too: its member changes answer 404
    r = graph("POST", "/groups", json={"displayName": "New", "mailNickname": "new", "mailEnabled": False,
                                       "securityEnabled": True})
    gid = r.json()["id"]
    assert r.status_code == 201
    r = graph("PATCH", f"/groups/{gid}",
              json={"members@odata.bind": [f"{emu.base_url}/v1.0/directoryObjects/{seen['id']}"]})
    assert r.status_code == 404 and _error(r)["message"] == f"Resource '{gid}' {NOT_THERE}"
    assert graph("GET", f"/groups/{gid}/members").status_code == 404

    # once replicated, everything answers as usual
    emu.replicate_now()
    assert graph("GET", f"/users/{nia}").status_code == 200
    assert graph("PUT", f"/users/{nia}/manager/$ref",
                 json={"@odata.id": f"{emu.base_url}/v1.0/users/{boss['id']}"}).status_code == 204
    assert graph("PATCH", f"/groups/{gid}", json={"members@odata.bind": bind}).status_code == 204
    assert emu.group_members(gid) == [nia]


def test_the_delay_ends_by_itself_and_seeded_objects_never_wait(emu, graph):
    seeded_before = emu.add_user(userPrincipalName="old@contoso.com")
    emu.set_replication_delay(0.2)
    seeded = emu.add_user(userPrincipalName="seeded@contoso.com")
    assert graph("GET", f"/users/{seeded['id']}").status_code == 200
    assert graph("GET", f"/users/{seeded_before['id']}").status_code == 200
    uid = graph.new_user("pia")["id"]
    while graph("GET", f"/users/{uid}").status_code == 404:   # polled, never timed
        time.sleep(0.05)
    assert emu.is_visible(uid)
    emu.set_replication_delay(0)
    assert graph("GET", f"/users/{graph.new_user('quin')['id']}").status_code == 200
    emu.set_replication_delay(5)
    emu.reset()   # back to the delay the emulator was made with (none)
    assert emu.replication_delay == 0


def test_replication_delay_from_the_constructor_and_the_command_line(pki):
    with pytest.raises(ValueError):
        GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key, tenant_id=TENANT,
                      client_id=CLIENT, client_secret=SECRET, replication_delay=-1)
    emu = GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key, tenant_id=TENANT,
                        client_id=CLIENT, client_secret=SECRET, replication_delay=2.5)
    assert emu.replication_delay == 2.5
    args = _parser().parse_args(["--cert", "c", "--key", "k", "--tenant-id", "t", "--client-id", "i",
                                 "--ready-file", "r", "--replication-delay", "3"])
    assert args.replication_delay == 3.0


# ---------------------------------------------------------------------------- privileged users
# user-update: "To update sensitive user properties, such as accountEnabled, mobilePhone, and
# otherMails for users with privileged administrator roles ... In app-only scenarios, the app must
# be assigned a higher privileged administrator role as indicated in Who can perform sensitive
# actions."


def test_sensitive_properties_of_a_privileged_user_need_a_privileged_app(emu, graph):
    admin = emu.add_user(userPrincipalName="admin@contoso.com")
    emu.assign_role(admin["id"], "User Administrator")
    reader = emu.add_user(userPrincipalName="reader@contoso.com")
    emu.assign_role(reader["id"], "Directory Readers")   # one of the four roles user-update names
    for prop, value in (("accountEnabled", False), ("mobilePhone", "+1 555"), ("businessPhones", ["+1 555"]),
                        ("otherMails", ["a@b.example"]), ("onPremisesImmutableId", "QUJD"),
                        ("userPrincipalName", "admin2@contoso.com")):
        r = graph("PATCH", f"/users/{admin['id']}", json={prop: value})
        assert r.status_code == 403, prop
        assert _error(r)["code"] == "Authorization_RequestDenied"
        assert _error(r)["message"] == "Insufficient privileges to complete the operation."
    assert emu.get_object(admin["id"])["accountEnabled"] is True
    assert graph("PATCH", f"/users/{admin['id']}", json={"department": "IT"}).status_code == 204
    assert graph("PATCH", f"/users/{reader['id']}", json={"accountEnabled": False}).status_code == 204

    emu.assign_app_role("User Administrator")        # not high enough
    assert graph("PATCH", f"/users/{admin['id']}", json={"accountEnabled": False}).status_code == 403
    emu.assign_app_role("Privileged Authentication Administrator")
    assert graph("PATCH", f"/users/{admin['id']}", json={"accountEnabled": False}).status_code == 204
    assert emu.get_object(admin["id"])["accountEnabled"] is False


def test_the_apps_own_roles_are_listed_and_paged(emu, graph, session):
    r = graph("GET", f"/servicePrincipals(appId='{CLIENT}')/memberOf")
    assert r.status_code == 200 and r.json()["value"] == []
    emu.assign_app_role("Global Administrator")
    emu.assign_app_role("Privileged Authentication Administrator")
    r = graph("GET", f"/servicePrincipals(appId='{CLIENT}')/memberOf",
              params={"$select": "id,displayName,roleTemplateId", "$top": "1"})
    first = r.json()
    assert [v["@odata.type"] for v in first["value"]] == ["#microsoft.graph.directoryRole"]
    assert first["value"][0]["roleTemplateId"] == "62e90394-69f5-4237-9190-012177145e10"
    second = session.get(first["@odata.nextLink"], headers=graph.h).json()
    assert second["value"][0]["displayName"] == "Privileged Authentication Administrator"
    assert "@odata.nextLink" not in second
    sp = graph("GET", f"/servicePrincipals(appId='{CLIENT}')").json()
    assert sp["appId"] == CLIENT and sp["id"] == emu.service_principal["id"]
    assert len(graph("GET", f"/servicePrincipals/{sp['id']}/memberOf").json()["value"]) == 2
    assert graph("GET", f"/servicePrincipals(appId='{uuid.uuid4()}')/memberOf").status_code == 404
    assert session.post(f"{emu.base_url}/_emulator/app-roles", json={"role_name": "Reports Reader"}).status_code == 201
    assert len(graph("GET", f"/servicePrincipals/{sp['id']}/memberOf").json()["value"]) == 3
    emu.reset()
    assert graph("GET", f"/servicePrincipals(appId='{CLIENT}')/memberOf").json()["value"] == []


# ---------------------------------------------------------------------------- non-nullable
# user resource: usageLocation "Not nullable"; displayName "cannot be cleared during updates".


def test_non_nullable_properties_are_refused_as_null(emu, graph):
    uid = graph.new_user("rey", usageLocation="DE")["id"]
    for prop in ("usageLocation", "displayName"):
        r = graph("PATCH", f"/users/{uid}", json={prop: None})
        assert r.status_code == 400, prop
        assert _error(r)["message"] == f"Invalid value specified for property '{prop}' of resource 'User'."
    assert emu.get_object(uid)["usageLocation"] == "DE"
    assert graph("POST", "/users", json=_user("sol", usageLocation=None)).status_code == 400
    gid = emu.add_group(displayName="Team")["id"]
    assert graph("PATCH", f"/groups/{gid}", json={"displayName": None}).status_code == 400


# ---------------------------------------------------------------------------- mail and proxyAddresses
# user resource, "mail and proxyAddresses properties".


def test_mail_becomes_the_primary_proxy_address(emu, graph):
    uid = graph.new_user("tom", mail="tom@contoso.com")["id"]
    assert emu.get_object(uid)["proxyAddresses"] == ["SMTP:tom@contoso.com"]
    assert graph("PATCH", f"/users/{uid}", json={"mail": "thomas@contoso.com"}).status_code == 204
    assert emu.get_object(uid)["proxyAddresses"] == ["SMTP:thomas@contoso.com", "smtp:tom@contoso.com"]


def test_mail_is_no_key_but_proxy_addresses_are_unique_across_users_groups_and_contacts(emu, graph):
    # another object holding the address only as its mail: accepted, not added to proxyAddresses
    emu.add_user(userPrincipalName="plain@contoso.com", mail="shared@contoso.com")
    r = graph("POST", "/users", json=_user("uma", mail="Shared@contoso.com"))
    assert r.status_code == 201
    assert emu.get_object(r.json()["id"])["mail"] == "Shared@contoso.com"
    assert emu.get_object(r.json()["id"])["proxyAddresses"] == []

    # a proxy address of a user, a group or a contact: refused, naming the holder
    holders = [("User", emu.add_user(userPrincipalName="u@contoso.com", proxyAddresses=["smtp:a1@contoso.com"])),
               ("Group", emu.add_group(displayName="G", proxyAddresses=["SMTP:a2@contoso.com"])),
               ("Contact", emu.add_contact(displayName="C", mail="a3@fabrikam.com",
                                           proxyAddresses=["SMTP:a3@fabrikam.com"]))]
    vid = graph.new_user("vic")["id"]
    for n, (kind, holder) in enumerate(holders, start=1):
        address = holder["proxyAddresses"][0].split(":", 1)[1].upper()
        for method, path, body in (("POST", "/users", _user(f"w{n}", mail=address)),
                                   ("PATCH", f"/users/{vid}", {"mail": address})):
            r = graph(method, path, json=body)
            assert r.status_code == 400, (kind, method)
            msg = "Another object with the same value for property proxyAddresses already exists."
            assert _error(r)["details"] == [
                {"code": "ObjectConflict", "message": msg, "target": "proxyAddresses"},
                {"code": "ConflictingObjects", "message": msg, "target": f"{kind}_{holder['id']}"}]
    assert emu.get_object(vid)["mail"] is None and emu.get_object(vid)["proxyAddresses"] == []
    # seeding respects the shared space too
    with pytest.raises(ValueError):
        emu.add_contact(proxyAddresses=["smtp:a1@contoso.com"])
    with pytest.raises(ValueError):
        emu.add_user(userPrincipalName="x@contoso.com", proxyAddresses=["SMTP:a3@fabrikam.com"])


# ---------------------------------------------------------------------------- contacts
# orgContact resource; orgcontact-list, orgcontact-get; no writes in Graph v1.0.


def test_contacts_are_read_only_and_filterable(emu, graph, session):
    c = emu.add_contact(displayName="Partner Desk", mail="desk@fabrikam.com", onPremisesSyncEnabled=True,
                        proxyAddresses=["SMTP:desk@fabrikam.com", "smtp:help@fabrikam.com"])
    other = session.post(f"{emu.base_url}/_emulator/contacts", json={"displayName": "Other"}).json()
    assert set(emu.contacts) == {c["id"], other["id"]}
    assert sorted(_ids(graph("GET", "/contacts"))) == sorted([c["id"], other["id"]])
    for flt in ("mail eq 'DESK@fabrikam.com'", "displayName eq 'partner desk'",
                "proxyAddresses/any(p:p eq 'smtp:help@fabrikam.com')",
                "mail eq 'nobody@x.example' or proxyAddresses/any(p:p eq 'smtp:desk@fabrikam.com')"):
        assert _ids(graph("GET", "/contacts", params={"$filter": flt})) == [c["id"]], flt
    r = graph("GET", f"/contacts/{c['id']}", params={"$select": "id,mail,proxyAddresses,onPremisesSyncEnabled"})
    assert r.json()["proxyAddresses"] == c["proxyAddresses"] and r.json()["onPremisesSyncEnabled"] is True
    r = graph("GET", "/contacts", params={"$filter": "companyName eq 'Fabrikam'"})
    assert r.status_code == 400 and _error(r)["code"] == "Request_UnsupportedQuery"
    for method, path in (("POST", "/contacts"), ("PATCH", f"/contacts/{c['id']}"),
                         ("DELETE", f"/contacts/{c['id']}")):
        r = graph(method, path, json={"displayName": "x"} if method != "DELETE" else None)
        assert r.status_code == 405, method
    assert emu.contacts[c["id"]]["displayName"] == "Partner Desk"


# ---------------------------------------------------------------------------- memberOf paging
# user-list-memberof, paging: the next page is at @odata.nextLink.


def test_member_of_pages_put_a_role_on_page_two(emu, graph, session):
    emu.page_size = 2
    user = emu.add_user(userPrincipalName="pam@contoso.com")
    for n in range(2):
        emu.add_group(displayName=f"G{n}", members=[user["id"]])
    emu.assign_role(user["id"], "Global Administrator")
    first = graph("GET", f"/users/{user['id']}/memberOf").json()
    assert [v["@odata.type"] for v in first["value"]] == ["#microsoft.graph.group"] * 2
    second = session.get(first["@odata.nextLink"], headers=graph.h).json()
    assert [v["@odata.type"] for v in second["value"]] == ["#microsoft.graph.directoryRole"]
    everything = graph("GET", f"/users/{user['id']}/memberOf", params={"$top": "999"}).json()
    assert len(everything["value"]) == 3 and "@odata.nextLink" not in everything
    emu.reset()
    assert emu.page_size == 100


@pytest.mark.parametrize("oversize,page_one", [("cap", 2), ("ignore", 1)])
def test_a_top_beyond_the_apis_maximum_is_capped_or_ignored(emu, graph, session, oversize, page_one):
    # paging: a $top above an API's maximum "might be ignored, it might default to the maximum page
    # size for that API, or Microsoft Graph might return an error"
    emu.set_paging(page_size=1, max_page_size=2, oversize_top=oversize)
    user = emu.add_user(userPrincipalName="pat@contoso.com")
    emu.add_group(displayName="G", members=[user["id"]])
    emu.add_group(displayName="H", members=[user["id"]])
    emu.assign_role(user["id"], "Global Administrator")
    seen, url, params = [], f"/users/{user['id']}/memberOf", {"$top": "999"}
    first = graph("GET", url, params=params).json()
    assert len(first["value"]) == page_one and "$top=999" in first["@odata.nextLink"]
    page = first
    while True:
        seen += [v["@odata.type"] for v in page["value"]]
        if "@odata.nextLink" not in page:
            break
        page = session.get(page["@odata.nextLink"], headers=graph.h).json()
    assert seen[-1] == "#microsoft.graph.directoryRole" and len(seen) == 3


def test_a_top_beyond_the_apis_maximum_can_be_an_error(emu, graph):
    emu.set_paging(max_page_size=10)
    r = graph("GET", "/users", params={"$top": "11"})
    assert r.status_code == 400 and _error(r)["message"] == (
        "Invalid page size specified: '11'. Must be between 1 and 10 inclusive.")
    assert graph("GET", "/users", params={"$top": "10"}).status_code == 200
    with pytest.raises(ValueError):
        emu.set_paging(oversize_top="sometimes")


def test_an_admin_can_delete_any_object(emu, graph):
    admin = emu.add_user(userPrincipalName="gone@contoso.com")
    emu.assign_role(admin["id"], "Global Administrator")
    group = emu.add_group(displayName="G", members=[admin["id"]])
    contact = emu.add_contact(displayName="C")
    for oid in (admin["id"], contact["id"]):
        emu.delete_object(oid)
        assert emu.get_object(oid) is None
    assert emu.group_members(group["id"]) == []
    assert graph("GET", f"/users/{admin['id']}").status_code == 404
    with pytest.raises(ValueError):
        emu.delete_object(admin["id"])


# ---------------------------------------------------------------------------- advanced queries
# aad-advanced-queries: ne, not, endsWith, eq on advanced-only properties, $search, and $filter with
# $orderby need ConsistencyLevel: eventual (and $count=true, except $search).


@pytest.mark.parametrize("flt,expected", [
    ("jobTitle ne 'Chef'", ["ann"]),
    ("not(jobTitle eq 'Chef')", ["ann"]),
    ("endswith(mail,'@fabrikam.com')", ["ben"]),
    ("companyName eq 'Contoso'", ["ann"]),
    ("proxyAddresses/any(p:endswith(p,'@fabrikam.com'))", ["ben"]),
    ("mobilePhone eq null", ["ann", "ben"]),
])
def test_advanced_filters_need_consistency_level_and_count(emu, graph, flt, expected):
    emu.add_user(userPrincipalName="ann@contoso.com", jobTitle="Clerk", companyName="Contoso")
    emu.add_user(userPrincipalName="ben@contoso.com", jobTitle="Chef", mail="ben@fabrikam.com",
                 proxyAddresses=["SMTP:ben@fabrikam.com"])
    for headers, params in (({}, {}), (EVENTUAL, {}), ({}, {"$count": "true"})):
        r = graph("GET", "/users", params={"$filter": flt, **params}, headers=headers)
        assert r.status_code == 400 and _error(r) ["code"] == "Request_UnsupportedQuery", (headers, params)
        assert _error(r)["message"] == "Unsupported Query."
    r = graph("GET", "/users", params={"$filter": flt, "$count": "true", "$select": "userPrincipalName"},
              headers=EVENTUAL)
    assert r.status_code == 200, r.text
    assert sorted(u["userPrincipalName"].split("@")[0] for u in r.json()["value"]) == expected
    assert r.json()["@odata.count"] == len(expected)


def test_basic_filters_need_nothing_and_unsupported_stays_unsupported(emu, graph):
    ann = emu.add_user(userPrincipalName="ann@contoso.com", displayName="Ann")
    emu.add_user(userPrincipalName="bo@contoso.com", displayName="Bo")
    assert _ids(graph("GET", "/users", params={"$filter": "userPrincipalName in ('ann@contoso.com','x@y.z')"})) == \
        [ann["id"]]
    r = graph("GET", "/users", params={"$filter": "endswith(displayName,'n')", "$count": "true"}, headers=EVENTUAL)
    assert r.status_code == 400 and "displayName" in _error(r)["message"]
    r = graph("GET", "/users", params={"$search": '"displayName:an"'})
    assert r.status_code == 400 and _error(r)["message"] == (
        "Request with $search query parameter only works through MSGraph with a special request header: "
        "'ConsistencyLevel: eventual'")
    assert _ids(graph("GET", "/users", params={"$search": '"displayName:an"'}, headers=EVENTUAL)) == [ann["id"]]
    params = {"$filter": "startswith(displayName,'')", "$orderby": "displayName desc"}
    assert graph("GET", "/users", params=params).status_code == 400
    r = graph("GET", "/users", params={**params, "$count": "true"}, headers=EVENTUAL)
    assert [u["displayName"] for u in r.json()["value"]] == ["Bo", "Ann"]


def test_at_most_fifteen_clauses_under_one_or(emu, graph):
    ann = emu.add_user(userPrincipalName="ann@contoso.com")
    clauses = [f"mail eq 'x{i}@contoso.com'" for i in range(14)] + ["userPrincipalName eq 'ann@contoso.com'"]
    assert _ids(graph("GET", "/users", params={"$filter": " or ".join(clauses)})) == [ann["id"]]
    r = graph("GET", "/users", params={"$filter": " or ".join(clauses + ["mail eq 'y@contoso.com'"])})
    assert r.status_code == 400 and _error(r)["code"] == "Request_UnsupportedQuery"
    assert _error(r)["message"] == ("Too many child clauses specified in search filter expression containing 'OR' "
                                    "operators: 16. Max allowed: 15.")


# ---------------------------------------------------------------------------- directory extensions
# "Add custom data to resources using extensions", Directory (Microsoft Entra ID) extensions.


def test_registered_extension_properties_on_groups_and_users(emu, graph, session):
    name = emu.register_extension("sourceAnchor")
    assert name == f"extension_{CLIENT.replace('-', '')}_sourceAnchor"
    body = {"displayName": "Sales", "mailNickname": "sales", "mailEnabled": False, "securityEnabled": True,
            name: "QUJDRA=="}
    r = graph("POST", "/groups", json=body)
    assert r.status_code == 201 and name not in r.json()   # v1.0: only on $select
    gid = r.json()["id"]
    assert name not in graph("GET", f"/groups/{gid}").json()
    assert graph("GET", f"/groups/{gid}", params={"$select": f"id,{name}"}).json()[name] == "QUJDRA=="
    r = graph("GET", "/groups", params={"$filter": f"{name} eq 'QUJDRA=='", "$select": f"id,{name}"})
    assert _ids(r) == [gid] and r.json()["value"][0][name] == "QUJDRA=="
    assert graph("PATCH", f"/groups/{gid}", json={name: None}).status_code == 204
    assert _ids(graph("GET", "/groups", params={"$filter": f"{name} eq 'QUJDRA=='"})) == []
    uid = graph.new_user("eve", **{name: "RVZF"})["id"]
    assert graph("GET", f"/users/{uid}", params={"$select": name}).json()[name] == "RVZF"
    assert graph("PATCH", f"/users/{uid}", json={name: 5}).status_code == 400

    unknown = f"extension_{uuid.uuid4().hex}_other"
    r = graph("POST", "/groups", json={**body, "mailNickname": "s2", name: None, unknown: "x"})
    assert r.status_code == 400 and _error(r)["message"] == (
        f"Property '{unknown}' does not exist as a declared property or extension property.")
    assert graph("GET", "/groups", params={"$select": f"id,{unknown}"}).status_code == 400
    assert graph("GET", "/groups", params={"$filter": f"{unknown} eq 'x'"}).status_code == 400
    only_users = emu.register_extension("badge", targets=["User"])
    assert graph("PATCH", f"/groups/{gid}", json={only_users: "x"}).status_code == 400
    assert session.post(f"{emu.base_url}/_emulator/extensions", json={"name": "bad name"}).status_code == 400
    seeded = emu.add_group(displayName="Seeded", **{name: "U0VFRA=="})
    assert _ids(graph("GET", "/groups", params={"$filter": f"{name} eq 'U0VFRA=='"})) == [seeded["id"]]
    emu.reset()
    assert graph("GET", "/groups", params={"$select": f"id,{name}"}).status_code == 400


# ---------------------------------------------------------------------------- provisioning errors
# user / group resource: onPremisesProvisioningErrors, "Errors when using Microsoft synchronization
# product during provisioning".


def test_provisioning_errors_are_returned_on_select(emu, graph):
    error = {"category": "PropertyConflict", "occurredDateTime": "2024-05-01T10:00:00Z",
             "propertyCausingError": "ProxyAddresses", "value": "smtp:dup@contoso.com"}
    u = emu.add_user(userPrincipalName="pe@contoso.com", onPremisesProvisioningErrors=[error])
    g = emu.add_group(displayName="PE", onPremisesProvisioningErrors=[error])
    assert graph("GET", f"/users/{u['id']}", params={"$select": "id,onPremisesProvisioningErrors"}).json()[
        "onPremisesProvisioningErrors"] == [error]
    assert "onPremisesProvisioningErrors" not in graph("GET", f"/users/{u['id']}").json()
    assert graph("GET", f"/groups/{g['id']}", params={"$select": "onPremisesProvisioningErrors"}).json()[
        "onPremisesProvisioningErrors"] == [error]


# ---------------------------------------------------------------------------- $expand=manager
# user-list-manager: "GET /users?$expand=manager" and "GET /users/{id | userPrincipalName}/?$expand=manager",
# with $select inside $expand; ConsistencyLevel only with $levels.

def test_a_users_manager_is_expanded_on_one_user_and_on_the_list(emu, graph):
    boss = emu.add_user(userPrincipalName="boss@contoso.com")
    worker = emu.add_user(userPrincipalName="worker@contoso.com")
    r = graph("PUT", f"/users/{worker['id']}/manager/$ref",
              json={"@odata.id": f"{emu.base_url}/v1.0/users/{boss['id']}"})
    assert r.status_code == 204, r.text
    one = graph("GET", f"/users/{worker['id']}",
                params={"$select": "id,userPrincipalName", "$expand": "manager($select=id)"})
    assert one.status_code == 200, one.text
    assert one.json()["userPrincipalName"] == "worker@contoso.com"
    assert one.json()["manager"] == {"@odata.type": "#microsoft.graph.user", "id": boss["id"]}
    alone = graph("GET", f"/users/{boss['id']}", params={"$expand": "manager"})
    assert alone.status_code == 200 and "manager" not in alone.json()
    listed = graph("GET", "/users", params={"$select": "id", "$expand": "manager($select=id)"}).json()["value"]
    assert {u["id"]: u.get("manager", {}).get("id") for u in listed} == {boss["id"]: None, worker["id"]: boss["id"]}
    # other expansions, and $expand on a group, are not modelled: refused, never silently ignored
    assert graph("GET", f"/users/{boss['id']}", params={"$expand": "memberOf"}).status_code == 400
    g = emu.add_group(displayName="G")
    assert graph("GET", f"/groups/{g['id']}", params={"$expand": "manager"}).status_code == 400


# ---------------------------------------------------------------------------- the official SDK


@contextlib.asynccontextmanager
async def _sdk_client(emu: GraphEmulator, pki: dict, token: str):
    """The official msgraph-sdk's client against the running emulator, with the test's token."""
    import httpx
    from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                                   BaseBearerTokenAuthenticationProvider)
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    class Tokens(AccessTokenProvider):
        def __init__(self) -> None:
            self.validator = AllowedHostsValidator(["127.0.0.1"])

        async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
            return token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return self.validator

    tls = ssl.create_default_context(cafile=str(pki["ca"].cert))
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=tls))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Tokens()), client=http)
    adapter.base_url = f"{emu.base_url}/v1.0"
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()


def test_msgraph_sdk_reads_a_user_with_its_expanded_manager(emu, graph, pki, token):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    boss = emu.add_user(userPrincipalName="boss@contoso.com")
    worker = emu.add_user(userPrincipalName="worker@contoso.com")
    assert graph("PUT", f"/users/{worker['id']}/manager/$ref",
                 json={"@odata.id": f"{emu.base_url}/v1.0/users/{boss['id']}"}).status_code == 204

    async def scenario():
        async with _sdk_client(emu, pki, token) as client:
            query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                select=["id", "userPrincipalName"], expand=["manager($select=id)"])
            config = RequestConfiguration(query_parameters=query)
            return (await client.users.by_user_id(worker["id"]).get(request_configuration=config),
                    await client.users.by_user_id(boss["id"]).get(request_configuration=config))

    worker_read, boss_read = asyncio.run(scenario())
    assert (type(worker_read.manager).__name__, worker_read.manager.id) == ("User", boss["id"])
    assert boss_read.manager is None and boss_read.user_principal_name == "boss@contoso.com"


def test_msgraph_sdk_reads_contacts_and_the_apps_roles(emu, pki, token):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.contacts.contacts_request_builder import ContactsRequestBuilder

    emu.add_contact(displayName="Desk", mail="desk@fabrikam.com", proxyAddresses=["SMTP:desk@fabrikam.com"])
    emu.assign_app_role("Global Administrator")

    async def scenario():
        async with _sdk_client(emu, pki, token) as client:
            query = ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                filter="proxyAddresses/any(p:p eq 'smtp:desk@fabrikam.com')",
                select=["id", "mail", "proxyAddresses"])
            contacts = await client.contacts.get(request_configuration=RequestConfiguration(query_parameters=query))
            sp = await client.service_principals_with_app_id(CLIENT).get()
            roles = await client.service_principals.by_service_principal_id(sp.id).member_of.get()
            return contacts, sp, roles

    contacts, sp, roles = asyncio.run(scenario())
    assert [(type(c).__name__, c.mail, c.proxy_addresses) for c in contacts.value] == [
        ("OrgContact", "desk@fabrikam.com", ["SMTP:desk@fabrikam.com"])]
    assert sp.app_id == CLIENT
    assert [(type(r).__name__, r.role_template_id) for r in roles.value] == [
        ("DirectoryRole", "62e90394-69f5-4237-9190-012177145e10")]
