"""Secrets, file modes and TLS, against the real Samba AD DC and the Graph emulator.

* Full syncs - successful, staging, what-if and failing ones (wrong AD password, wrong client secret,
  wrong certificate key password, Graph 500, Graph unreachable), with a client secret and with a
  certificate - run as real processes at -vv (DEBUG logging of pybridge, msal, urllib3 and ldap3), then
  stdout, stderr, every file under the test's directory (state store and its journal, lock, HTML
  reports, re-rendered reports), the run history and the exceptions pybridge raises are searched for
  every known secret: the AD connector password, the client secret, the certificate's private key and
  its password, the wrong secrets that were tried, and the bearer tokens the emulator issued.
* Files pybridge creates are owner-only (0600, directories 0700), even under umask 000.
* TLS validation is on by default for LDAP and Graph; turning it off needs a setting and prints a WARNING
  on every run.

test_sync.py keeps its smaller in-process secrets check; this one adds the real processes, DEBUG logs,
certificates, tokens and every file.
"""
from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import CLIENT_SECRET, Run, run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY_PASSWORD = "pybridge-test-key-password-" + uuid.uuid4().hex
WRONG_AD_PASSWORD = "Wrong-AD-Password-" + uuid.uuid4().hex[:12] + "!"
WRONG_CLIENT_SECRET = "wrong-client-secret-" + uuid.uuid4().hex


def pybridge(*args: str, umask: int | None = None) -> Run:
    def preexec():  # pragma: no cover - runs in the child
        if umask is not None:
            os.umask(umask)
    proc = subprocess.run([sys.executable, "-m", "pybridge", *args], cwd=REPO, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL,
                          preexec_fn=preexec)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def pem_lines(pem: bytes) -> list[str]:
    """Distinctive pieces of a PEM's base64 body (whole lines of it)."""
    body = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return [line for line in body[1:-1] if len(line) >= 40][:6]


