"""Waits and progress are told to a notifier, in a person's words; connection failures in pybridge's words."""
from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stderr
from typing import Any

import pytest
import requests

from pybridge.config import EntraConnector
from pybridge.connectors.entra import GraphClient, connection_problem, token_roles
from pybridge.connectors.retry import RetryBudget
from pybridge.notices import Progress, Waiting, describe

ENTRA = EntraConnector(name="t", tenant_id="tenant", client_id="app", client_secret=None, certificate=None,
                       authority_host="https://login.example.test", graph_endpoint="https://graph.example.test",
                       ca_file=None, verify_tls=True, timeout=5.0, retry_max_wait=60.0, retry_max_attempts=6)


def _response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "")
    r._content = json.dumps(body).encode() if body is not None else b""
    r.headers.update(headers or {})
    return r


class _Session:
    """Answers Graph requests from a script: a list of (status, body, headers), then $batch successes."""

    def __init__(self, script: list[tuple[int, Any, dict[str, str]]] | None = None) -> None:
        self.script = list(script or [])
        self.batches: list[int] = []

    def request(self, method: str, url: str, **kw: Any) -> requests.Response:
        if self.script:
            return _response(*self.script.pop(0))
        if url.endswith("/$batch"):
            inner = json.loads(kw["data"])["requests"]
            self.batches.append(len(inner))
            return _response(200, {"responses": [{"id": r["id"], "status": 204} for r in inner]})
        return _response(200, {"value": []})


def _client(session: _Session, heard: list) -> GraphClient:
    client = GraphClient(ENTRA, "secret", session=session, notify=heard.append,  # type: ignore[arg-type]
                         budget=RetryBudget(max_wait=60, sleep=lambda s: None, notify=heard.append))
    client._token, client._token_until = "x.e30.y", time.monotonic() + 600  # no token request in a unit test
    return client


def test_a_throttled_request_is_announced_with_its_cause_and_length():
    heard: list = []
    session = _Session([(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "2"}),
                        (503, {"error": {"code": "ServiceUnavailable"}}, {}), (200, {"value": []}, {})])
    client = _client(session, heard)
    client.find_by_anchor("user", "anchor")
    assert [type(n) for n in heard] == [Waiting, Waiting]
    first, second = heard
    assert first.seconds == 2 and "throttled looking up users (429 Too Many Requests, Retry-After: 2)" in first.cause
    assert "is unavailable for looking up users (503 Service Unavailable, no Retry-After" in second.cause
    line = describe(first)
    assert line.startswith("waiting 2 s, then trying again: Microsoft Graph throttled looking up users")
    assert "of at most 60 s of waiting in this run" in line
    assert "anchor" not in line  # the filter (an AD value) is not repeated on stderr


def test_long_member_writes_report_progress_after_each_batch():
    heard: list = []
    session = _Session()
    adds = [f"id-{i}" for i in range(1200)]
    batches = _client(session, heard).change_members("group-1", adds, [])
    assert batches == 3 and session.batches == [20, 20, 20]
    assert [describe(n) for n in heard] == ["members: 400/1,200 added", "members: 800/1,200 added",
                                            "members: 1,200/1,200 added"]


def test_a_short_member_write_says_nothing():
    heard: list = []
    _client(_Session(), heard).change_members("group-1", [f"id-{i}" for i in range(45)], ["old"])
    assert heard == []


def test_a_group_created_with_many_members_counts_the_first_twenty():
    heard: list = []
    session = _Session([(201, {"id": "new-group"}, {})])
    members = [f"id-{i}" for i in range(850)]
    client = _client(session, heard)
    client.create("group", {"displayName": "G", "mailNickname": "G"}, members=members[:20])
    client.change_members("new-group", members[20:], [], added_before=20)
    assert describe(heard[-1]) == "members: 850/850 added"
    assert describe(heard[0]) == "members: 420/850 added"


def test_lost_create_lookups_say_what_they_wait_for():
    heard: list = []
    client = _client(_Session(), heard)
    assert client.backoff(0, "the user was created without an answer")
    assert heard[0].then == "looking again" and "without an answer" in heard[0].cause


def test_describe_words_every_kind_of_wait():
    assert describe(Waiting(0, "127.0.0.1:1 refused the connection", then="connecting again")) == \
        "connecting again at once: 127.0.0.1:1 refused the connection"
    assert describe(Waiting(30, "another sync holds the lock on state /s", at_most=True)) == \
        "waiting up to 30 s: another sync holds the lock on state /s"
    assert describe(Waiting(0.5, "x", waited=2, budget=60)) == \
        "waiting 0.5 s, then trying again: x (2.5 s of at most 60 s of waiting in this run)"
    assert describe(Progress("members", 3, 4, "removed")) == "members: 3/4 removed"


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_failures_are_said_in_pybridge_s_words():
    port = _free_port()  # nothing listens there: the connection is refused
    with pytest.raises(requests.RequestException) as refused:
        requests.get(f"https://127.0.0.1:{port}/", timeout=5)
    words = connection_problem(refused.value)
    assert words == f"127.0.0.1:{port} refused the connection"
    with pytest.raises(requests.RequestException) as unknown:
        requests.get("https://no-such-host.invalid/", timeout=5)
    assert connection_problem(unknown.value) == "the name no-such-host.invalid could not be resolved"
    for text in (words, connection_problem(unknown.value)):
        for raw in ("HTTPSConnectionPool", "NewConnectionError", "Max retries", "Retry("):
            assert raw not in text


def test_urllib3_s_retry_text_never_reaches_stderr(monkeypatch):
    """The CLI's logging: urllib3's 'Retrying (...)' warning becomes a wait notice in pybridge's words."""
    import logging

    from pybridge import cli
    from urllib3.exceptions import NewConnectionError
    from urllib3.util.retry import Retry

    cli._configure_logging(0)
    err = io.StringIO()
    error = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    with redirect_stderr(err):
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying (%r) after connection broken by '%r': %s", Retry(total=1), error, "/v1.0/users")
        logging.getLogger("urllib3.connectionpool").warning("Connection pool is full, discarding connection: x")
    text = err.getvalue()
    assert text.startswith("pybridge: connecting again at once:") and "refused the connection" in text
    assert "Retrying" not in text and "NewConnectionError" not in text and "pool is full" not in text


def test_the_roles_claim_is_read_from_the_token_without_verifying_it():
    import base64
    payload = base64.urlsafe_b64encode(json.dumps({"roles": ["User.ReadWrite.All"]}).encode()).rstrip(b"=")
    assert token_roles(f"h.{payload.decode()}.s") == ["User.ReadWrite.All"]
    assert token_roles("h.e30.s") is None and token_roles("opaque") is None and token_roles("a.!!!.b") is None
