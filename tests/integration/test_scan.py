"""`pybridge scan` and batch `pybridge sync` against the Samba lab and the Graph emulator.

A scan gives each object exactly the result a single staging run gives, writes nothing to Entra ID or to
the state (but its history record), finds what only a whole view can see, and survives throttling.
"""
from __future__ import annotations

import copy
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import run_cli
from tests.integration.test_rules_lab import new_user

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BASE = "DC=contoso,DC=com"
VOLATILE_DETAILS = {"Connected Object in Metaverse"}  # a new metaverse id per run for objects not yet synced


def lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def comparable(doc: dict) -> dict:
    """A result without what differs between any two runs: times and new metaverse ids."""
    doc = copy.deepcopy(doc)
    doc.pop("StartTime", None)
    doc.pop("EndTime", None)
    doc.pop("ReportPath", None)
    for step in doc["ProvisioningSteps"]:
        step.pop("Timestamp", None)
        for key in VOLATILE_DETAILS:
            step["Details"].pop(key, None)
    return doc


def state_rows(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall())  # noqa: S608 - fixed names
                for t in ("connector_space", "metaverse", "joins", "pending_creates", "scheduler")}
    finally:
        conn.close()


def graph_writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] != "GET" and "/oauth2/" not in r["path"]]


def test_a_scan_gives_each_object_what_a_single_staging_run_gives_and_writes_nothing(lab, tmp_path):
    cfg = lab.config(tmp_path / "scan")
    assert run_cli("sync", "--config", str(cfg), "--no-html-report", lab.dns["user"]).code == 0  # one joined
    state = tmp_path / "scan" / "state" / "pybridge.db"
    before = state_rows(state)
    lab.emulator.clear_log()
    scan = run_cli("scan", "--config", str(cfg), "--no-html-report")
    docs = lines(scan.stdout)
    assert scan.code == 1, scan.stderr  # the sample's contact cannot be written through Graph
    assert graph_writes(lab.emulator) == []
    assert state_rows(state) == before  # nothing but the scan's history record
    conn = sqlite3.connect(state)
    assert conn.execute("SELECT dn, staging FROM runs ORDER BY started DESC LIMIT 1").fetchone() == ("(scan)", 1)
    conn.close()
    scanned = {d["SourceIdentity"]["Name"] for d in docs}
    for key in ("user", "user_comma", "group", "contact"):
        assert lab.dns[key] in scanned, key
    assert f"pybridge scan: {len(docs)} object(s) scanned" in scan.stderr

    for n, doc in enumerate(docs):
        one = tmp_path / f"single{n}"
        single_cfg = lab.config(one)
        (one / "state").mkdir(parents=True, exist_ok=True)
        shutil.copy(state, one / "state" / "pybridge.db")
        single = run_cli("sync", "--config", str(single_cfg), "--staging-mode", "--no-html-report",
                         doc["SourceIdentity"]["Name"])
        assert comparable(single.json) == comparable(doc), doc["SourceIdentity"]["Name"]


def test_whole_view_problems_two_objects_one_address_and_two_objects_one_soft_match(lab, tmp_path):
    cloud = lab.emulator.add_user(userPrincipalName="kim.lee@contoso.com", displayName="Kim (cloud)",
                                  mailNickname="kimcloud", accountEnabled=True,
                                  proxyAddresses=["SMTP:kim.primary@contoso.com"], mail="kim.primary@contoso.com")
    with new_user(lab, "Dup One", "dupone", proxyAddresses=["SMTP:dup.one@contoso.com", "smtp:shared@contoso.com"],
                  mail="dup.one@contoso.com") as one, \
            new_user(lab, "Dup Two", "duptwo", proxyAddresses=["SMTP:dup.two@contoso.com", "smtp:shared@contoso.com"],
                     mail="dup.two@contoso.com") as two, \
            new_user(lab, "Kim Lee", "kim.lee") as kim_by_upn, \
            new_user(lab, "Kim Primary", "kimp", mail="kim.primary@contoso.com",
                     proxyAddresses=["SMTP:kim.primary@contoso.com"]) as kim_by_mail:
        scan = run_cli("scan", "--config", str(lab.config(tmp_path)), "--report-dir", str(tmp_path / "reports"))
    assert scan.code == 1
    assert "AttributeValueMustBeUnique across objects" in scan.stderr and '"shared@contoso.com"' in scan.stderr
    assert one in scan.stderr and two in scan.stderr
    assert "InvalidSoftMatch across objects" in scan.stderr and cloud["id"] in scan.stderr
    assert kim_by_upn in scan.stderr and kim_by_mail in scan.stderr
    (report,) = (tmp_path / "reports").glob("PyBridgeScanSummary-*.htm")
    page = report.read_text(encoding="utf-8")
    assert "Problems across objects" in page and "shared@contoso.com" in page and cloud["id"] in page


