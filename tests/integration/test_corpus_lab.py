"""The bad-input corpus against the lab: every DN of tests/data/dns.json through `pybridge sync`, and the
directory data of tests/data/directory.json put on a real AD user and synced.

A DN ends as the corpus says - InvalidDistinguishedName at step 1, or (valid but absent)
ObjectNotAccessible at step 4 / PartitionNotInScope at step 1, or Success for the lab's sample objects
spelled another way - always with exit code 1 (0 for Success), one JSON document and no traceback. The
object is read by a BASE search on the DN, so no DN text ever reaches a filter: every LDAP search pybridge
sends is recorded and checked.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from tests.integration.conftest import Run, run_cli
from tests.unit.test_corpus import corpus_params, expand_dn

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALLOWED_FILTERS = {"(objectClass=*)"}


@pytest.fixture
def searches(monkeypatch):
    """Every LDAP search sent while the test runs: (base, filter, scope)."""
    seen: list[tuple[str, str, str]] = []
    original = ldap3.Connection.search

    def recording(self, search_base, search_filter, search_scope=ldap3.SUBTREE, *args, **kwargs):
        seen.append((search_base, search_filter, search_scope))
        return original(self, search_base, search_filter, search_scope, *args, **kwargs)
    monkeypatch.setattr(ldap3.Connection, "search", recording)
    return seen


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"].startswith("/v1.0/")]


# -- DNs ------------------------------------------------------------------------------------------------------

def lab_params() -> list:
    """corpus_params, with the entries whose "lab_bug" says what goes wrong against a DC as strict xfails."""
    out = []
    for p in corpus_params("dns.json", "why"):
        entry = p.values[0]
        marks = list(p.marks)
        if entry.get("lab_bug"):
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason="BUG: " + entry["lab_bug"]))
        out.append(pytest.param(entry, id=p.id, marks=marks))
    return out


@pytest.mark.parametrize("entry", lab_params())
def test_dn_corpus_through_pybridge_sync(lab, tmp_path, searches, entry):
    text = expand_dn(entry)
    cfg = lab.config(tmp_path)
    try:
        r = run_cli("sync", "--config", str(cfg), "--what-if", "--no-html-report", text)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"main() raised {type(exc).__name__}: {exc}") from exc
    assert "Traceback" not in r.stderr, r.stderr
    doc = r.json  # exactly one JSON document
    info = doc["StatusInfo"]
    assert doc["SourceIdentity"]["Name"] is not None
    if entry.get("lab"):  # what the lab answers, where it differs from what core.dn says of the text
        expected = entry["lab"]
        step = entry.get("lab_step") or {"PartitionNotInScope": 1, "Success": None}[expected]
    elif entry["expect"] == "InvalidDistinguishedName":
        expected, step = "InvalidDistinguishedName", 1
    else:
        expected, step = "ObjectNotAccessible", 4
    if expected == "Success":
        assert r.code == 0, (info, r.stderr)
        assert info["Status"] == "Success"
    else:
        assert r.code == 1, (r.code, info)
        assert info["ErrorCode"] == expected, info
        assert doc["ProvisioningSteps"][step - 1]["Status"] == "Failure"
        assert all(s["Status"] == "Skipped" for s in doc["ProvisioningSteps"][step:])
        assert info["RecommendedAction"]
        assert len(r.stdout) < len(text) * 8 + 20000  # the DN is echoed, not multiplied
    # no DN text in a filter, and only BASE reads of the DN (or of a sample object the DN names)
    for base, filt, scope in searches:
        assert filt in ALLOWED_FILTERS, filt
        assert scope == ldap3.BASE
    if expected == "ObjectNotAccessible":
        assert [b for b, _, _ in searches] == [text]
    assert writes(lab.emulator) == []


def test_invalid_utf8_in_argv_gives_a_json_result(lab, tmp_path):
    """Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape): the result is still one
    JSON document with InvalidDistinguishedName, as a runbook piping it into ConvertFrom-Json expects."""
    cfg = lab.config(tmp_path)
    dn = b"CN=J\xff\xfene Doe,OU=Users,OU=Corp,DC=contoso,DC=com"
    proc = subprocess.run([os.fsencode(sys.executable), b"-m", b"pybridge", b"sync", b"--config",
                           os.fsencode(cfg), b"--what-if", dn], cwd=REPO, capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1 and "Traceback" not in err, err
    doc = Run(proc.returncode, out, err).json
    assert doc["StatusInfo"]["ErrorCode"] == "InvalidDistinguishedName"


def _ensure_user(conn: ldap3.Connection, dn: str, sam: str) -> None:
    conn.delete(dn)
    ok = conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                  {"sAMAccountName": sam, "userPrincipalName": f"{sam}@contoso.com", "displayName": sam,
                   "givenName": "Corpus", "sn": "Subject", "mail": f"{sam}@contoso.com", "mailNickname": sam})
    assert ok, conn.result


@pytest.fixture
def team1(lab):
    """A user named 'Team#1': the DC prints its DN as CN=Team\\#1,... and also finds it as CN=Team#1,..."""
    conn = lab.dc.connection()
    dn = "CN=Team\\#1,OU=Users,OU=Corp," + lab.info.base_dn
    _ensure_user(conn, dn, "team1")
    try:
        yield dn
    finally:
        conn.delete(dn)
        conn.unbind()


