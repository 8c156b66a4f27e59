"""connectors/entra.py without a server: the links Graph hands out are followed only to the configured endpoint.

An ``@odata.nextLink`` (or any absolute URL pybridge would follow) naming another scheme, host or port
than entra.graph_endpoint is refused with GraphLinkNotTrusted before any request: the bearer token is
never sent there. The HTTP session is the connector's seam; here it records the requests.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from pybridge import config as configlib
from pybridge.connectors.entra import GraphClient
from pybridge.errors import TargetError

ENDPOINT = "https://graph.microsoft.com"
GROUP = "11111111-2222-3333-4444-555555555555"


class RecordingSession:
    def __init__(self, pages: list[dict]) -> None:
        self.pages = list(pages)
        self.calls: list[tuple[str, str, dict, dict]] = []

    def request(self, method: str, url: str, params=None, headers=None, data=None, **kw) -> requests.Response:
        self.calls.append((method, url, dict(headers or {}), dict(params or {})))
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps(self.pages.pop(0)).encode()
        resp.headers["Content-Type"] = "application/json"
        return resp


def client(tmp_path: Path, pages: list[dict], endpoint: str = ENDPOINT) -> tuple[GraphClient, RecordingSession]:
    cfg = configlib.parse({
        "ad_connectors": [{"name": "contoso.com", "servers": ["ldaps://dc1.contoso.com"],
                           "account": {"username": "u", "password_env": "UNUSED"},
                           "partitions": ["DC=contoso,DC=com"]}],
        "entra": {"tenant_id": "t", "client_id": "c", "client_secret_env": "UNUSED", "graph_endpoint": endpoint},
        "state": {"path": str(tmp_path / "state.db")}}, path=tmp_path / "c.yaml", check_secrets=False)
    session = RecordingSession(pages)
    graph = GraphClient(cfg.entra, "secret", session=session)  # type: ignore[arg-type]
    graph._token, graph._token_until = "the-bearer-token", time.monotonic() + 3600  # no msal round trip
    return graph, session


@pytest.mark.parametrize("link", [
    "https://evil.example/v1.0/groups/x/members?$skiptoken=1",
    "http://graph.microsoft.com/v1.0/groups/x/members?$skiptoken=1",  # the scheme
    "https://graph.microsoft.com:8443/v1.0/groups/x/members?$skiptoken=1",  # the port
    "https://graph.microsoft.com@evil.example/v1.0/groups/x/members",  # user information before the host
    "https://graph.microsoft.com.evil.example/v1.0/groups/x/members",
    "//evil.example/v1.0/groups/x/members",  # scheme-relative
    "HTTPS://EVIL.example/v1.0/x",
])
def test_a_next_link_to_another_origin_is_refused_before_any_request(tmp_path, link):
    graph, session = client(tmp_path, [{"value": [{"id": "a"}], "@odata.nextLink": link}])
    with pytest.raises(TargetError) as info:
        graph.member_ids(GROUP)
    assert info.value.error_code == "GraphLinkNotTrusted"
    assert "did not follow it" in info.value.message and ENDPOINT.split("//")[1] in info.value.message
    assert len(session.calls) == 1 and session.calls[0][1].startswith(f"{ENDPOINT}/v1.0/groups/{GROUP}/members")


@pytest.mark.parametrize("link", [
    f"{ENDPOINT}/v1.0/groups/{GROUP}/members?$skiptoken=2",
    f"https://GRAPH.microsoft.com:443/v1.0/groups/{GROUP}/members?$skiptoken=2",  # the same origin, spelt out
])
def test_a_next_link_to_the_configured_endpoint_is_followed(tmp_path, link):
    graph, session = client(tmp_path, [{"value": [{"id": "a"}], "@odata.nextLink": link}, {"value": [{"id": "b"}]}])
    assert graph.member_ids(GROUP) == ["a", "b"]
    assert [c[1] for c in session.calls][1] == link
    assert all(c[2]["Authorization"] == "Bearer the-bearer-token" for c in session.calls)


@pytest.mark.parametrize("manager, expected", [
    ({"@odata.type": "#microsoft.graph.user", "id": "boss-id"}, "boss-id"),
    (None, None),        # a null navigation property
    ("absent", None),    # left out, as user-list-manager shows a user without a manager
])
def test_a_user_is_read_with_its_manager_in_one_request(tmp_path, manager, expected):
    answer = {"@odata.context": "x", "id": "u1", "displayName": "Jane"}
    if manager != "absent":
        answer["manager"] = manager
    graph, session = client(tmp_path, [answer])
    assert graph.get("user", "u1", ["displayName"], with_manager=True) == {"id": "u1", "displayName": "Jane",
                                                                         "manager": expected}
    ((method, url, _, params),) = session.calls
    assert (method, url) == ("GET", f"{ENDPOINT}/v1.0/users/u1")
    assert params["$expand"] == "manager($select=id)" and "displayName" in params["$select"].split(",")


def test_a_group_is_never_read_with_an_expansion(tmp_path):
    graph, session = client(tmp_path, [{"id": "g1", "displayName": "G"}])
    assert graph.get("group", "g1", with_manager=True) == {"id": "g1", "displayName": "G"}
    assert "$expand" not in session.calls[0][3]


def test_an_endpoint_with_a_port_is_matched_with_its_port(tmp_path):
    graph, session = client(tmp_path, [{"value": [], "@odata.nextLink": "https://127.0.0.1:9443/v1.0/next"},
                                       {"value": [{"id": "z"}]}], endpoint="https://127.0.0.1:9443")
    assert graph.member_ids(GROUP) == ["z"]
    graph, session = client(tmp_path, [{"value": [], "@odata.nextLink": "https://127.0.0.1:9444/v1.0/next"}],
                            endpoint="https://127.0.0.1:9443")
    with pytest.raises(TargetError, match="not the configured Graph endpoint"):
        graph.member_ids(GROUP)
    assert len(session.calls) == 1


def test_a_redirect_is_never_followed(tmp_path):
    """Graph answering a create with 307 to another server: requests would send the body (a new user's
    password) there again. pybridge's session follows no redirect; the answer is GraphLinkNotTrusted."""
    import msgspec
    import http.server
    import threading

    elsewhere: list[tuple[str, str, bytes]] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            elsewhere.append((self.command, self.path, body))
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": "x"}')

        def log_message(self, *a):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other.server_port}/v1.0/users")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    graph_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for srv in (other, graph_server):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        graph, _ = client(tmp_path, [])
        endpoint = f"http://127.0.0.1:{graph_server.server_port}"  # plain HTTP only for this local test
        entra = msgspec.structs.replace(graph.entra, graph_endpoint=endpoint)
        graph = GraphClient(entra, "secret")
        graph._token, graph._token_until = "the-bearer-token", time.monotonic() + 3600
        with pytest.raises(TargetError) as info:
            graph.call("POST", "/users", body={"passwordProfile": {"password": "S3cret!"}}, what="Creating user")
        assert info.value.error_code == "GraphLinkNotTrusted" and "redirect" in info.value.message
        assert elsewhere == []
    finally:
        for srv in (other, graph_server):
            srv.shutdown()
            srv.server_close()


