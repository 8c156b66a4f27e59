"""The Graph emulator behaves like Microsoft Graph v1.0 and the identity platform.

One emulator serves the whole module (reset between tests; tokens survive reset). The
clients are the real ones pybridge uses (msal, requests) plus the official msgraph-sdk,
which checks that the emulator's wire format deserialises the way Graph's does.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pybridge_lab.ca import create_ca, issue_server_cert
from pybridge_lab.graph_emulator import GraphEmulator

TENANT = "8c3a1b2e-4d5f-4a6b-9c7d-0e1f2a3b4c5d"
CLIENT = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
SECRET = "lab-Secret~0123456789"
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
PASSWORD = "Xq7!lab-Passw0rd"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class LabSession(requests.Session):
    """Validates TLS against the lab CA on every request, whatever REQUESTS_CA_BUNDLE says
    (requests lets that variable override Session.verify, but not a per-request verify)."""

    def __init__(self, ca_file: Path) -> None:
        super().__init__()
        self.ca_file = str(ca_file)

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs["verify"] = self.ca_file
        return super().request(method, url, *args, **kwargs)


def _rsa_client_certificate(directory: Path, key_pem: bytes | None = None) -> tuple[bytes, bytes]:
    key = (serialization.load_pem_private_key(key_pem, password=None) if key_pem
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pybridge test app")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("pki")
    ca = create_ca(d / "ca")
    server = issue_server_cert(ca, d, "graph")
    cert_pem, key_pem = _rsa_client_certificate(d)
    return {"dir": d, "ca": ca, "server": server, "client_cert": cert_pem, "client_key": key_pem}


@pytest.fixture(scope="module")
def emulator_module(pki: dict):
    emu = GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key,
                        tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET,
                        client_certificate_pem=pki["client_cert"])
    with emu:
        yield emu


@pytest.fixture
def emu(emulator_module: GraphEmulator) -> GraphEmulator:
    emulator_module.reset()
    return emulator_module


@pytest.fixture
def session(pki: dict, monkeypatch: pytest.MonkeyPatch) -> LabSession:
    # As on this machine: the environment points requests at the system bundle, which
    # does not hold the lab CA; the session must still validate against the lab CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    s = LabSession(pki["ca"].cert)
    yield s
    s.close()


def _app(emu: GraphEmulator, session: requests.Session, credential) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        CLIENT, client_credential=credential, authority=f"{emu.base_url}/{TENANT}",
        instance_discovery=False, http_client=session)


@pytest.fixture(scope="module")
def token(emulator_module: GraphEmulator, pki: dict) -> str:
    s = LabSession(pki["ca"].cert)
    result = _app(emulator_module, s, SECRET).acquire_token_for_client(GRAPH_SCOPE)
    assert "access_token" in result, result
    return result["access_token"]


class Graph:
    """Tiny Graph client over requests for the tests."""

    def __init__(self, emu: GraphEmulator, session: requests.Session, token: str) -> None:
        self.base = f"{emu.base_url}/v1.0"
        self.s = session
        self.h = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, **kw) -> requests.Response:
        url = path if path.startswith("https://") else self.base + path
        return self.s.request(method, url, headers={**self.h, **kw.pop("headers", {})}, **kw)

    def new_user(self, name: str, **extra) -> dict:
        body = {"accountEnabled": True, "displayName": name.title(), "mailNickname": name,
                "userPrincipalName": f"{name}@contoso.com",
                "passwordProfile": {"password": PASSWORD,
                                    "forceChangePasswordNextSignIn": False}, **extra}
        r = self("POST", "/users", json=body)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def graph(emu: GraphEmulator, session: LabSession, token: str) -> Graph:
    return Graph(emu, session, token)


def _error(r: requests.Response) -> dict:
    return r.json()["error"]


# ---------------------------------------------------------------------------- identity


def test_msal_client_secret_token_is_accepted_by_graph(emu, session):
    assert os.environ["REQUESTS_CA_BUNDLE"] == SYSTEM_BUNDLE
    result = _app(emu, session, SECRET).acquire_token_for_client(GRAPH_SCOPE)
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == TENANT and claims["appid"] == CLIENT and claims["appidacr"] == "1"

    r = session.get(f"{emu.base_url}/v1.0/organization",
                    headers={"Authorization": f"Bearer {result['access_token']}"})
    assert r.status_code == 200 and r.json()["value"][0]["id"] == TENANT

    token_calls = [e for e in emu.requests if e["path"].endswith("/oauth2/v2.0/token")]
    assert len(token_calls) == 1 and token_calls[0]["status"] == 200
    form = token_calls[0]["body"]
    assert form["client_secret"] == "***" and form["grant_type"] == "client_credentials"
    assert SECRET not in json.dumps(emu.requests)
    assert emu.requests[-1]["headers"]["Authorization"] == "Bearer ***"


def test_session_without_forced_verify_does_not_trust_lab_ca(emu, session):
    """The reason for LabSession: REQUESTS_CA_BUNDLE beats Session.verify."""
    plain = requests.Session()
    plain.verify = session.ca_file
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{emu.base_url}/{TENANT}/v2.0/.well-known/openid-configuration")


@pytest.mark.parametrize("style", ["public_certificate", "sha1_thumbprint"])
def test_msal_certificate_credential(emu, session, pki, style):
    cert = x509.load_pem_x509_certificate(pki["client_cert"])
    credential = {"private_key": pki["client_key"].decode()}
    if style == "public_certificate":      # msal signs PS256 with x5t#S256
        credential["public_certificate"] = pki["client_cert"].decode()
    else:                                  # msal signs RS256 with x5t
        credential["thumbprint"] = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    result = _app(emu, session, credential).acquire_token_for_client(GRAPH_SCOPE)
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"
    form = [e for e in emu.requests if e["path"].endswith("/token")][-1]["body"]
    assert form["client_assertion"] == "***"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.mark.parametrize("mismatch", ["key", "certificate"])
def test_certificate_assertion_must_match_the_registered_certificate(emu, session, pki, mismatch):
    if mismatch == "key":       # registered certificate named, signed by another key
        _, key = _rsa_client_certificate(pki["dir"])
        cert = pki["client_cert"]
    else:                       # registered key, but a certificate that is not registered
        cert, key = _rsa_client_certificate(pki["dir"], key_pem=pki["client_key"])
    credential = {"private_key": key.decode(), "public_certificate": cert.decode()}
    result = _app(emu, session, credential).acquire_token_for_client(GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert ("key was not found" in result["error_description"]) == (mismatch == "certificate")


def test_wrong_secret_is_invalid_client(emu, session):
    result = _app(emu, session, "not-the-secret").acquire_token_for_client(GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert result["error_codes"] == [7000215]
    assert emu.requests[-1]["status"] == 401


def test_token_endpoint_errors(emu, session):
    url = f"{emu.base_url}/{TENANT}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/User.Read"}
    r = session.post(url, data=form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = session.post(f"{emu.base_url}/no-such-tenant/oauth2/v2.0/token",
                     data={**form, "scope": GRAPH_SCOPE[0]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert r.json()["error_codes"] == [90002]
    r = session.post(url, data={**form, "scope": GRAPH_SCOPE[0], "client_id": str(uuid.uuid4())})
    assert r.status_code == 400 and r.json()["error_codes"] == [700016]
    # Discovery of an unknown tenant fails, so msal refuses the authority.
    with pytest.raises(ValueError):
        msal.ConfidentialClientApplication(CLIENT, client_credential=SECRET,
                                           authority=f"{emu.base_url}/no-such-tenant",
                                           instance_discovery=False, http_client=session)


def test_graph_requires_a_valid_bearer_token(emu, session):
    r = session.get(f"{emu.base_url}/v1.0/users")
    assert r.status_code == 401
    assert _error(r)["code"] == "InvalidAuthenticationToken"
    assert _error(r)["message"] == "Access token is empty."
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    r = session.get(f"{emu.base_url}/v1.0/users", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401 and _error(r)["code"] == "InvalidAuthenticationToken"
    assert emu.requests[-1]["status"] == 401


# ---------------------------------------------------------------------------- users


def test_create_get_filter_patch_user(emu, graph):
    r = graph("POST", "/users", headers={"client-request-id": "c0ffee00-0000-4000-8000-000000000001"},
              json={"accountEnabled": True, "displayName": "Ada Lovelace", "mailNickname": "ada",
                    "userPrincipalName": "ada@contoso.com", "onPremisesImmutableId": "AbC+/d==",
                    "passwordProfile": {"password": PASSWORD}})
    assert r.status_code == 201
    assert r.headers["client-request-id"] == "c0ffee00-0000-4000-8000-000000000001"
    assert r.headers["request-id"] and r.headers["Content-Type"].startswith("application/json")
    created = r.json()
    assert created["@odata.context"] == f"{emu.base_url}/v1.0/$metadata#users/$entity"
    uid = created["id"]
    uuid.UUID(uid)
    # Default property set only (user-post-users): no passwordProfile, no on-premises props.
    assert set(created) == {"@odata.context", "id", "businessPhones", "displayName", "givenName",
                            "jobTitle", "mail", "mobilePhone", "officeLocation",
                            "preferredLanguage", "surname", "userPrincipalName"}
    assert PASSWORD not in json.dumps(emu.requests) and PASSWORD not in json.dumps(emu.users)

    select = "id,onPremisesImmutableId,onPremisesSyncEnabled,passwordProfile,department"
    got = graph("GET", f"/users/{uid}", params={"$select": select}).json()
    assert got == {"@odata.context": f"{emu.base_url}/v1.0/$metadata#users({select})/$entity",
                   "id": uid, "onPremisesImmutableId": "AbC+/d==", "onPremisesSyncEnabled": None,
                   "passwordProfile": None, "department": None}
    # {id} may be the userPrincipalName, in any case.
    assert graph("GET", "/users/ADA@contoso.com").json()["id"] == uid

    graph.new_user("bob", onPremisesImmutableId="Qm9i")
    graph.new_user("o'neil", displayName="Ada O'Neil", mail="oneil@contoso.com")

    def ids(flt: str) -> list[str]:
        r = graph("GET", "/users", params={"$filter": flt, "$select": "id,displayName"})
        assert r.status_code == 200, r.text
        return sorted(u["displayName"] for u in r.json()["value"])

    assert ids("onPremisesImmutableId eq 'AbC+/d=='") == ["Ada Lovelace"]
    assert ids("userPrincipalName eq 'O''NEIL@contoso.com'") == ["Ada O'Neil"]
    assert ids("startswith(displayName,'ada')") == ["Ada Lovelace", "Ada O'Neil"]
    assert ids("startswith(displayName,'Ada') and mail eq 'oneil@contoso.com'") == ["Ada O'Neil"]
    assert ids("(mailNickname eq 'bob' or id eq '" + uid + "') and accountEnabled eq true") == \
        ["Ada Lovelace", "Bob"]

    r = graph("PATCH", f"/users/{uid}", json={"department": "Analytics", "jobTitle": "Countess",
                                               "onPremisesExtensionAttributes": {"extensionAttribute3": "x3"}})
    assert r.status_code == 204 and r.content == b""
    got = graph("GET", f"/users/{uid}",
                params={"$select": "department,jobTitle,onPremisesExtensionAttributes"}).json()
    assert got["department"] == "Analytics" and got["jobTitle"] == "Countess"
    assert got["onPremisesExtensionAttributes"]["extensionAttribute3"] == "x3"
    assert got["onPremisesExtensionAttributes"]["extensionAttribute1"] is None

    assert graph("DELETE", f"/users/{uid}").status_code == 204
    assert emu.get_object(uid) is None
    methods = [(e["method"], e["path"], e["status"]) for e in emu.requests]
    assert ("PATCH", f"/v1.0/users/{uid}", 204) in methods
    assert ("DELETE", f"/v1.0/users/{uid}", 204) in methods


def test_proxy_addresses_any_filter_is_case_insensitive(emu, graph):
    emu.add_user(userPrincipalName="carol@contoso.com", displayName="Carol",
                 proxyAddresses=["SMTP:carol@contoso.com", "smtp:c.smith@contoso.com"])
    emu.add_user(userPrincipalName="dave@contoso.com", displayName="Dave")
    r = graph("GET", "/users", params={"$filter": "proxyAddresses/any(p:p eq 'smtp:C.Smith@CONTOSO.com')"})
    assert [u["displayName"] for u in r.json()["value"]] == ["Carol"]
    r = graph("GET", "/users", params={"$filter": "proxyAddresses/any(x:startswith(x,'SMTP:carol'))"})
    assert [u["displayName"] for u in r.json()["value"]] == ["Carol"]


def test_paging_follows_next_link(emu, graph):
    for i in range(5):
        emu.add_user(userPrincipalName=f"page{i}@contoso.com", displayName=f"Page {i}")
    url = "/users?$top=2&$select=id,displayName"
    pages, seen = 0, []
    while url:
        r = graph("GET", url)
        assert r.status_code == 200
        body = r.json()
        assert body["@odata.context"].endswith("$metadata#users(id,displayName)")
        assert all(set(u) == {"id", "displayName"} for u in body["value"])
        seen += [u["displayName"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{emu.base_url}/v1.0/users?") and "$skiptoken=" in url
            assert "$top=2" in url
        pages += 1
    assert pages == 3 and seen == [f"Page {i}" for i in range(5)]
    skiptokens = [e["query"].get("$skiptoken") for e in emu.requests if e["path"] == "/v1.0/users"]
    assert skiptokens[0] is None and all(skiptokens[1:])
    r = graph("GET", "/users", params={"$skiptoken": "garbage"})
    assert r.status_code == 400 and _error(r)["code"] == "Directory_ExpiredPageToken"


def test_default_page_size_comes_from_the_constructor(pki, session, token):
    emu = GraphEmulator(certfile=pki["server"].cert, keyfile=pki["server"].key, tenant_id=TENANT,
                        client_id=CLIENT, client_secret=SECRET, page_size=3, port=0)
    with emu:
        for i in range(4):
            emu.add_user(userPrincipalName=f"u{i}@contoso.com")
        # A token of another emulator instance is not accepted (different signing key).
        r = session.get(f"{emu.base_url}/v1.0/users", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        t = _app(emu, session, SECRET).acquire_token_for_client(GRAPH_SCOPE)["access_token"]
        body = session.get(f"{emu.base_url}/v1.0/users", headers={"Authorization": f"Bearer {t}"}).json()
        assert len(body["value"]) == 3 and "@odata.nextLink" in body


def test_upn_conflict_has_graphs_error_body(emu, graph):
    erin = graph.new_user("erin")
    r = graph("POST", "/users", headers={"client-request-id": "11111111-aaaa-4bbb-8ccc-222222222222"},
              json={"accountEnabled": True, "displayName": "Erin 2", "mailNickname": "erin2",
                    "userPrincipalName": "ERIN@Contoso.com", "passwordProfile": {"password": PASSWORD}})
    assert r.status_code == 400
    err = _error(r)
    msg = "Another object with the same value for property userPrincipalName already exists."
    assert err["code"] == "Request_BadRequest" and err["message"] == msg
    # ObjectConflict names the property, ConflictingObjects the holder (the shape ADSyncTools' help shows)
    assert err["details"] == [{"code": "ObjectConflict", "message": msg, "target": "userPrincipalName"},
                              {"code": "ConflictingObjects", "message": msg, "target": f"User_{erin['id']}"}]
    assert err["innerError"]["request-id"] == r.headers["request-id"]
    assert err["innerError"]["client-request-id"] == "11111111-aaaa-4bbb-8ccc-222222222222"
    dt.datetime.strptime(err["innerError"]["date"], "%Y-%m-%dT%H:%M:%S")
    assert len(emu.users) == 1

    fred = graph.new_user("fred", onPremisesImmutableId="RnJlZA==", mail="fred@contoso.com")
    r = graph("POST", "/users", json={"accountEnabled": True, "displayName": "G", "mailNickname": "g",
                                      "userPrincipalName": "g@contoso.com", "onPremisesImmutableId": "RnJlZA==",
                                      "passwordProfile": {"password": PASSWORD}})
    assert _error(r)["details"][0]["target"] == "onPremisesImmutableId"
    # fred's mail became his primary proxy address, so g may not take it as mail (user resource,
    # "mail and proxyAddresses properties")
    assert emu.get_object(fred["id"])["proxyAddresses"] == ["SMTP:fred@contoso.com"]
    gid = graph.new_user("g")["id"]
    r = graph("PATCH", f"/users/{gid}", json={"mail": "FRED@contoso.com"})
    assert r.status_code == 400 and _error(r)["details"][0]["target"] == "proxyAddresses"
    assert _error(r)["details"][1]["target"] == f"User_{fred['id']}"
    assert emu.get_object(gid)["mail"] is None


def test_concurrent_creates_of_one_upn_make_one_user(emu, graph):
    body = {"accountEnabled": True, "displayName": "Race", "mailNickname": "race",
            "userPrincipalName": "race@contoso.com", "passwordProfile": {"password": PASSWORD}}
    statuses: list[int] = []

    def create() -> None:
        statuses.append(graph("POST", "/users", json=body).status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [400] * 7
    assert len(emu.users) == 1


@pytest.mark.parametrize("method,prop,value", [
    ("PATCH", "onPremisesSyncEnabled", True),
    ("PATCH", "onPremisesDistinguishedName", "CN=x,DC=contoso,DC=com"),
    ("PATCH", "onPremisesSecurityIdentifier", "S-1-5-21-1-2-3-1104"),
    ("PATCH", "proxyAddresses", ["SMTP:x@contoso.com"]),
    ("PATCH", "createdDateTime", "2020-01-01T00:00:00Z"),
    ("POST", "onPremisesSamAccountName", "hank"),
    ("POST", "id", "00000000-0000-0000-0000-000000000001"),
])
def test_read_only_property_is_refused(emu, graph, method, prop, value):
    if method == "PATCH":
        uid = graph.new_user("hank")["id"]
        r = graph("PATCH", f"/users/{uid}", json={"displayName": "H", prop: value})
        assert graph("GET", f"/users/{uid}").json()["displayName"] == "Hank"  # nothing applied
    else:
        r = graph("POST", "/users", json={"accountEnabled": True, "displayName": "H", "mailNickname": "h",
                                          "userPrincipalName": "h@contoso.com",
                                          "passwordProfile": {"password": PASSWORD}, prop: value})
        assert emu.users == {}
    assert r.status_code == 400
    assert _error(r) | {"innerError": None} == {
        "code": "Request_BadRequest", "message": f"Property '{prop}' is read-only and cannot be set.",
        "innerError": None}


def test_unknown_property_and_bad_values_are_refused(emu, graph):
    base = {"accountEnabled": True, "displayName": "Ivy", "mailNickname": "ivy",
            "userPrincipalName": "ivy@contoso.com", "passwordProfile": {"password": PASSWORD}}
    r = graph("POST", "/users", json={**base, "favouriteColour": "green"})
    assert r.status_code == 400
    assert _error(r)["message"] == ("Property 'favouriteColour' does not exist as a declared "
                                    "property or extension property.")
    r = graph("POST", "/users", json={**base, "userPrincipalName": "ivy@fabrikam.com"})
    assert r.status_code == 400 and _error(r)["code"] == "Request_BadRequest"
    assert _error(r)["message"] == ("The domain portion of the userPrincipalName property is "
                                    "invalid. You must use one of the verified domain names in "
                                    "your organization.")
    r = graph("POST", "/users", json={**base, "passwordProfile": {"password": "password"}})
    assert r.status_code == 400 and "password complexity" in _error(r)["message"]
    r = graph("POST", "/users", json={k: v for k, v in base.items() if k != "passwordProfile"})
    assert _error(r)["message"] == "A password must be specified to create a new user."
    r = graph("POST", "/users", json={k: v for k, v in base.items() if k != "mailNickname"})
    assert _error(r)["message"] == "Property mailNickname value is required but is empty or missing."
    r = graph("POST", "/users", json={**base, "onPremisesImmutableId": "has_underscore"})
    assert _error(r)["message"] == ("Invalid value specified for property 'onPremisesImmutableId' "
                                    "of resource 'User'.")
    r = graph("POST", "/users", json={**base, "accountEnabled": "yes"})
    assert r.status_code == 400 and _error(r)["code"] == "BadRequest"
    r = graph("POST", "/users", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and emu.requests[-1]["body"] == "{not json"
    assert emu.users == {}
    assert graph("POST", "/users", json=base).status_code == 201


def test_synced_user_is_mastered_on_premises(emu, graph):
    synced = emu.add_user(userPrincipalName="jo@contoso.com", onPremisesSyncEnabled=True,
                          onPremisesImmutableId="Sm8=", onPremisesSamAccountName="jo")
    r = graph("PATCH", f"/users/{synced['id']}", json={"onPremisesExtensionAttributes":
                                                        {"extensionAttribute1": "a"}})
    assert r.status_code == 400 and "on-premises mastered" in _error(r)["message"]
    assert graph("PATCH", f"/users/{synced['id']}", json={"usageLocation": "DE"}).status_code == 204


def test_not_found_body(emu, graph):
    missing = str(uuid.uuid4())
    for path in (f"/users/{missing}", f"/groups/{missing}", f"/groups/{missing}/members"):
        r = graph("GET", path)
        assert r.status_code == 404
        assert _error(r)["code"] == "Request_ResourceNotFound"
        assert _error(r)["message"] == (f"Resource '{missing}' does not exist or one of its queried "
                                        "reference-property objects are not present.")
    assert graph("DELETE", f"/users/{missing}").status_code == 404
    assert _error(graph("GET", f"/contacts/{missing}"))["code"] == "Request_ResourceNotFound"
    r = graph("GET", "/mailContacts")
    assert r.status_code == 400 and _error(r)["message"] == "Resource not found for the segment 'mailContacts'."


def test_query_option_errors(emu, graph):
    r = graph("GET", "/users", params={"$filter": "jobTitle ne 'x'"})
    assert r.status_code == 400 and _error(r)["code"] == "Request_UnsupportedQuery"
    r = graph("GET", "/users", params={"$filter": "endswith(mail,'@contoso.com')"})
    assert _error(r)["code"] == "Request_UnsupportedQuery"
    r = graph("GET", "/users", params={"$filter": "passwordPolicies eq 'x'"})
    assert _error(r)["message"] == ("Unsupported or invalid query filter clause specified for "
                                    "property 'passwordPolicies' of resource 'User'.")
    r = graph("GET", "/users", params={"$filter": "displayName eq 'unterminated"})
    assert r.status_code == 400 and _error(r)["code"] == "BadRequest"
    r = graph("GET", "/users", params={"$filter": "accountEnabled eq 'true'"})
    assert r.status_code == 400 and "incompatible types" in _error(r)["message"]
    r = graph("GET", "/users", params={"$select": "id,shoeSize"})
    assert r.status_code == 400
    assert _error(r)["message"] == "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
    for top in ("0", "1000", "x"):
        r = graph("GET", "/users", params={"$top": top})
        assert r.status_code == 400 and "Invalid page size" in _error(r)["message"]
    # aad-advanced-queries: $count=true without ConsistencyLevel is silently ignored; the $count
    # segment fails without it
    r = graph("GET", "/users", params={"$count": "true"})
    assert r.status_code == 200 and "@odata.count" not in r.json()
    r = graph("GET", "/users", params={"$count": "true"}, headers={"ConsistencyLevel": "eventual"})
    assert r.status_code == 200 and r.json()["@odata.count"] == 0
    r = graph("GET", "/users/$count")
    assert r.status_code == 400 and _error(r)["message"] == "$count is not currently supported."
    r = graph("GET", "/users/$count", headers={"ConsistencyLevel": "eventual"})
    assert r.status_code == 200 and r.text == "0"


# ---------------------------------------------------------------------------- groups


def test_group_members_bind_ref_and_paging(emu, graph):
    users = [emu.add_user(userPrincipalName=f"m{i}@contoso.com", displayName=f"M{i}") for i in range(4)]
    binds = [f"{graph.base}/directoryObjects/{users[0]['id']}",
             f"https://graph.microsoft.com/v1.0/users/{users[1]['id']}"]
    r = graph("POST", "/groups", json={"displayName": "Sales", "mailEnabled": False, "mailNickname": "sales",
                                       "securityEnabled": True, "description": "d",
                                       "members@odata.bind": binds})
    assert r.status_code == 201, r.text
    group = r.json()
    gid = group["id"]
    assert group["@odata.context"].endswith("$metadata#groups/$entity")
    assert group["securityIdentifier"].startswith("S-1-12-1-") and group["mail"] is None
    assert emu.group_members(gid) == [users[0]["id"], users[1]["id"]]

    r = graph("POST", f"/groups/{gid}/members/$ref", json={"@odata.id": f"{graph.base}/directoryObjects/{users[2]['id']}"})
    assert r.status_code == 204
    r = graph("POST", f"/groups/{gid}/members/$ref", json={"@odata.id": f"{graph.base}/directoryObjects/{users[2]['id']}"})
    assert r.status_code == 400
    assert _error(r)["message"] == ("One or more added object references already exist for the "
                                    "following modified properties: 'members'.")
    r = graph("PATCH", f"/groups/{gid}", json={"members@odata.bind": [f"{graph.base}/directoryObjects/{users[3]['id']}"],
                                               "description": "sales team"})
    assert r.status_code == 204
    assert graph("GET", f"/groups/{gid}").json()["description"] == "sales team"
    r = graph("PATCH", f"/groups/{gid}", json={"members@odata.bind": [f"{graph.base}/directoryObjects/{users[0]['id']}"]})
    assert r.status_code == 400 and "already exist" in _error(r)["message"]

    url, members = f"/groups/{gid}/members?$top=3", []
    while url:
        body = graph("GET", url).json()
        assert body["@odata.context"].endswith("$metadata#directoryObjects")
        members += body["value"]
        url = body.get("@odata.nextLink")
    assert [m["id"] for m in members] == [u["id"] for u in users]
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in members)
    assert members[0]["userPrincipalName"] == "m0@contoso.com"

    assert graph("DELETE", f"/groups/{gid}/members/{users[0]['id']}/$ref").status_code == 204
    assert graph("DELETE", f"/groups/{gid}/members/{users[0]['id']}/$ref").status_code == 404
    assert users[0]["id"] not in emu.group_members(gid)
    memberof = graph("GET", f"/users/{users[1]['id']}/memberOf").json()["value"]
    assert [g["id"] for g in memberof] == [gid]
    # Deleting a user removes it from its groups.
    graph("DELETE", f"/users/{users[1]['id']}")
    assert emu.group_members(gid) == [users[2]["id"], users[3]["id"]]
    ref_posts = [e for e in emu.requests if e["path"] == f"/v1.0/groups/{gid}/members/$ref"]
    assert [e["status"] for e in ref_posts] == [204, 400]


def test_group_create_rules(emu, graph):
    base = {"displayName": "G", "mailEnabled": False, "mailNickname": "g", "securityEnabled": True}
    too_many = [emu.add_user(userPrincipalName=f"t{i}@contoso.com")["id"] for i in range(21)]
    r = graph("POST", "/groups", json={**base, "members@odata.bind":
                                       [f"{graph.base}/directoryObjects/{i}" for i in too_many]})
    assert r.status_code == 400 and "20" in _error(r)["message"]
    r = graph("POST", "/groups", json={**base, "members@odata.bind":
                                       [f"{graph.base}/directoryObjects/{uuid.uuid4()}"]})
    assert r.status_code == 400 and "do not exist" in _error(r)["message"]
    # Mail-enabled security groups and distribution lists cannot be made through Graph.
    for security in (True, False):
        r = graph("POST", "/groups", json={**base, "mailEnabled": True, "securityEnabled": security})
        assert r.status_code == 400 and "mail-enabled" in _error(r)["message"]
    r = graph("POST", "/groups", json={**base, "mailNickname": "bad nick"})
    assert r.status_code == 400 and "mailNickname" in _error(r)["message"]
    r = graph("POST", "/groups", json={k: v for k, v in base.items() if k != "securityEnabled"})
    assert r.status_code == 400 and "securityEnabled" in _error(r)["message"]
    assert emu.groups == {}
    r = graph("POST", "/groups", json={**base, "groupTypes": ["Unified"], "mailEnabled": True})
    assert r.status_code == 201 and r.json()["mail"] == "g@contoso.onmicrosoft.com"
    r = graph("GET", "/groups", params={"$filter": "groupTypes/any(c:c eq 'Unified')"})
    assert len(r.json()["value"]) == 1


def test_domains_and_organization(emu, graph):
    domains = graph("GET", "/domains").json()["value"]
    assert [(d["id"], d["isDefault"], d["isInitial"], d["isVerified"], d["authenticationType"])
            for d in domains] == [("contoso.com", True, False, True, "Managed"),
                                  ("contoso.onmicrosoft.com", False, True, True, "Managed")]
    org = graph("GET", "/organization").json()["value"][0]
    assert org["id"] == TENANT and {d["name"] for d in org["verifiedDomains"]} == {
        "contoso.com", "contoso.onmicrosoft.com"}


# ---------------------------------------------------------------------------- faults


def test_throttling_fault_with_retry_after(emu, graph):
    emu.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=3, count=2)
    for _ in range(2):
        r = graph("GET", "/users")
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        assert _error(r)["code"] == "TooManyRequests" and r.headers["request-id"]
    assert graph("POST", "/users", json={}).status_code == 400  # other method: not faulted
    assert graph("GET", "/users").status_code == 200             # count used up
    log = [(e["method"], e["status"], e["fault"]) for e in emu.requests]
    assert log == [("GET", 429, "injected"), ("GET", 429, "injected"), ("POST", 400, None),
                   ("GET", 200, None)]


def test_fault_with_custom_body_and_delay(emu, graph):
    emu.inject_fault(path_regex="/users", status=503, body={"error": {"code": "Custom", "message": "m"}})
    r = graph("GET", "/users")
    assert r.status_code == 503 and r.json() == {"error": {"code": "Custom", "message": "m"}}
    emu.inject_fault(path_regex="/users", status=None, delay=0.3)
    start = time.monotonic()
    assert graph("GET", "/users").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_drop_after_commit_creates_then_breaks_the_connection(emu, graph):
    emu.inject_fault(method="POST", path_regex=r"^/v1\.0/users$", drop_after_commit=True)
    with pytest.raises(requests.ConnectionError):
        graph.new_user("kim")
    [user] = emu.users.values()
    assert user["userPrincipalName"] == "kim@contoso.com"
    entry = emu.requests[-1]
    assert entry["method"] == "POST" and entry["status"] == 201 and entry["fault"] == "dropped"
    # The client's retry now meets the conflict, as it would against Graph.
    r = graph("POST", "/users", json={"accountEnabled": True, "displayName": "Kim", "mailNickname": "kim",
                                      "userPrincipalName": "kim@contoso.com",
                                      "passwordProfile": {"password": PASSWORD}})
    assert r.status_code == 400 and _error(r)["details"][0]["code"] == "ObjectConflict"


def test_fault_on_token_route(emu, session):
    emu.inject_fault(path_regex=r"/oauth2/v2\.0/token$", status=503, retry_after=1)
    r = session.post(f"{emu.base_url}/{TENANT}/oauth2/v2.0/token",
                     data={"grant_type": "client_credentials", "client_id": CLIENT,
                           "client_secret": SECRET, "scope": GRAPH_SCOPE[0]})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"] == "temporarily_unavailable"
    assert emu.requests[-1]["fault"] == "injected" and emu.requests[-1]["body"]["client_secret"] == "***"


def test_admin_api_and_reset(emu, session, graph):
    admin = f"{emu.base_url}/_emulator"
    r = session.post(f"{admin}/users", json={"userPrincipalName": "lee@contoso.com", "displayName": "Lee"})
    assert r.status_code == 201
    lee = r.json()["id"]
    r = session.post(f"{admin}/groups", json={"displayName": "Team", "members": [lee]})
    assert r.status_code == 201
    objects = session.get(f"{admin}/objects").json()
    assert [u["id"] for u in objects["users"]] == [lee] and objects["groups"][0]["members"] == [lee]
    assert session.post(f"{admin}/faults", json={"path_regex": "/groups", "status": 500}).status_code == 204
    assert graph("GET", "/groups").status_code == 500
    assert session.post(f"{admin}/faults", json={"bogus": 1}).status_code == 400
    log = session.get(f"{admin}/requests").json()
    assert [(e["path"], e["status"]) for e in log] == [("/v1.0/groups", 500)]  # admin calls unlogged
    assert session.delete(f"{admin}/requests").status_code == 204 and emu.requests == []
    assert session.post(f"{admin}/reset").status_code == 204
    assert emu.users == {} and emu.groups == {}
    assert graph("GET", "/users").status_code == 200    # the token survived the reset


# ---------------------------------------------------------------------------- process mode


def test_process_mode(pki, tmp_path, session):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybridge_lab.graph_emulator", "--host", "127.0.0.1", "--port", "0",
         "--cert", str(pki["server"].cert), "--key", str(pki["server"].key), "--tenant-id", TENANT,
         "--client-id", CLIENT, "--client-secret-file", str(secret_file), "--domain", "fabrikam.com",
         "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "emulator did not get ready"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["pid"] == proc.pid and info["url"].startswith("https://127.0.0.1:")
        url = info["url"]
        assert session.post(f"{url}/_emulator/users", json={"userPrincipalName": "pat@fabrikam.com"}).status_code == 201
        objects = session.get(f"{url}/_emulator/objects").json()
        assert [u["userPrincipalName"] for u in objects["users"]] == ["pat@fabrikam.com"]
        app = msal.ConfidentialClientApplication(CLIENT, client_credential=SECRET, authority=f"{url}/{TENANT}",
                                                 instance_discovery=False, http_client=session)
        tok = app.acquire_token_for_client(GRAPH_SCOPE)["access_token"]
        r = session.get(f"{url}/v1.0/domains", headers={"Authorization": f"Bearer {tok}"})
        assert [d["id"] for d in r.json()["value"]] == ["fabrikam.com"]
        assert SECRET not in " ".join(proc.args)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    assert not ready.exists()


# ---------------------------------------------------------------------------- msgraph-sdk


def test_wire_format_with_official_msgraph_sdk(emu, pki, token):
    import httpx
    from kiota_abstractions.api_error import APIError
    from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                                   BaseBearerTokenAuthenticationProvider)
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder
    from msgraph_core import GraphClientFactory

    class EmulatorTokenProvider(AccessTokenProvider):
        def __init__(self) -> None:
            self.validator = AllowedHostsValidator(["127.0.0.1"])

        async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
            return token if self.validator.is_url_host_valid(uri) else ""

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return self.validator

    group = emu.add_group(displayName="Engineering", members=[
        emu.add_user(userPrincipalName="quinn@contoso.com", displayName="Quinn",
                     onPremisesImmutableId="UXVpbm4=")["id"]])

    async def scenario() -> None:
        tls = ssl.create_default_context(cafile=str(pki["ca"].cert))
        http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=tls))
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(EmulatorTokenProvider()), client=http)
        adapter.base_url = f"{emu.base_url}/v1.0"
        client = GraphServiceClient(request_adapter=adapter)
        try:
            query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                filter="onPremisesImmutableId eq 'UXVpbm4='", select=["id", "displayName", "onPremisesImmutableId"])
            page = await client.users.get(request_configuration=RequestConfiguration(query_parameters=query))
            assert [(u.display_name, u.on_premises_immutable_id) for u in page.value] == [("Quinn", "UXVpbm4=")]

            created = await client.users.post(User(
                account_enabled=True, display_name="Rae", mail_nickname="rae",
                user_principal_name="rae@contoso.com", on_premises_immutable_id="UmFl",
                password_profile=PasswordProfile(password=PASSWORD, force_change_password_next_sign_in=False)))
            assert created.id and created.user_principal_name == "rae@contoso.com"
            again = await client.users.by_user_id(created.id).get()
            assert again.id == created.id and again.display_name == "Rae"

            members = await client.groups.by_group_id(group["id"]).members.get()
            assert [type(m).__name__ for m in members.value] == ["User"]
            assert members.value[0].user_principal_name == "quinn@contoso.com"

            with pytest.raises(ODataError) as info:
                await client.users.post(User(
                    account_enabled=True, display_name="Rae 2", mail_nickname="rae2",
                    user_principal_name="RAE@contoso.com", password_profile=PasswordProfile(password=PASSWORD)))
            err = info.value
            assert isinstance(err, APIError) and err.response_status_code == 400
            assert err.error.code == "Request_BadRequest"
            assert err.error.message == "Another object with the same value for property userPrincipalName already exists."
            assert err.error.details[0].code == "ObjectConflict" and err.error.details[0].target == "userPrincipalName"
            assert err.error.inner_error is not None
        finally:
            await http.aclose()

    asyncio.run(scenario())
    posted = [e for e in emu.requests if e["method"] == "POST"]
    assert posted[0]["body"]["@odata.type"] == "#microsoft.graph.user"   # the SDK's body shape
    assert posted[0]["body"]["passwordProfile"]["password"] == "***"
    get = next(e for e in emu.requests if e["method"] == "GET" and e["path"] == "/v1.0/users")
    assert get["query"]["$filter"] == "onPremisesImmutableId eq 'UXVpbm4='"
