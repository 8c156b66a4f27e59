"""connectors/entra.py: which of Graph's answers mean "the object is not replicated yet", and a create Graph
refuses because a member it binds does not show yet is sent again (group-post-groups, eventual consistency)."""
from __future__ import annotations

import json

import pytest
import requests

from pybridge.connectors.entra import GraphClient, classify
from pybridge.connectors.retry import RetryBudget
from pybridge.errors import TargetError


def answer(status: int, message: str, code: str = "Request_BadRequest") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps({"error": {"code": code, "message": message}}).encode()
    r.headers["Content-Type"] = "application/json"
    return r


@pytest.mark.parametrize("status,message,replicating", [
    (400, "The source resource object or one of the objects being referenced do not exist.", True),
    (404, "Resource '0d4c' does not exist or one of its queried reference-property objects are not present.", True),
    (400, "Resource '0d4c' does not exist or one of its queried reference-property objects are not present.", True),
    (400, "Property 'shoeSize' does not exist as a declared property or extension property.", False),
    (400, "Another object with the same value for property userPrincipalName already exists.", False),
    (403, "Insufficient privileges to complete the operation.", False),
])
def test_which_answers_mean_not_replicated_yet(status, message, replicating):
    assert classify(answer(status, message), "Writing").context["replicating"] is replicating


def test_conflicting_objects_name_the_holders():
    r = answer(400, "Another object with the same value for property proxyAddresses already exists.")
    r._content = json.dumps({"error": {"code": "Request_BadRequest", "message": "Another object ...", "details": [
        {"code": "ObjectConflict", "message": "m", "target": "proxyAddresses"},
        {"code": "ConflictingObjects", "message": "m", "target": "Contact_5e1c0b8a-0000-4000-8000-000000000001"}]}}
                            ).encode()
    exc = classify(r, "Creating the user")
    assert exc.error_code == "AttributeValueMustBeUnique"
    assert exc.context["holders"] == ["5e1c0b8a-0000-4000-8000-000000000001"]


class _Client(GraphClient):
    """GraphClient with its HTTP replaced by a queue of answers; no token, no waiting."""

    def __init__(self, answers: list[requests.Response]) -> None:  # noqa: D107 - a test double
        self.answers = answers
        self.sent: list[tuple[str, str]] = []
        self.budget = RetryBudget(max_wait=60, sleep=lambda s: None)
        self.base = "https://graph.example/v1.0"

        class E:  # the few settings create() reads
            group_anchor_property = None
        self.entra = E()

    def call(self, method, path, *, what, params=None, body=None, ok=(200, 201, 204), allow_404=False):
        self.sent.append((method, path))
        r = self.answers.pop(0)
        if r.status_code not in ok:
            raise classify(r, what)
        return r.json()


def test_a_group_create_refused_for_an_unreplicated_member_is_sent_again():
    created = requests.Response()
    created.status_code = 201
    created._content = json.dumps({"id": "g1", "displayName": "Sales"}).encode()
    client = _Client([answer(400, "The source resource object or one of the objects being referenced do not exist."),
                      created])
    got = client.create("group", {"displayName": "Sales", "mailNickname": "sales"}, members=["u1"])
    assert got["id"] == "g1" and client.sent == [("POST", "/groups"), ("POST", "/groups")]


def test_a_create_refused_for_any_other_reason_is_not_sent_again():
    client = _Client([answer(400, "Invalid value specified for property 'displayName' of resource 'Group'.")])
    with pytest.raises(TargetError):
        client.create("group", {"displayName": "Sales", "mailNickname": "sales"})
    assert client.sent == [("POST", "/groups")]


def test_many_addresses_are_looked_up_in_filters_of_at_most_fifteen_clauses():
    def page(value):
        r = requests.Response()
        r.status_code = 200
        r._content = json.dumps({"value": value}).encode()
        return r

    holder = {"id": "u9", "mail": "a3@contoso.com"}
    client = _Client([page([holder]), page([holder, {"id": "u10"}])])
    seen_filters: list[str] = []
    call = client.call

    def recording_call(method, path, *, what, params=None, **kw):
        seen_filters.append(params["$filter"])
        return call(method, path, what=what, params=params, **kw)

    client.call = recording_call  # type: ignore[method-assign]
    addresses = [f"a{i}@contoso.com" for i in range(10)]
    found = client.address_holders(user_principal_name="a0@contoso.com", addresses=addresses, kinds=("user",))
    assert [len(f.split(" or ")) for f in seen_filters] == [15, 6]   # 1 UPN + 2 per address = 21 clauses
    assert [h.properties["id"] for h in found] == ["u9", "u10"]    # each holder once