def test_the_environments_proxy_settings_are_read_once_per_origin_and_still_honoured(monkeypatch):
    import requests.sessions

    from pybridge.connectors.entra import VerifyingSession

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.contoso.com:3128")
    monkeypatch.setenv("NO_PROXY", "login.contoso.com")
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: reads.append(a) or real(*a, **k))
    session = VerifyingSession("/etc/ssl/ca.pem")
    for path in ("/v1.0/users/a", "/v1.0/users/b"):
        settings = session.merge_environment_settings(f"{ENDPOINT}{path}", {}, None, "/etc/ssl/ca.pem", None)
        assert settings["proxies"]["https"] == "http://proxy.contoso.com:3128"
        assert settings["verify"] == "/etc/ssl/ca.pem"
        settings["proxies"].clear()  # the caller's copy: the kept answer is unchanged
    bypassed = session.merge_environment_settings("https://login.contoso.com/t/oauth2", {}, None, True, None)
    assert "https" not in bypassed["proxies"]  # NO_PROXY still applies, per origin
    assert len(reads) == 2  # one read per origin, not per request


def test_a_service_that_refuses_the_expansion_gets_the_two_documented_reads(tmp_path):
    refused = {"error": {"code": "Request_BadRequest", "message": "Invalid $expand."}}
    graph, session = client(tmp_path, [refused, {"id": "u1", "displayName": "Jane"},
                                       {"id": "boss-id"},                        # GET /users/u1/manager
                                       {"id": "u2", "displayName": "Joe"}, {"id": "boss-id"}])
    statuses = iter([400, 200, 200, 200, 200])
    real = session.request

    def answer(*a, **kw):
        resp = real(*a, **kw)
        resp.status_code = next(statuses)
        return resp
    session.request = answer
    assert graph.get("user", "u1", with_manager=True) == {"id": "u1", "displayName": "Jane", "manager": "boss-id"}
    assert graph.get("user", "u2", with_manager=True)["manager"] == "boss-id"  # not asked with $expand again
    paths = [(c[1].rsplit("/v1.0", 1)[1], "$expand" in c[3]) for c in session.calls]
    assert paths == [("/users/u1", True), ("/users/u1", False), ("/users/u1/manager", False),
                     ("/users/u2", False), ("/users/u2/manager", False)]
