"""Group membership export: members@odata.bind 20 per request, $batch of 20, $ref removals, ranged reads."""
from __future__ import annotations

import ldap3
import pytest

from pybridge import config as configlib
from pybridge.engine import ad_session, graph_client, load_rules, sync_object
from pybridge.sync.state import Environment, Options
from pybridge.sync.steps import run_steps
from pybridge.store import Store
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration
N = 45
BASE = "OU=Bulk,OU=Corp,DC=contoso,DC=com"
GROUP = f"CN=Bulk Group,{BASE}"


@pytest.fixture(scope="module")
def bulk(samba_lab):
    conn = samba_lab.dc.connection()
    users = [f"CN=Bulk User {i:02d},{BASE}" for i in range(N)]
    try:
        assert conn.add(BASE, ["top", "organizationalUnit"]), conn.result
        for i, dn in enumerate(users):
            assert conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                            {"sAMAccountName": f"bulk{i:02d}", "userPrincipalName": f"bulk{i:02d}@contoso.com",
                             "userAccountControl": 514}), conn.result
        assert conn.add(GROUP, ["top", "group"], {"sAMAccountName": "bulkgroup", "member": users}), conn.result
        yield users
    finally:
        for dn in [GROUP, *users, BASE]:
            conn.delete(dn)
        conn.unbind()


def test_members_in_batches_then_removals(lab, tmp_path, bulk):
    cfg = configlib.load(lab.config(tmp_path))
    for dn in bulk:
        assert sync_object(dn, cfg).status_info.status.value == "Success"
    lab.emulator.clear_log()
    created = run_cli("sync", "--config", str(cfg.path), GROUP)
    assert created.code == 0, created.stderr
    group_id = created.json["TargetIdentity"]["Id"]
    assert len(lab.emulator.group_members(group_id)) == N
    log = lab.emulator.requests
    posts = [r for r in log if r["method"] == "POST" and r["path"] == "/v1.0/groups"]
    assert len(posts) == 1 and len(posts[0]["body"]["members@odata.bind"]) == 20
    batches = [r for r in log if r["path"] == "/v1.0/$batch"]
    inner = [r for r in log if r.get("batch")]
    assert len(batches) == 1
    assert [(r["method"], len(r["body"]["members@odata.bind"])) for r in inner] == [("PATCH", 20), ("PATCH", 5)]
    assert created.step(10)["Details"]["Member changes"] == f"{N} added (1 $batch request(s))"

    conn = lab.dc.connection()
    try:
        conn.modify(GROUP, {"member": [(ldap3.MODIFY_DELETE, bulk[:5])]})
        lab.emulator.clear_log()
        removed = run_cli("sync", "--config", str(cfg.path), GROUP)
    finally:
        conn.modify(GROUP, {"member": [(ldap3.MODIFY_ADD, bulk[:5])]})
        conn.unbind()
    assert removed.code == 0 and removed.json["Action"] == "Update"
    assert removed.json["ModifiedProperties"] == [{"Name": "members - Count", "OldValue": str(N),
                                                   "NewValue": str(N - 5)}]
    inner = [r for r in lab.emulator.requests if r.get("batch")]
    assert [r["method"] for r in inner] == ["DELETE"] * 5
    assert len(lab.emulator.group_members(group_id)) == N - 5

    # throttled inside the batch: the throttled inner request is sent again after its Retry-After
    lab.emulator.clear_log()
    lab.emulator.inject_fault(method="PATCH", path_regex=rf"^/v1\.0/groups/{group_id}$", status=429, retry_after=1,
                              count=1)
    again = run_cli("sync", "--config", str(cfg.path), GROUP)
    assert again.code == 0, again.stderr
    inner = [r for r in lab.emulator.requests if r.get("batch")]
    assert [r["status"] for r in inner if r["method"] == "PATCH"] == [429, 204]
    assert len(lab.emulator.group_members(group_id)) == N


def test_ranged_retrieval_reads_every_member(lab, tmp_path, bulk):
    cfg = configlib.load(lab.config(tmp_path))

    def small_ranges(connector):
        session = ad_session(connector)
        session.range_size = 10
        return session

    store = Store.open(cfg.state_path)
    try:
        env = Environment(config=cfg, store=store, rules=load_rules(cfg), directory_for=small_ranges,
                          tenant_for=graph_client)
        result = run_steps(env, GROUP, Options(what_if=True))
    finally:
        store.close()
    step7 = result.steps[6]
    assert step7.details["Ranged retrieval"] == "member: 5 request(s)"
    member = next(a for a in step7.attributes if a.name == "member")
    assert len(member.value.split("; ")) == N