def test_object_with_hash_in_its_name_syncs_by_the_dn_the_dc_prints(lab, tmp_path, team1):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "--what-if", team1)
    assert r.code == 0, r.json["StatusInfo"]


def test_object_with_hash_in_its_name_syncs_by_the_rfc4514_dn(lab, tmp_path, team1):
    typed = team1.replace("\\#", "#")
    conn = lab.dc.connection()
    try:
        conn.search(typed, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
        assert conn.result["description"] == "success"  # the DC itself takes the DN
    finally:
        conn.unbind()
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), "--what-if", typed)
    assert r.code == 0, r.json["StatusInfo"]


# -- directory data --------------------------------------------------------------------------------------

SUBJECT_SAM = "corpussubj"


def _values(spec: Any) -> list[Any]:
    if isinstance(spec, list):
        return spec
    if "bytes" in spec:
        n = spec["bytes"]
        return [bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes((i * 31 + 7) % 256 for i in range(n - 4))]
    if "raw" in spec:
        return [bytes.fromhex(spec["raw"])]
    values = [spec["format"].format(i=i) for i in range(spec["count"])]
    return ([spec["first"]] if "first" in spec else []) + values


@pytest.fixture
def subject(lab):
    """A fresh user for the corpus, removed afterwards."""
    dn = f"CN=Corpus Subject,OU=Users,OU=Corp,{lab.info.base_dn}"
    conn = lab.dc.connection()
    _ensure_user(conn, dn, SUBJECT_SAM)
    try:
        yield dn, conn
    finally:
        conn.delete(dn)
        conn.unbind()


@pytest.mark.parametrize("entry", corpus_params("directory.json", "name"))
def test_directory_data_corpus(lab, tmp_path, subject, entry):
    dn, conn = subject
    expect = entry["expect"]
    if expect.get("dc_refuses"):
        for name, spec in entry["attributes"].items():
            assert not conn.modify(dn, {name: [(ldap3.MODIFY_REPLACE, _values(spec))]})
            assert conn.result["description"] == expect["dc_refuses"], conn.result
        return
    for name, spec in entry["attributes"].items():
        if not conn.modify(dn, {name: [(ldap3.MODIFY_REPLACE, _values(spec))]}):
            if entry.get("dc_may_refuse"):
                pytest.skip(f"the DC refuses this value of {name}: {conn.result.get('description')}")
            raise AssertionError(f"the DC refused {name}: {conn.result}")
    cfg = lab.config(tmp_path)
    t0 = time.monotonic()
    r = run_cli("sync", "--config", str(cfg), dn)
    elapsed = time.monotonic() - t0
    assert "Traceback" not in r.stderr, r.stderr
    doc = r.json  # valid JSON, one document
    json.loads(doc["ProvisioningSteps"][9]["Details"].get("AttributeInfoJson", "[]"))  # the double encoding too
    info = doc["StatusInfo"]
    assert r.code == expect["exit"], (info, r.stderr[-2000:])
    assert elapsed < expect.get("max_seconds", 60)
    if expect.get("error_code"):
        assert info["ErrorCode"] == expect["error_code"]
        assert doc["ProvisioningSteps"][expect["step"] - 1]["Status"] == "Failure"
        assert expect["reason"] in info["Reason"], info["Reason"]
    if expect.get("no_writes"):
        assert writes(lab.emulator) == []
    if expect.get("entra"):
        user = lab.emulator.get_object(doc["TargetIdentity"]["Id"])
        for k, v in expect["entra"].items():
            assert user[k] == v, (k, user[k])
    report = Path(doc["ReportPath"]).read_text(encoding="utf-8")
    for raw in expect.get("report_raw_absent", []):
        assert raw not in report, raw
    for text in expect.get("report_present", []):
        assert text in report, text
    assert len(report) < 5_000_000
    state = Path(yaml.safe_load(cfg.read_text())["state"]["path"])
    import sqlite3
    db = sqlite3.connect(state)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for attr, count in expect.get("metaverse_count", {}).items():
            (attrs,) = db.execute("SELECT attributes FROM metaverse").fetchone()
            stored = {k.lower(): v for k, v in json.loads(attrs).items()}
            assert len(stored[attr.lower()]) == count
        assert db.execute("SELECT status FROM runs").fetchall() == [(info["Status"],)]
    finally:
        db.close()