def test_scan_options_narrow_and_reshape_the_output(lab, tmp_path):
    cfg = str(lab.config(tmp_path))
    problems = run_cli("scan", "--config", cfg, "--no-html-report", "--only-problems")
    assert problems.code == 1 and lines(problems.stdout)
    assert all(d["StatusInfo"]["Status"] != "Success" for d in lines(problems.stdout))
    assert len(lines(run_cli("scan", "--config", cfg, "--no-html-report", "--limit", "2").stdout)) == 2
    groups = lines(run_cli("scan", "--config", cfg, "--no-html-report", "--object-type", "group").stdout)
    assert groups and {d["SourceIdentity"]["Type"] for d in groups} == {"group"}
    under = lines(run_cli("scan", "--config", cfg, "--no-html-report", "--search-base",
                          f"OU=Groups,OU=Corp,{BASE}").stdout)
    assert under and all(",OU=Groups,OU=Corp," in d["SourceIdentity"]["Name"] for d in under)
    graph = lines(run_cli("scan", "--config", cfg, "--no-html-report", "--format", "graph", "--limit", "1").stdout)
    assert graph[0]["provisioningSteps"][0]["name"] == "ScopingDomain"
    missing = run_cli("scan", "--config", cfg, "--no-html-report", "--search-base", f"OU=Nowhere,OU=Corp,{BASE}",
                      "--search-base", f"OU=Groups,OU=Corp,{BASE}")
    assert missing.code == 1 and "could not search OU=Nowhere" in missing.stderr
    assert [comparable(d) for d in lines(missing.stdout)] == [comparable(d) for d in under]  # scanned all the same
    for bad in (["--limit", "0"], ["--search-base", "not a dn"], ["--search-base", "OU=X,DC=fabrikam,DC=com"],
                ["--object-type", "printer"]):
        assert run_cli("scan", "--config", cfg, *bad).code == 2, bad


def test_throttling_slows_a_scan_but_every_object_gets_its_result(lab, tmp_path):
    cfg = str(lab.config(tmp_path))
    baseline = lines(run_cli("scan", "--config", cfg, "--no-html-report").stdout)
    lab.emulator.clear_log()
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/users$", status=429, retry_after=1, count=2)
    throttled = run_cli("scan", "--config", cfg, "--no-html-report")
    assert [d["SourceIdentity"]["Name"] for d in lines(throttled.stdout)] == \
        [d["SourceIdentity"]["Name"] for d in baseline]
    assert [r["status"] for r in lab.emulator.requests if r["path"] == "/v1.0/users"][:3] == [429, 429, 200]


