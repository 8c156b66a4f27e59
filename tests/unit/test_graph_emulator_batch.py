"""Graph emulator: JSON batching, directory roles, domains, and the request-log helper.

Requests go to a running emulator over TLS, as in test_graph_emulator.py (whose fixtures and
helpers are reused). This module's emulator also has federated and unverified domains.
"""
from __future__ import annotations

import asyncio
import base64
import json
import signal
import ssl
import subprocess
import sys
import time
import uuid

import pytest
import requests

from pybridge_lab.graph_emulator import GraphEmulator
from tests.unit.test_graph_emulator import (CLIENT, GRAPH_SCOPE, PASSWORD, SECRET, TENANT, Graph,
                                            LabSession, _app, _error, pki, session)

__all__ = ["pki", "session"]   # fixtures used here

FED1, FED2, PENDING = "fed1.example", "fed2.example", "pending.example"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def emulator_module(pki: dict):
    emu = GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key,
                        tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET,
                        federated_domains=[FED1, FED2], unverified_domains=[PENDING])
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


def _user_body(name: str, domain: str = "contoso.com", **extra) -> dict:
    return {"accountEnabled": True, "displayName": name.title(), "mailNickname": name,
            "userPrincipalName": f"{name}@{domain}",
            "passwordProfile": {"password": PASSWORD}, **extra}


def _batch(graph: Graph, *reqs: dict, **kw) -> requests.Response:
    return graph("POST", "/$batch", json={"requests": list(reqs)}, **kw)


# ---------------------------------------------------------------------------- $batch


def test_batch_of_mixed_requests(emu, graph):
    team = emu.add_group(displayName="Team", mailNickname="team")
    r = _batch(
        graph,
        {"id": "1", "method": "POST", "url": "/users", "headers": JSON, "body": _user_body("amy")},
        {"id": "2", "method": "POST", "url": "/groups", "headers": JSON,
         "body": {"displayName": "Ops", "mailEnabled": False, "mailNickname": "ops",
                  "securityEnabled": True}},
        {"id": "3", "method": "PATCH", "url": "/users/amy@contoso.com", "dependsOn": ["1"],
         "headers": JSON, "body": {"department": "Finance"}},
        {"id": "4", "method": "POST", "url": f"/groups/{team['id']}/members/$ref",
         "dependsOn": ["3"], "headers": JSON,
         "body": {"@odata.id": f"{graph.base}/users/amy@contoso.com"}},
        {"id": "5", "method": "GET", "url": f"/groups/{team['id']}/members?$select=id,department",
         "dependsOn": ["4"]},
        {"id": "6", "method": "GET", "url": "users?$filter=startswith(displayName,'A')&$select=id"},
        {"id": "7", "method": "DELETE", "url": f"/groups/{uuid.uuid4()}"},
    )
    assert r.status_code == 200, r.text
    responses = r.json()["responses"]
    assert [(x["id"], x["status"]) for x in responses] == [
        ("1", 201), ("2", 201), ("3", 204), ("4", 204), ("5", 200), ("6", 200), ("7", 404)]
    created = responses[0]
    amy = created["body"]["id"]
    assert created["body"]["@odata.context"] == f"{emu.base_url}/v1.0/$metadata#users/$entity"
    assert created["headers"]["Location"].endswith(f"/directoryObjects/{amy}/Microsoft.DirectoryServices.User")
    assert created["headers"]["Content-Type"].startswith("application/json")
    assert "body" not in responses[2] and "body" not in responses[3]
    assert responses[4]["body"]["value"] == [
        {"@odata.type": "#microsoft.graph.user", "id": amy, "department": "Finance"}]
    assert [u["id"] for u in responses[5]["body"]["value"]] == [amy]
    assert responses[6]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert emu.group_members(team["id"]) == [amy]
    assert {g["displayName"] for g in emu.groups.values()} == {"Team", "Ops"}

    # Each inner request is logged on its own, then the $batch itself.
    log = emu.requests
    inner, outer = log[:-1], log[-1]
    assert [(e["method"], e["path"], e["status"], e["batch"], e["batch_id"]) for e in inner] == [
        ("POST", "/v1.0/users", 201, True, "1"),
        ("POST", "/v1.0/groups", 201, True, "2"),
        ("PATCH", "/v1.0/users/amy@contoso.com", 204, True, "3"),
        ("POST", f"/v1.0/groups/{team['id']}/members/$ref", 204, True, "4"),
        ("GET", f"/v1.0/groups/{team['id']}/members", 200, True, "5"),
        ("GET", "/v1.0/users", 200, True, "6"),
        ("DELETE", inner[6]["path"], 404, True, "7"),
    ]
    assert inner[5]["query"] == {"$filter": "startswith(displayName,'A')", "$select": "id"}
    assert inner[2]["body"] == {"department": "Finance"}
    assert inner[0]["body"]["passwordProfile"]["password"] == "***"
    assert (outer["method"], outer["path"], outer["status"]) == ("POST", "/v1.0/$batch", 200)
    assert "batch" not in outer and outer["body"]["requests"][0]["body"]["passwordProfile"] == {
        "password": "***"}
    assert PASSWORD not in json.dumps(log)


