"""The floor of startup_bench.py: the plainest script that makes the round trips of `pybridge sync` of an
unchanged user, and nothing else.

    python benchmarks/floor_sync.py SETTINGS.json [--frozen-start]

One LDAPS bind and one BASE read of the object (ldap3, the attributes pybridge reads), one client-credential
token from msal (its token cache kept in a file between runs, as pybridge keeps it, so a warm run asks for no
token; without "token_cache" in the settings, a token is fetched every run), one Graph GET of the user by onPremisesImmutableId. With "http_cache" in the settings, msal's HTTP
cache (the authority's OpenID metadata) is kept in that file between runs too, the way msal's documentation
shows it; without, msal reads the metadata once per process. Writes nothing else; prints the Entra id found.
startup_bench.py writes SETTINGS.json; nothing here parses YAML, checks scope, applies rules or keeps state:
that is what pybridge adds and what the benchmark measures.

With --frozen-start the script treats the garbage collector as a pybridge process does (pybridge.cli.run):
off during the imports, then the imported objects frozen (gc.freeze) and collection on again before the
round trips; so the start-up's objects are neither walked during the imports nor torn down at exit.
startup_bench.py runs both: the plain floor, and this one for the comparison without that difference.
"""
import gc
import sys

FROZEN_START = "--frozen-start" in sys.argv[2:]
if FROZEN_START:
    gc.disable()

import base64  # noqa: E402 - after the collector is set
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import ssl  # noqa: E402

import ldap3  # noqa: E402
import msal  # noqa: E402
import requests  # noqa: E402

if FROZEN_START:
    gc.freeze()
    gc.enable()

with open(sys.argv[1], encoding="utf-8") as fh:
    s = json.load(fh)

# -- Active Directory: bind and read the object -----------------------------------------------------------
with open(s["ldap_password_file"], encoding="utf-8") as fh:
    password = fh.read().strip()
tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT, ca_certs_file=s["ldap_ca_file"])
server = ldap3.Server(s["ldap_host"], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
conn = ldap3.Connection(server, user=s["ldap_user"], password=password, auto_bind=True, read_only=True)
conn.search(s["dn"], "(objectClass=*)", search_scope=ldap3.BASE, attributes=s["attributes"])
raw = {k.lower(): v for k, v in conn.response[0]["raw_attributes"].items()}
conn.unbind()
anchor = base64.b64encode((raw.get(s["anchor"].lower()) or raw["objectguid"])[0]).decode()

# -- Entra ID: a token (msal's cache in a file), then one GET ----------------------------------------------
session = requests.Session()
# the CA on every request (a Session's own .verify would lose to $REQUESTS_CA_BUNDLE), as msal does for timeouts
session.request = functools.partial(session.request, verify=s["graph_ca_file"], timeout=30)  # type: ignore
token_cache = msal.SerializableTokenCache()
if s.get("token_cache") and os.path.exists(s["token_cache"]):
    with open(s["token_cache"], encoding="utf-8") as fh:
        token_cache.deserialize(fh.read())
http_cache: dict = {}
if s.get("http_cache") and os.path.exists(s["http_cache"]):
    try:
        with open(s["http_cache"], "rb") as fh:
            http_cache = pickle.load(fh)  # the benchmark's own file, in its own directory
    except (OSError, pickle.UnpicklingError, AttributeError, EOFError):
        http_cache = {}
http_cache_before = repr(sorted(http_cache)) if s.get("http_cache") else ""
with open(s["client_secret_file"], encoding="utf-8") as fh:
    secret = fh.read().strip()
app = msal.ConfidentialClientApplication(s["client_id"], client_credential=secret, authority=s["authority"],
                                         instance_discovery=False, http_client=session, token_cache=token_cache,
                                         http_cache=http_cache)
token = app.acquire_token_for_client(scopes=[s["graph_endpoint"] + "/.default"])["access_token"]
if s.get("token_cache") and token_cache.has_state_changed:
    fd = os.open(s["token_cache"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token_cache.serialize())
if s.get("http_cache") and repr(sorted(http_cache)) != http_cache_before:
    fd = os.open(s["http_cache"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(http_cache, fh)
answer = session.get(s["graph_endpoint"] + "/v1.0/users",
                     params={"$filter": f"onPremisesImmutableId eq '{anchor}'", "$select": s["select"]},
                     headers={"Authorization": "Bearer " + token})
answer.raise_for_status()
print(answer.json()["value"][0]["id"])