def test_sigint_stops_a_scan_cleanly_with_the_summary(lab, tmp_path):
    cfg = lab.config(tmp_path)
    lab.emulator.inject_fault(method="GET", path_regex=r"^/v1\.0/groups$", status=None, delay=20)
    proc = subprocess.Popen([sys.executable, "-m", "pybridge", "scan", "--config", str(cfg), "--no-html-report"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(r["path"] == "/v1.0/groups" for r in lab.emulator.requests):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "object(s) scanned" in err


def test_batch_sync_runs_many_objects_in_one_process(lab, tmp_path):
    cfg = str(lab.config(tmp_path))
    dns = [lab.dns["user"], lab.dns["group"], f"CN=Nobody,OU=Users,OU=Corp,{BASE}", lab.dns["user_comma"]]
    lab.emulator.clear_log()
    r = run_cli("sync", "--config", cfg, "--staging-mode", "--no-html-report", *dns)
    docs = lines(r.stdout)
    assert [d["SourceIdentity"]["Name"] for d in docs][:2] == dns[:2] and len(docs) == 4
    assert [d["StatusInfo"]["Status"] for d in docs] == ["Success", "Success", "Failure", "Success"]
    assert r.code == 1  # the worst object's code
    assert sum(1 for q in lab.emulator.requests if q["path"].endswith("/oauth2/v2.0/token")) <= 1

    listing = tmp_path / "dns.txt"
    listing.write_bytes((lab.dns["user"] + "\r\n\r\n" + lab.dns["group"] + "\r\n").encode("utf-8"))
    proc = subprocess.run([sys.executable, "-m", "pybridge", "sync", "--config", cfg, "--staging-mode",
                           "--no-html-report", "--input", "-"], cwd=REPO, input=listing.read_text(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [d["SourceIdentity"]["Name"] for d in lines(proc.stdout)] == [lab.dns["user"], lab.dns["group"]]
    from_file = run_cli("sync", "--config", cfg, "--staging-mode", "--no-html-report", "--input", str(listing))
    assert [d["SourceIdentity"]["Name"] for d in lines(from_file.stdout)] == [lab.dns["user"], lab.dns["group"]]
    # the file's runs were committed as one group (nothing written to Entra ID): every one is in the history
    history = json.loads(run_cli("history", "list", "--config", cfg, "--json", "--limit", "20").stdout)
    assert [(h["dn"], h["staging"]) for h in history[:2]] == [(lab.dns["group"], 1), (lab.dns["user"], 1)]

    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nad_connectors: oops\n")
    bad = run_cli("sync", "--config", str(broken), *dns[:2])
    assert bad.code == 2 and [d["StatusInfo"]["ErrorCode"] for d in lines(bad.stdout)] == ["ConfigurationError"] * 2


def test_idfix_values_and_joins_to_deleted_objects_are_found_as_a_single_run_finds_them(lab, tmp_path):
    cfg = str(lab.config(tmp_path))
    with new_user(lab, "Bad Alias", "badalias", mail="bad.alias@contoso.com",
                  proxyAddresses=["SMTP:bad.alias@contoso.com", "smtp:bad alias@contoso.com"]) as bad, \
            new_user(lab, "Gone Cloud", "gonecloud") as gone:
        created = run_cli("sync", "--config", cfg, "--no-html-report", gone)
        assert created.code == 0, created.stderr
        lab.emulator.delete_object(json.loads(created.stdout)["TargetIdentity"]["Id"])
        scan = run_cli("scan", "--config", cfg, "--no-html-report", "--search-base", f"OU=Users,OU=Corp,{BASE}")
        single = {dn: json.loads(run_cli("sync", "--config", cfg, "--no-html-report", "--staging-mode",
                                         dn).stdout) for dn in (bad, gone)}
    by_dn = {d["SourceIdentity"]["Name"]: d for d in lines(scan.stdout)}
    assert by_dn[bad]["StatusInfo"]["ErrorCode"] == "IdentityDataValidationFailed"
    assert "smtp:bad alias@contoso.com" in by_dn[bad]["StatusInfo"]["Reason"]
    for dn in (bad, gone):
        assert comparable(by_dn[dn]) == comparable(single[dn]), dn
    assert "joined to an Entra object that no longer exists" in scan.stderr and gone in scan.stderr
    assert scan.code == 1


def test_hostile_values_reach_the_scan_summary_escaped(lab, tmp_path):
    """A DN holding ESC and a bidi override is printed escaped on stderr (it cannot repaint the summary),
    while the JSON on stdout keeps it exact."""
    with new_user(lab, "Evil\x1b[2J\u202e Name", "evilname", mail="evil.name@contoso.com",
                  proxyAddresses=["SMTP:evil.name@contoso.com", "smtp:evil name@contoso.com"]) as evil:
        scan = run_cli("scan", "--config", str(lab.config(tmp_path)), "--no-html-report", "--only-problems",
                       "--limit", "50")
    assert scan.code == 1
    assert "\x1b" not in scan.stderr and "\u202e" not in scan.stderr
    assert "Evil\\x1b[2J\\u202e Name" in scan.stderr  # the failure is listed, visibly escaped
    assert evil in [d["SourceIdentity"]["Name"] for d in lines(scan.stdout)]