def test_batch_uses_the_outer_authorization(emu, graph, session):
    emu.add_user(userPrincipalName="bo@contoso.com")
    req = {"id": "a", "method": "GET", "url": "/users",
           "headers": {"Authorization": "Bearer not-a-token"}}
    r = _batch(graph, req)
    assert r.status_code == 200 and r.json()["responses"][0]["status"] == 200
    assert emu.requests[0]["headers"]["Authorization"] == "Bearer ***"
    r = session.post(f"{emu.base_url}/v1.0/$batch", json={"requests": [req]})
    assert r.status_code == 401 and _error(r)["code"] == "InvalidAuthenticationToken"
    assert [e["path"] for e in emu.requests][-1] == "/v1.0/$batch"
    assert not any(e.get("batch") for e in emu.requests[2:])


@pytest.mark.parametrize("payload,message", [
    ({"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]},
     "Number of requests inside batch exceeds the limit."),
    ({"requests": []}, "Invalid batch payload format."),
    ({"value": []}, "Invalid batch payload format."),
    ({"requests": [{"id": "x", "method": "GET", "url": "/users"},
                   {"id": "X", "method": "GET", "url": "/groups"}]},
     "Invalid batch payload format: the request id 'X' is used more than once (ids are not "
     "case-sensitive)."),
    ({"requests": [{"id": "1", "method": "GET", "url": "/users"},
                   {"id": "2", "method": "GET", "url": "/groups", "dependsOn": ["3"]},
                   {"id": "3", "method": "GET", "url": "/groups"}]},
     "Invalid dependency for request Id: 2."),
    ({"requests": [{"id": "1", "method": "GET"}]},
     "Invalid batch payload format: request 0 has no 'url' string."),
])
def test_malformed_batch_fails_as_a_whole(emu, graph, payload, message):
    r = graph("POST", "/$batch", json=payload)
    assert r.status_code == 400
    assert _error(r)["code"] == "BadRequest" and _error(r)["message"] == message
    assert [(e["path"], e["status"]) for e in emu.requests] == [("/v1.0/$batch", 400)]


def test_batch_of_exactly_twenty_and_other_batch_errors(emu, graph):
    r = _batch(graph, *[{"id": str(i), "method": "GET", "url": f"/users?$top={i + 1}"}
                        for i in range(20)])
    assert r.status_code == 200 and len(r.json()["responses"]) == 20
    assert graph("GET", "/$batch").status_code == 405
    r = graph("POST", "/$batch", data=b"{nope", headers=JSON)
    assert r.status_code == 400
    r = _batch(graph,
               {"id": "1", "method": "POST", "url": "/users", "body": _user_body("cy")},
               {"id": "2", "method": "POST", "url": "/$batch", "headers": JSON,
                "body": {"requests": []}},
               {"id": "3", "method": "GET", "url": "/users", "dependsOn": []})
    statuses = [(x["status"], x.get("body", {}).get("error", {}).get("message")) for x in
                r.json()["responses"]]
    assert statuses == [
        (400, "Content-Type header is required when a request in a batch has a body."),
        (400, "A $batch request cannot be nested in another $batch request."),
        (200, None)]
    assert emu.users == {}


def test_base64_and_absolute_urls_in_a_batch(emu, graph):
    body = base64.b64encode(json.dumps(_user_body("dee")).encode()).decode()
    r = _batch(graph,
               {"id": "1", "method": "POST", "url": f"{emu.base_url}/v1.0/users",
                "headers": JSON, "body": body},
               {"id": "2", "method": "GET", "url": f"{emu.base_url}/beta/users"})
    assert [x["status"] for x in r.json()["responses"]] == [201, 400]
    assert emu.users and PASSWORD not in json.dumps(emu.requests)


def test_inner_throttling_shows_inside_the_batch(emu, graph):
    emu.add_group(displayName="G", mailNickname="g")
    emu.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=7)
    r = _batch(graph, {"id": "u", "method": "GET", "url": "/users"},
               {"id": "g", "method": "GET", "url": "/groups"},
               {"id": "u2", "method": "GET", "url": "/users"})
    assert r.status_code == 200        # the batch itself is fine
    first, groups, again = r.json()["responses"]
    assert first["status"] == 429 and first["headers"]["Retry-After"] == "7"
    assert first["body"]["error"]["code"] == "TooManyRequests"
    assert groups["status"] == 200 and again["status"] == 200   # count=1 used up
    assert [(e["batch_id"], e["status"], e["fault"]) for e in emu.requests[:-1]] == [
        ("u", 429, "injected"), ("g", 200, None), ("u2", 200, None)]

    # A fault on the $batch route itself answers the whole batch.
    emu.inject_fault(method="POST", path_regex=r"^/v1\.0/\$batch$", status=503, retry_after=2)
    emu.clear_log()
    r = _batch(graph, {"id": "u", "method": "GET", "url": "/users"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert [(e["path"], e["fault"]) for e in emu.requests] == [("/v1.0/$batch", "injected")]


def test_drop_after_commit_inside_a_batch_drops_the_batch(emu, graph):
    emu.inject_fault(method="POST", path_regex=r"^/v1\.0/users$", drop_after_commit=True)
    with pytest.raises(requests.ConnectionError):
        _batch(graph, {"id": "1", "method": "POST", "url": "/users", "headers": JSON,
                       "body": _user_body("eve")})
    assert [u["userPrincipalName"] for u in emu.users.values()] == ["eve@contoso.com"]
    assert [(e["path"], e["status"], e["fault"]) for e in emu.requests] == [
        ("/v1.0/users", 201, "dropped"), ("/v1.0/$batch", 200, "dropped")]


def test_depends_on_a_failed_request_gives_424(emu, graph):
    r = _batch(graph,
               {"id": "1", "method": "GET", "url": f"/users/{uuid.uuid4()}"},
               {"id": "2", "method": "PATCH", "url": "/users/x@contoso.com", "dependsOn": ["1"],
                "headers": JSON, "body": {"department": "D"}},
               {"id": "3", "method": "GET", "url": "/groups", "dependsOn": ["2"]},
               {"id": "4", "method": "GET", "url": "/groups"})
    assert r.status_code == 200
    responses = r.json()["responses"]
    assert [x["status"] for x in responses] == [404, 424, 424, 200]
    assert responses[1]["body"]["error"] == {
        "code": "FailedDependency",
        "message": "The request '2' was not run: it depends on request '1', which failed.",
        "innerError": responses[1]["body"]["error"]["innerError"]}
    assert [(e["batch_id"], e["status"]) for e in emu.requests[:-1]] == [
        ("1", 404), ("2", 424), ("3", 424), ("4", 200)]


def test_requests_matching(emu, graph):
    graph("GET", "/users")
    _batch(graph, {"id": "1", "method": "GET", "url": "/groups"},
           {"id": "2", "method": "GET", "url": "/users?$top=1"})
    assert [e["path"] for e in emu.requests_matching(path_regex=r"/users$")] == [
        "/v1.0/users", "/v1.0/users"]
    assert [e.get("batch_id") for e in emu.requests_matching("get", r"^/v1\.0/users")] == [None, "2"]
    assert [e["path"] for e in emu.requests_matching(method="POST")] == ["/v1.0/$batch"]
    assert len(emu.requests_matching()) == 4


# ---------------------------------------------------------------------------- directory roles


def test_member_of_shows_a_directory_role_after_assign_role(emu, graph, session):
    user = emu.add_user(userPrincipalName="root@contoso.com")
    group = emu.add_group(displayName="Admins", members=[user["id"]])
    outer = emu.add_group(displayName="Everyone", members=[group["id"]])
    role = emu.assign_role(user["id"])
    assert role["displayName"] == "Global Administrator" and role["roleTemplateId"] == GLOBAL_ADMIN
    assert role["id"] != GLOBAL_ADMIN and role["description"].startswith("Can manage all aspects")
    assert emu.assign_role("ROOT@contoso.com", "global administrator") == role   # idempotent

    body = graph("GET", f"/users/{user['id']}/memberOf").json()
    assert body["@odata.context"] == f"{emu.base_url}/v1.0/$metadata#directoryObjects"
    assert [(m["@odata.type"], m["id"]) for m in body["value"]] == [
        ("#microsoft.graph.group", group["id"]), ("#microsoft.graph.directoryRole", role["id"])]
    assert body["value"][1] == {"@odata.type": "#microsoft.graph.directoryRole", "id": role["id"],
                                "deletedDateTime": None, "description": role["description"],
                                "displayName": "Global Administrator", "roleTemplateId": GLOBAL_ADMIN}
    page = graph("GET", f"/users/{user['id']}/memberOf?$top=1&$select=id,displayName,roleTemplateId").json()
    assert page["value"] == [{"@odata.type": "#microsoft.graph.group", "id": group["id"],
                              "displayName": "Admins"}]
    page = graph("GET", page["@odata.nextLink"]).json()
    assert page["value"][0]["roleTemplateId"] == GLOBAL_ADMIN and "@odata.nextLink" not in page
    transitive = graph("GET", f"/users/{user['id']}/transitiveMemberOf").json()["value"]
    assert [m["id"] for m in transitive] == [group["id"], outer["id"], role["id"]]

    roles = graph("GET", "/directoryRoles").json()
    assert roles["@odata.context"] == f"{emu.base_url}/v1.0/$metadata#directoryRoles"
    assert [(r["displayName"], r["roleTemplateId"]) for r in roles["value"]] == [
        ("Global Administrator", GLOBAL_ADMIN)]
    members = graph("GET", f"/directoryRoles/{role['id']}/members").json()["value"]
    assert [(m["@odata.type"], m["userPrincipalName"]) for m in members] == [
        ("#microsoft.graph.user", "root@contoso.com")]
    by_template = graph("GET", f"/directoryRoles(roleTemplateId='{GLOBAL_ADMIN}')/members").json()
    assert [m["id"] for m in by_template["value"]] == [user["id"]]
    assert graph("GET", f"/directoryRoles(roleTemplateId='{GLOBAL_ADMIN}')").json()["id"] == role["id"]
    got = graph("GET", f"/directoryObjects/{role['id']}").json()
    assert got["@odata.type"] == "#microsoft.graph.directoryRole"
    assert graph("GET", f"/directoryRoles/{uuid.uuid4()}").status_code == 404

    # More roles: known template ids, a random one for an unknown name; the admin API.
    assert emu.assign_role(user["id"], "User Administrator")["roleTemplateId"] == \
        "fe930be7-5e62-47db-91af-98c3a49a38b1"
    r = session.post(f"{emu.base_url}/_emulator/roles",
                     json={"user_id": user["id"], "role_name": "Exchange Administrator"})
    assert r.status_code == 201 and r.json()["roleTemplateId"] == "29232cdf-9323-42fd-ade2-1d097af3e4de"
    custom = emu.assign_role(user["id"], "Lab Role")
    uuid.UUID(custom["roleTemplateId"])
    assert custom["description"] is None
    assert session.post(f"{emu.base_url}/_emulator/roles", json={"user_id": str(uuid.uuid4())}).status_code == 400
    assert session.post(f"{emu.base_url}/_emulator/roles", json={"role_name": "x"}).status_code == 400
    with pytest.raises(ValueError):
        emu.assign_role("nobody@contoso.com")
    snapshot = session.get(f"{emu.base_url}/_emulator/objects").json()
    assert len(snapshot["directoryRoles"]) == 4

    # Deleting the user takes it out of its roles (user-delete: an app needs a higher privileged
    # role to delete a privileged user); reset forgets the roles.
    r = graph("DELETE", f"/users/{user['id']}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    emu.assign_app_role("Privileged Authentication Administrator")
    assert graph("DELETE", f"/users/{user['id']}").status_code == 204
    assert all(r["members"] == [] for r in emu.directory_roles.values())
    emu.reset()
    assert graph("GET", "/directoryRoles").json()["value"] == []


# ---------------------------------------------------------------------------- domains


def test_domains_list_federated_and_unverified(emu, graph):
    domains = graph("GET", "/domains").json()["value"]
    assert [(d["id"], d["isDefault"], d["isVerified"], d["authenticationType"], d["supportedServices"])
            for d in domains] == [
        ("contoso.com", True, True, "Managed", ["Email", "OfficeCommunicationsOnline"]),
        ("contoso.onmicrosoft.com", False, True, "Managed", ["Email", "OfficeCommunicationsOnline"]),
        (FED1, False, True, "Federated", ["Email", "OfficeCommunicationsOnline"]),
        (FED2, False, True, "Federated", ["Email", "OfficeCommunicationsOnline"]),
        (PENDING, False, False, "Managed", []),
    ]
    assert graph("GET", f"/domains/{FED1.upper()}").json()["authenticationType"] == "Federated"
    org = graph("GET", "/organization").json()["value"][0]
    assert [(d["name"], d["type"]) for d in org["verifiedDomains"]] == [
        ("contoso.com", "Managed"), ("contoso.onmicrosoft.com", "Managed"),
        (FED1, "Federated"), (FED2, "Federated")]


def test_duplicate_domain_is_refused(pki):
    with pytest.raises(ValueError):
        GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key, tenant_id=TENANT,
                      client_id=CLIENT, client_secret=SECRET, federated_domains=["contoso.com"])


def test_upn_domain_rules(emu, graph):
    for domain in (PENDING, "unknown.example"):
        r = graph("POST", "/users", json=_user_body("fay", domain))
        assert r.status_code == 400 and _error(r)["message"] == (
            "The domain portion of the userPrincipalName property is invalid. You must use one "
            "of the verified domain names in your organization.")
    r = graph("POST", "/users", json=_user_body("fay", FED1))
    assert r.status_code == 400
    assert _error(r) | {"innerError": None} == {
        "code": "Request_BadRequest", "innerError": None,
        "message": "SourceAnchor is a required property for creation of a federated user."}
    assert emu.users == {}
    fay = graph.new_user("fay", userPrincipalName=f"fay@{FED1}", onPremisesImmutableId="RmF5")
    assert fay["userPrincipalName"] == f"fay@{FED1}"
    # A managed user may move to a federated domain; the rule above is about creation.
    gus = graph.new_user("gus")
    assert graph("PATCH", f"/users/{gus['id']}", json={"userPrincipalName": f"gus@{FED2}"}).status_code == 204


def test_federated_to_federated_upn_change_is_refused(emu, graph):
    uid = graph.new_user("hal", userPrincipalName=f"hal@{FED1}", onPremisesImmutableId="SGFs")["id"]
    r = graph("PATCH", f"/users/{uid}", json={"userPrincipalName": f"hal@{FED2}"})
    assert r.status_code == 400
    assert _error(r)["code"] == "Request_BadRequest"
    assert _error(r)["message"] == (
        f"The userPrincipalName cannot be changed from federated domain '{FED1}' to another "
        f"federated domain '{FED2}' (FederatedDomainChangeError). Change it to a managed "
        "domain first.")
    assert emu.get_object(uid)["userPrincipalName"] == f"hal@{FED1}"
    # Within the same federated domain, and by way of a managed domain, it works.
    for upn in (f"hal.x@{FED1}", "hal.x@contoso.onmicrosoft.com", f"hal.x@{FED2}"):
        assert graph("PATCH", f"/users/{uid}", json={"userPrincipalName": upn}).status_code == 204
    assert emu.get_object(uid)["userPrincipalName"] == f"hal.x@{FED2}"
    r = graph("PATCH", f"/users/{uid}", json={"userPrincipalName": f"hal.x@{PENDING}"})
    assert r.status_code == 400 and "verified domain" in _error(r)["message"]


def test_process_mode_domain_flags(pki, tmp_path, session):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    ready = tmp_path / "ready.json"
    base = [sys.executable, "-m", "pybridge_lab.graph_emulator", "--port", "0",
            "--cert", str(pki["server"].cert), "--key", str(pki["server"].key),
            "--tenant-id", TENANT, "--client-id", CLIENT, "--client-secret-file", str(secret_file),
            "--ready-file", str(ready)]
    bad = subprocess.run(base + ["--federated-domain", "contoso.com"], capture_output=True, timeout=30)
    assert bad.returncode == 2 and b"twice" in bad.stderr and b"Traceback" not in bad.stderr
    proc = subprocess.Popen(base + ["--federated-domain", FED1, "--unverified-domain", PENDING],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "emulator did not get ready"
            time.sleep(0.05)
        url = json.loads(ready.read_text())["url"]
        s = LabSession(pki["ca"].cert)
        app = _app(type("E", (), {"base_url": url})(), s, SECRET)
        tok = app.acquire_token_for_client(GRAPH_SCOPE)["access_token"]
        r = s.get(f"{url}/v1.0/domains", headers={"Authorization": f"Bearer {tok}"})
        assert [(d["id"], d["authenticationType"], d["isVerified"]) for d in r.json()["value"]] == [
            ("contoso.com", "Managed", True), ("contoso.onmicrosoft.com", "Managed", True),
            (FED1, "Federated", True), (PENDING, "Managed", False)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


# ---------------------------------------------------------------------------- msgraph-sdk


def _stand_in_for_deprecated(monkeypatch: pytest.MonkeyPatch) -> None:
    """msgraph_core's batch module imports the `deprecated` package without declaring it
    (https://github.com/microsoftgraph/msgraph-sdk-python-core/issues/1030); when it is not
    installed, a no-op decorator stands in for it, only for this test."""
    try:
        import deprecated  # noqa: F401
        return
    except ModuleNotFoundError:
        pass
    import types

    def decorator(*args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return lambda obj: obj

    module = types.ModuleType("deprecated")
    module.deprecated = decorator
    monkeypatch.setitem(sys.modules, "deprecated", module)


def test_msgraph_sdk_batch_round_trip(emu, pki, token, monkeypatch):
    """msgraph_core's BatchRequestContent / BatchRequestBuilder against the emulator."""
    _stand_in_for_deprecated(monkeypatch)
    import httpx
    from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                                   BaseBearerTokenAuthenticationProvider)
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User
    from msgraph_core import GraphClientFactory
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    class Tokens(AccessTokenProvider):
        def __init__(self) -> None:
            self.validator = AllowedHostsValidator(["127.0.0.1"])

        async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
            return token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return self.validator

    emu.add_user(userPrincipalName="ivy@contoso.com", displayName="Ivy")

    async def scenario():
        tls = ssl.create_default_context(cafile=str(pki["ca"].cert))
        http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=tls))
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Tokens()), client=http)
        adapter.base_url = f"{emu.base_url}/v1.0"
        client = GraphServiceClient(request_adapter=adapter)
        try:
            create = client.users.to_post_request_information(User(
                account_enabled=True, display_name="Jo", mail_nickname="jo",
                user_principal_name="jo@contoso.com",
                password_profile=PasswordProfile(password=PASSWORD)))
            listing = client.users.to_get_request_information()
            content = BatchRequestContent({"create": BatchRequestItem(create, id="create"),
                                           "list": BatchRequestItem(listing, id="list")})
            result = await client.batch.post(batch_request_content=content)
            return result
        finally:
            await http.aclose()

    result = asyncio.run(scenario())
    assert result.get_response_status_codes() == {"create": 201, "list": 200}
    listed = result.get_response_by_id("list")
    assert listed.content_type.startswith("application/json")
    assert result.get_response_by_id("create").headers["Location"].startswith(emu.base_url)
    # BatchResponseContent.response_body() cannot be used: msgraph-core 1.5.2 reads each
    # "body" as a base64 string only, and Graph (like the emulator) sends a JSON object.
    assert sorted(u["userPrincipalName"] for u in emu.users.values()) == [
        "ivy@contoso.com", "jo@contoso.com"]
    inner = [e for e in emu.requests if e.get("batch")]
    assert [(e["method"], e["path"], e["batch_id"]) for e in inner] == [
        ("POST", "/v1.0/users", "create"), ("GET", "/v1.0/users", "list")]
    assert inner[0]["body"]["passwordProfile"]["password"] == "***"
