"""The real `pybridge` process as a newcomer and a runbook drive it, against the Samba DC and the Graph emulator.

DNs as runbooks pass them and other identities instead of a DN; what stderr says while a run works (waits,
staging, warnings, connection errors); `config check`; rules without a configuration; the scheduler
warning; and control characters from AD that must never reach the terminal raw.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from pybridge.platform import FileLock
from pybridge.terminal import BIDI_CONTROLS
from tests.integration.conftest import HOST

pytestmark = pytest.mark.integration


@dataclass
class Proc:
    code: int
    stdout: bytes
    raw_err: bytes

    @property
    def err(self) -> str:
        return self.raw_err.decode("utf-8", errors="replace")

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def json(self) -> dict[str, Any]:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"one JSON document on stdout, got {len(lines)} lines"
        return json.loads(lines[0])


def pybridge(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Proc:
    done = subprocess.run([sys.executable, "-m", "pybridge", *args], capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    return Proc(done.returncode, done.stdout, done.stderr)


def sync(cfg: Path, *args: str, env: dict[str, str] | None = None) -> Proc:
    return pybridge("sync", "--config", str(cfg), "--no-html-report", *args, env=env)


def config_in(lab, directory: Path, **overrides: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return lab.config(directory, **overrides)


def no_raw_controls(data: bytes) -> bool:
    text = data.decode("utf-8", errors="replace")
    return not [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0
                or ord(c) in BIDI_CONTROLS]


# -- 1. DNs as runbooks pass them -------------------------------------------------------------------------

@pytest.mark.parametrize("spelling,said", [
    (" {dn}", "removed leading white space around the argument"),
    ("{dn}\r\n", "removed a line end (CR LF) around the argument"),
    ("{dn}\n", "removed a line end (LF) around the argument"),
    ("CN=Jane Doe, OU=Users, OU=Corp, DC=contoso, DC=com", "removed the optional spaces around ',' and '='"),
])
def test_a_dn_as_runbooks_pass_it_syncs_the_object(lab, tmp_path, spelling, said):
    dn = lab.dns["user"]
    r = sync(lab.config(tmp_path), spelling.format(dn=dn))
    assert r.code == 0, r.err
    doc = r.json
    assert doc["StatusInfo"]["Status"] == "Success" and doc["Action"] == "Create"
    assert doc["SourceIdentity"]["Name"] == dn
    assert [s["Status"] for s in doc["ProvisioningSteps"]] == ["Success"] * 10
    assert f"pybridge: {said}" in r.err and dn in r.err
    assert "InternalError" not in r.err and "LDAPInvalidDnError" not in r.err


def _guid(lab, dn: str) -> str:
    conn = lab.dc.connection()
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["objectGUID"])
        return str(uuid.UUID(bytes_le=bytes(conn.response[0]["raw_attributes"]["objectGUID"][0])))
    finally:
        conn.unbind()


def test_a_upn_a_sam_account_name_or_a_guid_names_the_one_dn(lab, tmp_path):
    cfg = lab.config(tmp_path)
    guid = _guid(lab, lab.dns["user"])
    cases = [("jdoe@contoso.com", "userPrincipalName jdoe@contoso.com", lab.dns["user"]),
             ("CONTOSO\\jsmith", "sAMAccountName CONTOSO\\jsmith", lab.dns["user_comma"]),
             ("contoso.com\\rstar", "sAMAccountName contoso.com\\rstar", lab.dns["user_special"]),
             (guid, f"objectGUID {guid}", lab.dns["user"]),
             (f"<GUID={guid.upper()}>", f"objectGUID {guid.upper()}", lab.dns["user"]),
             (" jdoe@contoso.com\r\n", "userPrincipalName jdoe@contoso.com", lab.dns["user"])]
    for typed, named, dn in cases:
        r = sync(cfg, "--what-if", typed)
        assert r.code == 0, (typed, r.err)
        assert f"pybridge: {named} is {dn} (connector \"contoso.com\")" in r.err
        assert r.json["SourceIdentity"]["Name"] == dn


@pytest.mark.parametrize("typed,label", [
    ("nobody@contoso.com", "userPrincipalName"), ("CONTOSO\\nobody", "sAMAccountName"),
    ("FABRIKAM\\jdoe", "sAMAccountName"), ("00000000-0000-0000-0000-000000000001", "objectGUID"),
    ("*)(userPrincipalName=*", None),  # filter characters are escaped: no match, never every object
    ("*@contoso.com", "userPrincipalName"),
])
def test_an_identity_that_names_nothing_is_a_clear_failure(lab, tmp_path, typed, label):
    r = sync(lab.config(tmp_path), typed)
    assert r.code == 1
    info = r.json["StatusInfo"]
    if label is None:  # not an identity: refused as a DN
        assert info["ErrorCode"] == "InvalidDistinguishedName"
        return
    assert info["Status"] == "Failure" and info["ErrorCode"] == "IdentityNotFound"
    assert label in info["Reason"] and "DC=contoso,DC=com" in info["Reason"]
    assert info["RecommendedAction"] and "distinguished name" in info["RecommendedAction"]
    assert [s["Status"] for s in r.json["ProvisioningSteps"]] == ["Skipped"] * 10
    assert r.json["SourceIdentity"]["Name"] == typed
    assert "pybridge: Failure: IdentityNotFound:" in r.err
    assert lab.emulator.requests == []  # nothing was asked of Entra ID


# -- 3. stderr tells a person what is happening ------------------------------------------------------------

def test_a_throttled_sync_says_each_wait_its_cause_and_length(lab, tmp_path):
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=1, count=2)
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/domains$", status=503, count=1)
    r = sync(lab.config(tmp_path), lab.dns["user"])
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    throttled = [line for line in lines if "throttled" in line]
    assert throttled == [
        "pybridge: waiting 1 s, then trying again: Microsoft Graph throttled looking up users (429 Too Many "
        "Requests, Retry-After: 1) (1 s of at most 60 s of waiting in this run)",
        "pybridge: waiting 1 s, then trying again: Microsoft Graph throttled looking up users (429 Too Many "
        "Requests, Retry-After: 1) (2 s of at most 60 s of waiting in this run)"]
    unavailable = [line for line in lines if "503" in line]
    assert len(unavailable) == 1 and unavailable[0].startswith("pybridge: waiting ")
    assert "Microsoft Graph is unavailable for reading the tenant's domains (503 Service Unavailable, no " \
           "Retry-After: backing off)" in unavailable[0]
    # the waits come in order with the steps they hold up
    assert lines.index(throttled[0]) < next(i for i, line in enumerate(lines) if line.startswith("[ 8/10]"))


def test_connection_errors_are_said_in_pybridge_s_words(lab, tmp_path):
    cfg = lab.config(tmp_path, **{"entra.authority_host": "https://127.0.0.1:1",
                                  "entra.graph_endpoint": "https://127.0.0.1:1"})
    r = sync(cfg, lab.dns["user"])
    assert r.code == 1
    info = r.json["StatusInfo"]
    assert info["ErrorCode"] == "GraphUnavailable"
    assert "127.0.0.1:1 refused the connection" in info["Reason"]
    assert "pybridge: connecting again at once: 127.0.0.1:1 refused the connection" in r.err
    for raw in ("Retrying (Retry(", "HTTPSConnectionPool", "NewConnectionError", "Max retries exceeded",
                "Traceback", "Warning:"):
        assert raw not in r.err and raw not in info["Reason"], raw


def test_staging_and_what_if_are_unmistakable(lab, tmp_path):
    cfg = lab.config(tmp_path)
    staged = sync(cfg, "--staging-mode", lab.dns["user"])
    assert staged.code == 0, staged.err
    assert staged.err.splitlines()[0] == ("pybridge: STAGING MODE: nothing will be written to Entra ID; import and "
                                          "sync are committed to the local state (--staging-mode)")
    assert "[10/10] ExportSpecificObject (Export): Success (STAGING: nothing was written to Entra ID)" in staged.err
    assert staged.err.splitlines()[-1].startswith("pybridge: Success (STAGING: nothing was written to Entra ID")
    what_if = sync(cfg, "--what-if", lab.dns["user"])
    assert "pybridge: WHAT-IF: nothing will be written to Entra ID, and nothing to the local state" in what_if.err
    assert "(WHAT-IF: nothing was written to Entra ID or the local state)" in what_if.err
    configured = sync(config_in(lab, tmp_path / "c", **{"sync.staging_mode": True}), lab.dns["user"])
    assert "STAGING MODE" in configured.err and "sync.staging_mode: true in" in configured.err
    real = sync(config_in(lab, tmp_path / "r"), lab.dns["user"])
    assert "STAGING" not in real.err and "WHAT-IF" not in real.err
    creates = [r for r in lab.emulator.requests if r["method"] == "POST" and r["path"] == "/v1.0/users"]
    assert len(creates) == 1  # the real run's only


def test_unresolved_members_reach_stderr(lab, tmp_path):
    r = sync(lab.config(tmp_path), lab.dns["group"])
    assert r.code == 0, r.err
    warned = [line for line in r.err.splitlines() if line.startswith("pybridge: WARNING: ")]
    assert any("reference(s) could not be resolved" in w and lab.dns["user_comma"] in w for w in warned), r.err


def test_verbose_and_the_log_file_work_after_the_command(lab, tmp_path):
    cfg = lab.config(tmp_path)
    log = tmp_path / "run.log"
    r = pybridge("sync", lab.dns["user"], "--config", str(cfg), "--no-html-report", "-v", "--log-file", str(log))
    assert r.code == 0, r.err
    assert f"pybridge: INFO: configuration: {cfg}" in r.err and "pybridge: INFO: bound to ldaps://" in r.err
    logged = log.read_text(encoding="utf-8")
    assert "[10/10] ExportSpecificObject (Export): Success" in logged and "bound to ldaps://" in logged
    quiet = pybridge("-v", "sync", lab.dns["user"], "--config", str(cfg), "--no-html-report")
    assert "pybridge: INFO: configuration:" in quiet.err
    assert "INFO" not in sync(cfg, lab.dns["user"]).err


def test_waiting_for_the_lock_is_announced(lab, tmp_path):
    cfg = lab.config(tmp_path)
    state = Path(yaml.safe_load(cfg.read_text())["state"]["path"])
    lock = FileLock(state.with_suffix(".lock"))
    assert lock.try_acquire()  # a sync in progress, as another process would hold it
    proc = subprocess.Popen([sys.executable, "-m", "pybridge", "sync", "--config", str(cfg), "--no-html-report",
                             "--wait", "120", lab.dns["user"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    announced = threading.Event()
    err_lines: list[bytes] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            if b"waiting up to" in line:
                announced.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert announced.wait(120), b"".join(err_lines).decode()  # said while it waits, not afterwards
    finally:
        lock.release()
    out = proc.stdout.read() if proc.stdout else b""
    assert proc.wait(180) == 0
    reader.join(30)
    err = b"".join(err_lines).decode()
    assert f"pybridge: waiting up to 120 s: another sync holds the lock on state {state}; this one starts as " \
           "soon as it finishes" in err
    assert json.loads(out)["StatusInfo"]["Status"] == "Success"


# -- 4. no configuration where none is needed; config check ----------------------------------------------

def test_rules_list_and_show_without_any_configuration(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYBRIDGE_CONFIG": ""}
    listed = pybridge("rules", "list", env=env)
    assert listed.code == 0, listed.err
    assert "In from AD - User Join" in listed.out and "built-in rules" in listed.err
    shown = pybridge("rules", "show", "Out to AAD - User Identity", env=env)
    assert shown.code == 0 and json.loads(shown.stdout)["direction"] == "outbound"
    as_json = pybridge("rules", "list", "--json", env=env)
    assert {r["name"] for r in json.loads(as_json.stdout)} >= {"In from AD - User Join"}


def test_config_check_reports_each_part(lab, tmp_path):
    ok = pybridge("config", "check", "--config", str(lab.config(tmp_path)), "--json")
    assert ok.code == 0, ok.out + ok.err
    doc = json.loads(ok.stdout)
    assert doc["ok"] is True
    assert [c["check"] for c in doc["checks"]] == ["configuration", "domain controller", "token", "permissions",
                                                  "verified domains"]
    assert all(c["status"] == "ok" for c in doc["checks"])
    assert "User.ReadWrite.All" in doc["checks"][3]["detail"] and "contoso.com" in doc["checks"][4]["detail"]

    broken = config_in(lab, tmp_path / "b", **{"ad_connectors.0.servers": [f"ldaps://{HOST}:1", lab.info.ldaps_url]})
    failed = pybridge("config", "check", "--config", str(broken))
    assert failed.code == 1
    rows = failed.out.splitlines()
    assert rows[0].split() == ["STATUS", "CHECK", "TARGET", "DETAIL"]
    dc_rows = [row for row in rows if "domain controller" in row]
    assert dc_rows[0].startswith("FAILED") and f"ldaps://{HOST}:1" in dc_rows[0] and "fix:" in dc_rows[0]
    assert dc_rows[1].startswith("ok")
    assert "1 of 6 checks failed" in failed.err

    secret = tmp_path / "wrong-secret"
    secret.write_text("not-the-secret\n")
    secret.chmod(0o600)
    refused = pybridge("config", "check", "--config",
                       str(config_in(lab, tmp_path / "s", **{"entra.client_secret_file": str(secret)})), "--json")
    assert refused.code == 1
    token = next(c for c in json.loads(refused.stdout)["checks"] if c["check"] == "token")
    assert token["status"] == "failed" and token["fix"]
    assert "not-the-secret" not in refused.out + refused.err


# -- 5. the scheduler warning ------------------------------------------------------------------------------

def test_no_scheduler_warning_where_no_sync_cycle_can_run(lab, tmp_path):
    cfg = lab.config(tmp_path)
    first = sync(cfg, lab.dns["user"])
    assert first.code == 0 and "SyncCycleEnabled" not in first.err and "scheduler" not in first.err
    assert pybridge("scheduler", "set", "--config", str(cfg), "--sync-cycle-enabled", "true").code == 0
    again = sync(cfg, lab.dns["user"])
    assert again.code == 0 and "SyncCycleEnabled" not in again.err  # no Entra Connect on this machine


# -- issue 15, 6: terminal escape injection ----------------------------------------------------------------

HOSTILE_CN = "Mallory \x1b[2J\x1b[1;32mSuccess\x07 \u202eevil"
HOSTILE_TEXT = "User_\x1b[2J\x1b[1;32mSuccess\r\x08\u202eevil\u2066"


@pytest.fixture
def hostile_user(samba_lab):
    from pybridge_lab.samba import escape_rdn_value
    conn = samba_lab.dc.connection()
    dn = f"CN={escape_rdn_value(HOSTILE_CN)},OU=Users,OU=Corp,DC=contoso,DC=com"
    assert conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                    {"sAMAccountName": "mallory", "userPrincipalName": "mallory@contoso.com",
                     "displayName": "\x1b[2J\x1b[32mSuccess\x07\u202e", "adminDescription": HOSTILE_TEXT}), conn.result
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    as_returned = conn.response[0]["dn"]
    try:
        yield as_returned
    finally:
        conn.delete(dn)
        conn.unbind()


def test_control_characters_from_ad_never_reach_the_terminal_raw(lab, tmp_path, hostile_user):
    cfg = lab.config(tmp_path)
    r = sync(cfg, "mallory@contoso.com")
    assert r.code == 3  # adminDescription User_...: filtered by the default rules, as Entra Connect does
    assert no_raw_controls(r.raw_err), r.raw_err
    assert "\\x1b[2J\\x1b[1;32mSuccess\\x0d\\x08\\u202eevil\\u2066" in r.err  # the reason, visibly escaped
    assert "is CN=Mallory \\x1b[2J\\x1b[1" in r.err and "Success\\x07 \\u202eevil,OU=Users" in r.err
    doc = r.json  # stdout's JSON holds the values exactly
    assert doc["SourceIdentity"]["Name"] == hostile_user
    assert HOSTILE_TEXT in doc["StatusInfo"]["Reason"]

    listed = pybridge("history", "list", "--config", str(cfg))
    assert listed.code == 0 and no_raw_controls(listed.stdout)
    assert "Mallory \\x1b[2J" in listed.out
    header, row = listed.out.splitlines()[:2]
    assert row.index("FilteredObject") == header.index("ERROR CODE")
    as_json = json.loads(pybridge("history", "list", "--config", str(cfg), "--json").stdout)
    assert as_json[0]["dn"] == hostile_user


def test_rules_test_reads_the_object_named_as_sync_names_it(lab, tmp_path):
    cfg = str(lab.config(tmp_path))
    for typed in ("jdoe@contoso.com", "CONTOSO\\jdoe", " CN=Jane Doe, OU=Users, OU=Corp, DC=contoso, DC=com\r\n"):
        r = pybridge("rules", "test", "--config", cfg, "-e", "[sAMAccountName]", "-d", typed)
        assert r.code == 0, (typed, r.err)
        assert json.loads(r.stdout) == "jdoe"
    missing = pybridge("rules", "test", "--config", cfg, "-e", "[sAMAccountName]", "-d", "nobody@contoso.com")
    assert missing.code == 1 and "names no object" in missing.err
