"""Pure core: scoping decisions, flows, the pending export."""
from msgspec.structs import replace

import pytest

from pybridge import config as configlib
from pybridge.core import plan, scoping
from pybridge.core.model import Action


@pytest.fixture
def connector(monkeypatch):
    monkeypatch.setenv("T_PW", "x")
    cfg = configlib.parse({
        "ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://dc"], "account": {"username": "u",
                           "password_env": "T_PW"}, "partitions": ["DC=contoso,DC=com"],
                           "containers": {"include": ["OU=Corp,DC=contoso,DC=com"],
                                          "exclude": ["OU=Excluded,OU=Corp,DC=contoso,DC=com"]}},
                          {"name": "fabrikam.com", "servers": ["ldaps://dc2"], "account": {"username": "u",
                           "password_env": "T_PW"}, "partitions": ["DC=fabrikam,DC=com",
                                                                   "DC=emea,DC=fabrikam,DC=com"]}],
        "entra": {"tenant_id": "t", "client_id": "c", "client_secret_env": "T_PW"}})
    return cfg


def test_partition_most_specific_wins(connector):
    m = scoping.find_partition(connector.ad_connectors, "CN=x,DC=emea,DC=fabrikam,DC=com")
    assert (m.connector.name, m.partition) == ("fabrikam.com", "DC=emea,DC=fabrikam,DC=com")
    assert scoping.find_partition(connector.ad_connectors, "CN=x,DC=other,DC=com") is None


@pytest.mark.parametrize("dn, included, container", [
    ("CN=a,OU=Users,OU=Corp,DC=contoso,DC=com", True, "OU=Corp,DC=contoso,DC=com"),
    ("CN=a,OU=Excluded,OU=Corp,DC=contoso,DC=com", False, "OU=Excluded,OU=Corp,DC=contoso,DC=com"),
    ("CN=a,OU=Service Accounts,DC=contoso,DC=com", False, None),
])
def test_most_specific_container_decides(connector, dn, included, container):
    d = scoping.container_decision(connector.ad_connectors[0], dn)
    assert (d.included, d.container) == (included, container)


def test_inclusion_below_an_exclusion_wins(connector):
    c = replace(connector.ad_connectors[0], include=connector.ad_connectors[0].include +
                ("OU=Keep,OU=Excluded,OU=Corp,DC=contoso,DC=com",))
    assert scoping.container_decision(c, "CN=a,OU=Keep,OU=Excluded,OU=Corp,DC=contoso,DC=com").included


def test_structural_class_and_type_scope(connector):
    assert scoping.structural_class(["top", "person", "organizationalPerson", "user"]) == "user"
    assert scoping.structural_class(["top", "person", "organizationalPerson", "user", "inetOrgPerson"]) == \
        "inetOrgPerson"
    assert scoping.structural_class(["top", "person", "organizationalPerson", "user", "computer"]) == "computer"
    assert scoping.type_in_scope(connector.ad_connectors[0], "group")
    assert not scoping.type_in_scope(connector.ad_connectors[0], "computer")


def test_direct_membership_compares_canonical_dns():
    assert scoping.is_direct_member([r"CN=Pilot\2C Sync,OU=G,DC=x"], r"cn=pilot\, sync,ou=g,dc=X")
    assert not scoping.is_direct_member(["CN=Other,DC=x"], "CN=Pilot,DC=x")


def test_plan_create_update_and_nothing():
    managed = ["displayName", "department", "accountEnabled"]
    create = plan.compute("user", {"displayName": "A", "accountEnabled": True}, None, managed)
    assert create.operation == Action.CREATE and plan.graph_body(create) == {"displayName": "A",
                                                                              "accountEnabled": True}
    same = plan.compute("user", {"displayName": "A"}, {"displayName": "A", "department": None}, managed)
    assert same.operation == Action.OTHER and plan.modified_properties(same) == []
    upd = plan.compute("user", {"displayName": "A", "department": "Sales"}, {"displayName": "A",
                                                                              "department": "HR"}, managed)
    assert upd.operation == Action.UPDATE
    assert [(p.name, p.old_value, p.new_value) for p in plan.modified_properties(upd)] == [("department", "HR",
                                                                                            "Sales")]
    cleared = plan.compute("user", {"displayName": "A"}, {"displayName": "A", "department": "HR"}, managed)
    assert plan.graph_body(cleared) == {"department": None}


def test_plan_members_as_adds_and_removes():
    p = plan.compute("group", {"members": ["a", "b"]}, {"members": ["b", "c"]}, ["members"])
    change = p.changes[0]
    assert (change.adds, change.removes) == (["a"], ["c"])
    assert [(m.name, m.old_value, m.new_value) for m in plan.modified_properties(p)] == [("members - Count", "2",
                                                                                          "2")]
    assert plan.graph_body(p) == {}