@pytest.fixture(scope="module")
def cert_emulator(samba_lab, tmp_path_factory):
    """A second Graph emulator whose app registration has a certificate credential."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import datetime as dt

    from pybridge_lab.ca import create_ca, issue_server_cert
    from pybridge_lab.graph_emulator import GraphEmulator

    root = tmp_path_factory.mktemp("cert-app")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pybridge test app")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(KEY_PASSWORD.encode()))
    plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    pem_file = root / "app.pem"
    pem_file.write_bytes(cert_pem + encrypted)
    pem_file.chmod(0o600)
    password_file = root / "key-password"
    password_file.write_text(KEY_PASSWORD + "\n")
    password_file.chmod(0o600)
    ca = create_ca(samba_lab.root / "ca")
    tls = issue_server_cert(ca, root / "tls", "graph2", names=("localhost", "127.0.0.1"))
    tenant, client = str(uuid.uuid4()), str(uuid.uuid4())
    emulator = GraphEmulator(certfile=tls.cert, keyfile=tls.key, tenant_id=tenant, client_id=client,
                             client_certificate_pem=cert_pem).start()
    try:
        yield {"emulator": emulator, "tenant": tenant, "client": client, "pem_file": pem_file,
               "password_file": password_file, "ca_file": str(ca.cert),
               "key_pieces": pem_lines(encrypted) + pem_lines(plain)}
    finally:
        emulator.stop()


def cert_overrides(ce, password_file: Path | None = None) -> dict:
    return {"entra": {"tenant_id": ce["tenant"], "client_id": ce["client"], "ca_file": ce["ca_file"],
                      "certificate": {"file": str(ce["pem_file"]),
                                      "key_password_file": str(password_file or ce["password_file"])},
                      "authority_host": ce["emulator"].base_url, "graph_endpoint": ce["emulator"].base_url}}


def access_tokens(root: Path) -> list[str]:
    tokens = []
    for cache in root.rglob("msal-token-cache-*.json"):
        doc = json.loads(cache.read_text())
        tokens += [t["secret"] for t in doc.get("AccessToken", {}).values() if t.get("secret")]
    return tokens


def variants(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
            json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()}


def test_no_secret_in_any_output_file_or_history(lab, cert_emulator, tmp_path):
    ad_password = lab.info.connector_password_file.read_text().strip()
    ce = cert_emulator
    (tmp_path / "secrets").mkdir(mode=0o700)
    wrong_pw = tmp_path / "secrets" / "wrong-ad-password"
    wrong_pw.write_text(WRONG_AD_PASSWORD + "\n")
    wrong_secret = tmp_path / "secrets" / "wrong-client-secret"
    wrong_secret.write_text(WRONG_CLIENT_SECRET + "\n")
    wrong_key_pw = tmp_path / "secrets" / "wrong-key-password"
    wrong_key_pw.write_text("not-the-key-password-" + uuid.uuid4().hex + "\n")
    for f in (wrong_pw, wrong_secret, wrong_key_pw):
        f.chmod(0o600)  # owner-only, as pybridge requires of secret files: the wrong value is what is tested

    def cfg(name: str, **overrides) -> Path:
        d = tmp_path / name
        d.mkdir()
        return lab.config(d, **overrides)

    main = cfg("main")
    plans = [
        (main, [lab.dns["user"]], None, 0),
        (main, [lab.dns["group"], "--staging-mode"], None, 0),
        (main, [lab.dns["user_comma"], "--what-if"], None, 0),
        (main, [lab.dns["hidden"]], None, 1),
        (main, [lab.dns["user_nonascii"], "--format", "graph"], ("GET", r"^/v1\.0/users$", 500), 1),
        (main, [lab.dns["user_disabled"]], ("POST", r"^/v1\.0/users$", 500), 1),
        (cfg("wrong-ad", **{"ad_connectors.0.account": {"username": lab.info.connector_username,
                                                         "password_file": str(wrong_pw)}}), [lab.dns["user"]], None, 1),
        (cfg("wrong-secret", **{"entra.client_secret_file": str(wrong_secret)}), [lab.dns["user"]], None, 1),
        (cfg("unreachable", **{"entra.authority_host": "https://127.0.0.1:9",
                               "entra.graph_endpoint": "https://127.0.0.1:9"}), [lab.dns["user"]], None, 1),
        (cfg("cert", **cert_overrides(ce)), [lab.dns["user_special"]], None, 0),
        (cfg("cert-wrong-key-password", **cert_overrides(ce, wrong_key_pw)), [lab.dns["user"]], None, 1),
    ]
    outputs: list[str] = []
    for config, args, fault, expected in plans:
        if fault:
            lab.emulator.inject_fault(method=fault[0], path_regex=fault[1], status=fault[2], count=50)
        r = pybridge("-vv", "sync", "--config", str(config), "--progress", "json", *args)
        lab.emulator.reset() if fault else None
        assert r.code == expected, (args, r.stdout[-500:], r.stderr[-1500:])
        outputs += [r.stdout, r.stderr]
    quiet = [plans[i // 2][1] for i in range(0, len(outputs), 2) if "DEBUG: step 1 " not in outputs[i + 1]]
    assert quiet == [], quiet  # the debug logs really were on, in every run
    # the run history, its re-rendered reports and the scheduler read the same store
    runs = json.loads(pybridge("history", "list", "--config", str(main), "--json").stdout)
    assert len(runs) == 5  # the what-if run is not persisted
    for run in runs:
        for args in (["history", "show", run["id"], "--config", str(main)],
                     ["history", "show", run["id"], "--config", str(main), "--format", "graph"],
                     ["report", run["id"], "--config", str(main), "--report-dir", str(tmp_path / "main" / "again")]):
            r = pybridge("-vv", *args)
            assert r.code == 0, r.stderr
            outputs += [r.stdout, r.stderr]
    outputs.append(pybridge("scheduler", "get", "--config", str(main)).stdout)

    tokens = access_tokens(tmp_path)
    assert len(tokens) >= 2, "the emulator's tokens were not found in the msal token caches"
    created = [u.get("passwordProfile", {}).get("password") for u in lab.emulator.users.values()]
    needles = {"AD connector password": ad_password, "client secret": CLIENT_SECRET,
               "certificate key password": KEY_PASSWORD, "wrong AD password": WRONG_AD_PASSWORD,
               "wrong client secret": WRONG_CLIENT_SECRET}
    needles.update({f"private key piece {i}": piece for i, piece in enumerate(ce["key_pieces"])})
    needles.update({f"bearer token {i}": t for i, t in enumerate(tokens)})
    needles.update({f"token signature {i}": t.rsplit(".", 1)[-1] for i, t in enumerate(tokens)})
    needles.update({f"new user's password {i}": p for i, p in enumerate(created) if p and p != "***"})

    blobs = {f"output {i}": text.encode("utf-8", "replace") for i, text in enumerate(outputs)}
    token_caches = set(tmp_path.rglob("msal-token-cache-*.json"))
    for path in tmp_path.rglob("*"):
        if path.is_file() and path not in token_caches and "secrets" not in path.parts:
            blobs[str(path.relative_to(tmp_path))] = path.read_bytes()
    assert any(name.endswith(".db") for name in blobs) and any(name.endswith(".htm") for name in blobs)
    # the search would see them: the token caches (pybridge's own, owner-only) do hold the tokens
    assert all(any(t.encode() in c.read_bytes() for c in token_caches) for t in tokens)
    leaks = [(what, where) for what, secret in needles.items() for v in variants(secret)
             for where, blob in blobs.items() if v.encode() in blob]
    assert leaks == []


def test_exceptions_and_reprs_carry_no_secret(lab, tmp_path):
    """What pybridge raises and shows of its settings in-process: messages, reprs and context."""
    from pybridge import config as configlib
    from pybridge.engine import ad_session, graph_client
    from pybridge.errors import PyBridgeError

    ad_password = lab.info.connector_password_file.read_text().strip()
    bad = tmp_path / "bad"
    bad.write_text(WRONG_AD_PASSWORD + "\n")
    wrong = tmp_path / "wrong"
    wrong.write_text(WRONG_CLIENT_SECRET + "\n")
    bad.chmod(0o600)
    wrong.chmod(0o600)
    cfg = configlib.load(lab.config(tmp_path, **{
        "ad_connectors.0.account": {"username": lab.info.connector_username, "password_file": str(bad)},
        "entra.client_secret_file": str(wrong)}))
    (tmp_path / "good").mkdir()
    good = configlib.load(lab.config(tmp_path / "good"))
    texts = [repr(cfg), str(cfg), repr(good), str(good), repr(good.secrets())]
    raised = []
    with pytest.raises(PyBridgeError) as ad_error:
        ad_session(cfg.ad_connectors[0]).connect()
    raised.append(ad_error.value)
    with pytest.raises(PyBridgeError) as graph_error:
        graph_client(cfg).token()
    raised.append(graph_error.value)
    for exc in raised:
        texts += [str(exc), repr(exc), repr(exc.args), repr(exc.context), exc.recommended_action]
    blob = "\n".join(texts)
    for secret in (ad_password, CLIENT_SECRET, WRONG_AD_PASSWORD, WRONG_CLIENT_SECRET):
        assert secret not in blob


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_pybridge_creates_are_owner_only_even_under_umask_000(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"report.directory": None})  # reports in their default place, beside the state
    cfg_doc = yaml.safe_load(cfg.read_text())
    cfg_doc.pop("report", None)
    cfg.write_text(yaml.safe_dump(cfg_doc))
    r = pybridge("sync", "--config", str(cfg), lab.dns["user"], umask=0)
    assert r.code == 0, r.stderr
    state = Path(cfg_doc["state"]["path"])
    report = Path(r.json["ReportPath"])
    again = Path(pybridge("report", json.loads(pybridge("history", "list", "--config", str(cfg), "--json")
                                               .stdout)[0]["id"], "--config", str(cfg), umask=0).stdout.strip())
    caches = list(state.parent.glob("msal-token-cache-*.json"))
    assert caches, "no token cache was written"
    files = [state, state.with_suffix(".lock"), report, again, *caches]
    dirs = [state.parent, report.parent, again.parent]
    assert {str(p): oct(mode(p)) for p in files} == {str(p): oct(0o600) for p in files}
    assert {str(p): oct(mode(p)) for p in dirs} == {str(p): oct(0o700) for p in dirs}
    # nothing else pybridge left beside the state is readable by others
    for p in state.parent.rglob("*"):
        assert mode(p) & 0o077 == 0, (p, oct(mode(p)))


def test_lab_secrets_are_owner_only(lab):
    from pybridge_lab.ca import create_ca
    ca = create_ca(lab.root / "ca")
    files = [lab.info.connector_password_file, lab.info.admin_password_file, ca.key, lab.secret_file]
    assert {str(p): oct(mode(p)) for p in files} == {str(p): oct(0o600) for p in files}
    assert oct(mode(lab.info.connector_password_file.parent)) == oct(0o700)


# -- TLS -------------------------------------------------------------------------------------------------

AD_WARNING = "TLS certificate validation is OFF for AD connector"
GRAPH_WARNING = "TLS certificate validation is OFF for Microsoft Graph"


def test_tls_validation_off_needs_a_setting_and_warns_on_every_run(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"ad_connectors.0.tls": {"validate": False}, "entra.verify_tls": False,
                                  "entra.ca_file": None})
    runs = [pybridge("sync", "--config", str(cfg), lab.dns["user"]),
            pybridge("sync", "--config", str(cfg), lab.dns["user"], "--what-if"),
            pybridge("sync", "--config", str(cfg), "CN=Nobody,OU=Users,OU=Corp,DC=contoso,DC=com"),
            pybridge("sync", "--config", str(cfg), lab.dns["user_excluded"])]
    assert [r.code for r in runs] == [0, 0, 1, 3]  # validation really is off: the lab CA is trusted nowhere
    for r in runs:
        assert r.stderr.count("pybridge: WARNING: " + AD_WARNING) == 1, r.stderr
        assert r.stderr.count("pybridge: WARNING: " + GRAPH_WARNING) == 1, r.stderr
        assert "WARNING" not in r.stdout
        r.json  # stdout is still exactly one JSON document


def test_tls_validation_is_on_by_default(lab, tmp_path):
    from pybridge_lab.ca import create_ca
    other = create_ca(tmp_path / "other-ca")
    # no CA file anywhere: the system store does not know the lab's CA, so both sides must refuse
    no_ca = lab.config(tmp_path, **{"ad_connectors.0.tls": {}, "entra.ca_file": None})
    r = run_cli("sync", "--config", str(no_ca), lab.dns["user"])
    assert r.code == 1 and r.step(2)["Status"] == "Failure", r.json["StatusInfo"]
    assert r.json["StatusInfo"]["ErrorCode"] == "GraphUnavailable"
    assert "validation is OFF" not in r.stderr
    assert lab.emulator.requests == []  # the TLS handshake failed: no request reached the emulator
    ad_only = lab.config(tmp_path, **{"ad_connectors.0.tls": {}})
    r = run_cli("sync", "--config", str(ad_only), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "LdapTlsValidationFailed"
    assert "validation is OFF" not in r.stderr
    # a CA file of another CA for Graph: refused as well
    other_graph = lab.config(tmp_path, **{"entra.ca_file": str(other.cert)})
    r = run_cli("sync", "--config", str(other_graph), lab.dns["user"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "GraphUnavailable"
    # the defaults of the settings themselves
    from pybridge import config as configlib
    from pybridge.remote.settings import BUILTIN
    loaded = configlib.load(lab.config(tmp_path, **{"ad_connectors.0.tls": {}}))
    assert loaded.ad_connectors[0].tls.validate is True and loaded.entra.verify_tls is True
    assert loaded.warnings == ()
    assert BUILTIN.validate_tls is True


@pytest.mark.parametrize("which", ["ad-password", "client-secret"])
def test_secrets_in_variables_ending_in_a_line_end_work(lab, tmp_path, which):
    """A correct password or client secret set from a file or a Windows shell often ends in CR LF; pybridge
    drops line ends (not other white space) from a variable's value, as it does from a secret file's line."""
    cfg = lab.config(tmp_path)
    doc = yaml.safe_load(cfg.read_text())
    if which == "ad-password":
        value = lab.info.connector_password_file.read_text().strip()
        doc["ad_connectors"][0]["account"] = {"username": lab.info.connector_username,
                                              "password_env": "PYBRIDGE_T_SECRET"}
    else:
        value = CLIENT_SECRET
        doc["entra"].pop("client_secret_file")
        doc["entra"]["client_secret_env"] = "PYBRIDGE_T_SECRET"
    cfg.write_text(yaml.safe_dump(doc))
    proc = subprocess.run([sys.executable, "-m", "pybridge", "sync", "--config", str(cfg), "--no-html-report",
                           lab.dns["user"]], cwd=REPO, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYBRIDGE_T_SECRET": value + "\r\n"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads(proc.stdout)["StatusInfo"]["Status"] == "Success"
    assert value not in proc.stdout + proc.stderr


def test_a_password_with_control_characters_is_an_authentication_error_not_an_internal_one(lab, tmp_path):
    cfg = lab.config(tmp_path)
    doc = yaml.safe_load(cfg.read_text())
    doc["ad_connectors"][0]["account"] = {"username": lab.info.connector_username, "password_env": "PYBRIDGE_T_PW"}
    cfg.write_text(yaml.safe_dump(doc))
    proc = subprocess.run([sys.executable, "-m", "pybridge", "sync", "--config", str(cfg), "--no-html-report",
                           lab.dns["user"]], cwd=REPO, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYBRIDGE_T_PW": "Pa55\tw\x07rd"})
    assert proc.returncode == 1, proc.stderr
    info = json.loads(proc.stdout)["StatusInfo"]
    assert info["ErrorCode"] == "LdapAuthenticationFailed" and "control characters" in info["Reason"]
    assert "PYBRIDGE_T_PW" in info["RecommendedAction"] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("spelling", [
    "CN=Xavier Excluded,OU=Excluded\\ ,OU=Corp,DC=contoso,DC=com",    # an escaped trailing space
    "CN=Xavier Excluded,OU=Excluded\\20,OU=Corp,DC=contoso,DC=com",   # the same space as hex
    "cn=xavier excluded,ou=excluded,ou=corp,dc=contoso,dc=com",       # another case
    "CN=Xavier Excluded, OU=Excluded , OU=Corp, DC=contoso, DC=com",  # RFC 4514's optional spaces
])
def test_no_spelling_of_a_dn_moves_an_excluded_object_into_scope(lab, tmp_path, spelling):
    """Scope is decided again on the DN the directory returns: the DC resolves each spelling to the excluded
    user, and the run stops at the container scoping, writing nothing to Entra ID."""
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "--no-html-report", spelling)
    assert r.code == 3, (r.stdout, r.stderr)
    status = r.json["StatusInfo"]
    assert (status["Status"], status["ErrorCode"]) == ("Skipped", "ContainerNotInScope"), status
    assert [req for req in lab.emulator.requests if req["method"] != "GET" and "/oauth2/" not in req["path"]] == []
