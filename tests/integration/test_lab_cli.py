"""`pybridge lab up --sync`, `status` and `down` as a user runs them: separate processes, real servers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pybridge_lab.errors import LabError
from tests.support import missing_prerequisite

pytestmark = pytest.mark.integration
HOST = os.environ.get("PYBRIDGE_TEST_LAB_HOST", "127.0.0.41")


def pybridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybridge", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def test_lab_up_sync_status_down(tmp_path):
    from pybridge_lab.samba import check_prerequisites
    try:
        check_prerequisites()
    except LabError as exc:
        missing_prerequisite(f"needs root and Debian's samba packages: {exc}")
    lab = tmp_path / "lab"
    up = pybridge("lab", "--dir", str(lab), "up", "--host", HOST, "--sync")
    try:
        assert up.returncode == 0, up.stderr
        doc = json.loads(up.stdout)
        assert doc["Action"] == "Create" and doc["StatusInfo"]["Status"] == "Success"
        assert doc["SourceIdentity"]["Name"] == "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"
        config = lab / "pybridge.yaml"
        assert f"configuration written to {config}" in up.stderr
        state = json.loads((lab / "lab.json").read_text())
        assert (lab / "secrets" / "client-secret").stat().st_mode & 0o077 == 0

        status = pybridge("lab", "--dir", str(lab), "status")
        assert status.returncode == 0 and "samba: running" in status.stdout and "graph: running" in status.stdout
        # what a newcomer needs to go on: where it runs, the configuration, and the samples by --sync key
        assert f"host: {HOST}\n" in status.stdout and f"config: {config}\n" in status.stdout
        rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in status.stdout.splitlines()
                if line.startswith(("user", "group", "contact"))}
        assert rows["user"] == "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"
        assert rows["user_comma"] == "CN=Smith\\, John,OU=Users,OU=Corp,DC=contoso,DC=com"
        from pybridge_lab.cli import SAMPLES
        as_json = pybridge("--dir", str(lab), "lab", "status", "--json")  # --dir where a user may type it
        assert as_json.returncode == 0, as_json.stderr
        shown = json.loads(as_json.stdout)
        assert list(shown["samples"]) == list(SAMPLES) and shown["host"] == HOST
        assert shown["samples"]["group_pilot"] == "CN=Pilot Sync,OU=Groups,OU=Corp,DC=contoso,DC=com"

        # the written configuration is all a user needs: a second sync through it changes nothing
        again = pybridge("sync", "--config", str(config), "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["Action"] == "Other"
        # the emulator's admin API shows exactly one user created
        import requests
        objects = requests.get(f"{state['graph_url']}/_emulator/objects", verify=str(lab / "ca" / "ca.pem"),
                               timeout=10).json()
        users = objects["users"] if isinstance(objects, dict) else [o for o in objects if "userPrincipalName" in o]
        users = list(users.values()) if isinstance(users, dict) else users
        assert [u["userPrincipalName"] for u in users] == ["jdoe@contoso.com"]
    finally:
        down = pybridge("lab", "--dir", str(lab), "down")
    assert down.returncode == 0, down.stderr
    status = pybridge("lab", "--dir", str(lab), "status")
    assert status.returncode == 1 and "samba: stopped" in status.stdout and "graph: stopped" in status.stdout
    graph_pid = state["graph_pid"]
    assert not Path(f"/proc/{graph_pid}/cmdline").exists() or b"graph_emulator" not in \
        Path(f"/proc/{graph_pid}/cmdline").read_bytes()


def test_lab_without_root_or_samba_says_what_to_do(tmp_path, monkeypatch):
    from pybridge_lab import samba
    monkeypatch.setattr(samba, "_which", lambda name: None)
    from pybridge.cli import main
    import io
    from contextlib import redirect_stderr
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(["lab", "--dir", str(tmp_path / "lab"), "up"])
    assert code == 2
    assert "apt-get install samba" in err.getvalue()
