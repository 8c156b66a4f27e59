"""Run history, re-rendered reports, the scheduler settings and the one-sync-at-a-time lock."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from pybridge.platform import FileLock
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_history_list_show_and_report(lab, tmp_path):
    cfg = lab.config(tmp_path)
    first = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    second = run_cli("sync", "--config", str(cfg), lab.dns["user_excluded"])
    assert (first.code, second.code) == (0, 3)
    listed = run_cli("history", "list", "--config", str(cfg), "--json")
    runs = json.loads(listed.stdout)
    assert [(r["dn"], r["action"], r["status"], r["error_code"]) for r in runs] == [
        (lab.dns["user_excluded"], "Other", "Skipped", "ContainerNotInScope"),
        (lab.dns["user"], "Create", "Success", None)]
    table = run_cli("history", "list", "--config", str(cfg))
    assert table.stdout.splitlines()[1].split()[1] == runs[0]["id"]

    shown = run_cli("history", "show", runs[1]["id"][:8], "--config", str(cfg))
    assert shown.code == 0
    assert shown.json["ProvisioningSteps"] == first.json["ProvisioningSteps"]
    assert shown.json["ReportPath"] == first.json["ReportPath"]
    as_graph = run_cli("history", "show", runs[1]["id"], "--config", str(cfg), "--format", "graph")
    assert as_graph.json["provisioningAction"] == "create" and as_graph.json["tenantId"] == lab.tenant_id

    out = tmp_path / "again"
    rendered = run_cli("report", runs[1]["id"], "--config", str(cfg), "--report-dir", str(out))
    assert rendered.code == 0
    page = Path(rendered.stdout.strip()).read_text()
    assert "ExportSpecificObject" in page and "jdoe@contoso.com" in page

    missing = run_cli("history", "show", "does-not-exist", "--config", str(cfg))
    assert missing.code == 2 and "no run with id" in missing.stderr


def test_history_is_purged_after_the_interval(lab, tmp_path):
    cfg = lab.config(tmp_path)
    assert run_cli("sync", "--config", str(cfg), lab.dns["user"], "--staging-mode").code == 0
    assert run_cli("scheduler", "set", "--config", str(cfg), "--purge-run-history-interval", "00:00:01").code == 0
    time.sleep(1.2)
    assert run_cli("sync", "--config", str(cfg), lab.dns["user"], "--staging-mode").code == 0
    runs = json.loads(run_cli("history", "list", "--config", str(cfg), "--json").stdout)
    assert len(runs) == 1


def test_scheduler_get_set_and_the_warning(lab, tmp_path, monkeypatch):
    cfg = lab.config(tmp_path, **{"sync.staging_mode": True})
    got = json.loads(run_cli("scheduler", "get", "--config", str(cfg)).stdout)
    assert got["SyncCycleEnabled"] is True and got["StagingModeEnabled"] is True
    assert got["SyncCycleInProgress"] is False
    assert list(got)[:3] == ["AllowedSyncCycleInterval", "CurrentlyEffectiveSyncCycleInterval",
                             "CustomizedSyncCycleInterval"]
    # the warning means something only where Entra Connect's own engine could run a cycle meanwhile
    from pybridge import platform
    monkeypatch.setattr(platform, "entra_connect_installed", lambda system=None: True)
    never_configured = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert "SyncCycleEnabled" not in never_configured.stderr
    assert run_cli("scheduler", "set", "--config", str(cfg), "--sync-cycle-enabled", "true").code == 0
    warned = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert "SyncCycleEnabled = True" in warned.stderr and "Entra Connect's sync engine is installed" in warned.stderr
    changed = run_cli("scheduler", "set", "--config", str(cfg), "--sync-cycle-enabled", "false",
                      "--customized-sync-cycle-interval", "01:00:00")
    doc = json.loads(changed.stdout)
    assert doc["SyncCycleEnabled"] is False and doc["CurrentlyEffectiveSyncCycleInterval"] == "01:00:00"
    quiet = run_cli("sync", "--config", str(cfg), lab.dns["user"])
    assert "SyncCycleEnabled" not in quiet.stderr
    bad = run_cli("scheduler", "set", "--config", str(cfg), "--customized-sync-cycle-interval", "00:05:00")
    assert bad.code == 2 and "at least 00:30:00" in bad.stderr


def test_a_second_sync_gets_the_lock_error_or_waits(lab, tmp_path):
    cfg = lab.config(tmp_path)
    state = Path(yaml.safe_load(cfg.read_text())["state"]["path"])
    lock = FileLock(state.with_suffix(".lock"))
    assert lock.try_acquire()  # a sync in progress, as another process would hold it
    try:
        busy = run_cli("sync", "--config", str(cfg), lab.dns["user"])
        assert busy.code == 1
        assert busy.json["StatusInfo"]["ErrorCode"] == "no-start-ma-already-running"
        assert "Another sync is running" in busy.json["StatusInfo"]["Reason"]
        assert json.loads(run_cli("scheduler", "get", "--config", str(cfg)).stdout)["SyncCycleInProgress"] is True
        assert lab.emulator.requests == []
        threading.Timer(0.5, lock.release).start()
        waited = run_cli("sync", "--config", str(cfg), lab.dns["user"], "--wait", "10")
        assert waited.code == 0 and waited.json["Action"] == "Create"
    finally:
        lock.release()
