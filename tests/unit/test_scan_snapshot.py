"""The scan's snapshot of the tenant answers the Tenant port from one read, as a single run's requests would."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import pytest

from pybridge.connectors.entra import BASE_SELECT
from pybridge.core.rules import RuleSet
from pybridge.scan.snapshot import ScanWritesNothing, SnapshotTenant, exported_targets
from pybridge.sync.ports import WriteDescription


class FakeEntra:
    group_anchor_property = None


class FakeLive:
    """Stands in for GraphClient's bulk reads; counts them."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.entra = FakeEntra()
        self.requests = 0
        self.member_reads: list[str] = []

    def authenticate(self) -> None:
        pass

    def select(self, kind: str, properties: Iterable[str] = ()) -> list[str]:
        return list(dict.fromkeys([*BASE_SELECT[kind], *properties]))

    def all_objects(self, kind: str, properties: Iterable[str] = (), *, with_manager: bool = False
                    ) -> Iterator[dict[str, Any]]:
        self.requests += 1
        yield from (dict(o) for o in self.objects.get(kind, []))

    def role_holders(self) -> dict[str, list[dict[str, Any]]]:
        self.requests += 1
        return {"u2": [{"id": "r1", "displayName": "Global Administrator"}]}

    def member_ids(self, group_id: str) -> list[str]:
        self.member_reads.append(group_id)
        return ["u1"]

    def describe_write(self, kind: str, body: dict[str, Any], object_id: str | None = None) -> WriteDescription:
        return WriteDescription("POST x", body)


@pytest.fixture
def snapshot() -> SnapshotTenant:
    live = FakeLive({
        "user": [{"id": "u1", "userPrincipalName": "Jane@contoso.com", "onPremisesImmutableId": "anchor1",
                  "proxyAddresses": ["SMTP:jane@contoso.com", "smtp:j@contoso.com"], "manager": "u2"},
                 {"id": "u2", "userPrincipalName": "boss@contoso.com", "mail": "boss@contoso.com"}],
        "group": [{"id": "g1", "displayName": "Sales", "mailNickname": "sales", "mail": "sales@contoso.com"}],
        "contact": [{"id": "c1", "displayName": "Partner", "proxyAddresses": ["SMTP:partner@fabrikam.com"]}]})
    return SnapshotTenant(live, RuleSet.load()).load()  # type: ignore[arg-type]


def test_one_read_per_kind_and_one_for_roles(snapshot):
    assert snapshot.read_requests == 4 and len(snapshot) == 4


def test_answers_as_a_get_with_select_would(snapshot):
    got = snapshot.get("user", "u1", ["department"])
    assert list(got) == list(dict.fromkeys([*BASE_SELECT["user"], "department"]))
    assert got["department"] is None and got["userPrincipalName"] == "Jane@contoso.com"
    assert "manager" not in got  # the manager comes through manager_id, as a single run reads it
    assert snapshot.manager_id("u1") == "u2" and snapshot.manager_id("u2") is None
    assert snapshot.get("group", "u1") is None and snapshot.get("user", "nope") is None
    got["proxyAddresses"].append("changed")
    assert snapshot.get("user", "u1")["proxyAddresses"] == ["SMTP:jane@contoso.com", "smtp:j@contoso.com"]


def test_matching_indexes(snapshot):
    assert [u["id"] for u in snapshot.find_by_anchor("user", "anchor1")] == ["u1"]
    holders = snapshot.address_holders(user_principal_name="jane@CONTOSO.com", addresses=["J@contoso.com",
                                                                                         "partner@fabrikam.com",
                                                                                         "sales@contoso.com"],
                                       kinds=("user", "group", "contact"))
    assert sorted((h.kind, h.properties["id"]) for h in holders) == [("contact", "c1"), ("group", "g1"),
                                                                     ("user", "u1")]
    assert snapshot.address_holders(addresses=["sales@contoso.com"], kinds=("user",)) == []
    assert snapshot.directory_roles("u2")[0]["displayName"] == "Global Administrator"
    assert snapshot.find_created("user", "anchor1", {}) ["id"] == "u1"
    assert snapshot.find_created("group", "x", {"mailNickname": "sales", "displayName": "Sales"})["id"] == "g1"


def test_members_are_read_once_per_group(snapshot):
    assert snapshot.member_ids("g1") == ["u1"] and snapshot.member_ids("g1") == ["u1"]
    assert snapshot.live.member_reads == ["g1"]


def test_a_scan_never_writes(snapshot):
    for write in (snapshot.create, snapshot.update, snapshot.change_members, snapshot.set_manager,
                  snapshot.remove_manager):
        with pytest.raises(ScanWritesNothing):
            write("user", {})
    assert snapshot.backoff(0) is False


def test_the_bulk_read_selects_what_the_rules_export():
    targets = exported_targets(RuleSet.load(), "user")
    assert "department" in targets and "userPrincipalName" in targets
    assert "proxyAddresses" not in targets and "manager" not in targets  # read-only / its own read
    assert exported_targets(RuleSet.load(), "contact") == []
