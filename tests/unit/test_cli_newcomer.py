"""The command line as a newcomer meets it: global options anywhere, no configuration where none is needed,
the documented example inside the package, aligned tables, a scheduler warning only where it means something."""
from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from pybridge import cli, platform
from pybridge.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_config(monkeypatch, tmp_path):
    """A newcomer's machine: no --config, no $PYBRIDGE_CONFIG, nothing in the platform's place."""
    monkeypatch.delenv("PYBRIDGE_CONFIG", raising=False)
    monkeypatch.setattr(platform, "config_path", lambda system=None: tmp_path / "nowhere" / "pybridge.yaml")


# -- global options: before or after the command, shown by every --help ------------------------------------

def _every_command(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*path, name))
                found += _every_command(sub, (*path, name))
    return found


def test_every_command_s_help_shows_the_global_options():
    parser, _ = cli._parser_for(["lab"])  # with the plugins, as `pybridge lab --help` builds it
    commands = _every_command(parser)
    assert ("history", "list") in commands and ("config", "check") in commands and ("lab", "status") in commands
    for command in commands:
        code, out, _ = run(*command, "--help")
        assert code == 0, command
        assert "global options (before or after the command)" in out, command
        assert "-v, --verbose" in out and "--log-file FILE" in out, command


@pytest.mark.parametrize("argv,verbosity,log", [
    (["-v", "history", "list"], 1, None),
    (["history", "list", "-v"], 1, None),
    (["history", "-v", "list", "-v"], 1, None),
    (["-v", "sync", "-vv", "CN=a,DC=b"], 3, None),
    (["--log-file", "a.log", "sync", "CN=a,DC=b"], 0, "a.log"),
    (["sync", "CN=a,DC=b", "--log-file", "b.log", "-v"], 1, "b.log"),
    (["--log-file", "a.log", "rules", "list", "--log-file", "b.log"], 0, "b.log"),
])
def test_global_options_work_before_and_after_the_command(argv, verbosity, log):
    parser, _ = cli._parser_for(list(argv))
    args = parser.parse_args(argv)
    assert cli.verbosity(args) == verbosity and cli.log_file(args) == log


def test_the_value_of_log_file_is_never_taken_for_the_command():
    assert cli._command_word(["--log-file", "sync", "rules", "list"]) == "rules"
    assert cli._command_word(["-v", "--log-file=x", "history"]) == "history"


def test_log_file_gets_what_stderr_gets(tmp_path, no_config):
    log = tmp_path / "run.log"
    code, _, err = run("rules", "list", "--log-file", str(log))
    assert code == 0 and "built-in rules" in err
    assert "built-in rules" in log.read_text(encoding="utf-8")


# -- rules without a configuration --------------------------------------------------------------------------

def test_rules_list_and_show_need_no_configuration(no_config):
    code, out, err = run("rules", "list")
    assert code == 0 and "In from AD - User Join" in out and "Out to AAD - User Identity" in out
    assert "built-in rules" in err
    code, out, _ = run("rules", "show", "In from AD - User Join")
    assert code == 0 and json.loads(out)["name"] == "In from AD - User Join"
    code, out, _ = run("rules", "test", "-e", "Left([givenName],1)", "--attributes", "-")
    assert code in (0, 2)  # needs stdin; never a configuration error
    code, _, err = run("rules", "test", "-e", "[x]", "-d", "CN=a,DC=b")  # reading AD does need one
    assert code == 2 and "configuration" in err


def test_rules_list_json_and_a_table_that_stays_aligned_on_long_names(tmp_path, no_config):
    rules_file = tmp_path / "long.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": [{
        "name": "In from AD - A rule whose name is much longer than any default rule's name, on purpose",
        "direction": "inbound", "source_object_type": "inetOrgPerson", "target_object_type": "person",
        "link_type": "Join", "precedence": 5,
        "flows": [{"target": "displayName", "type": "Expression", "expression": "[displayName]"}]}]}))
    config = yaml.safe_load((ROOT / "config" / "pybridge.example.yaml").read_text())
    config["rules"] = {"files": [str(rules_file)]}
    path = tmp_path / "pybridge.yaml"
    path.write_text(yaml.safe_dump(config))
    code, out, err = run("rules", "list", "--config", str(path), "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed[0]["precedence"] == 5 and listed[0]["name"].startswith("In from AD - A rule whose")
    assert set(listed[0]) == {"precedence", "direction", "sourceObjectType", "targetObjectType", "linkType",
                              "enabled", "name", "origin"}
    code, out, _ = run("rules", "list", "--config", str(path))
    lines = out.splitlines()
    assert len(lines) == len(listed) + 1
    name_at = lines[0].index("NAME")
    link_at = lines[0].index("LINK")
    for line, rule in zip(lines[1:], listed):
        assert line[name_at:] == rule["name"] and line[link_at:].startswith(rule["linkType"])


# -- the documented example, inside the package -------------------------------------------------------------

def test_the_packaged_example_is_the_documented_one():
    packaged = ROOT / "pybridge" / "data" / "pybridge.example.yaml"
    assert packaged.read_bytes() == (ROOT / "config" / "pybridge.example.yaml").read_bytes()
    code, out, _ = run("config", "example")
    assert code == 0 and out == packaged.read_text(encoding="utf-8")
    assert yaml.safe_load(out)["version"] == 1


def test_the_package_data_ships_the_example():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"data/*.yaml"' in text


def test_messages_point_to_config_example_not_to_the_source_tree(no_config):
    code, out, err = run("sync", "CN=a,DC=contoso,DC=com")
    assert code == 2 and "pybridge config example" in err and "config/pybridge.example.yaml" not in err
    doc = json.loads(out)
    assert "pybridge config example" in doc["StatusInfo"]["RecommendedAction"]


def test_config_check_of_a_broken_file_exits_2_with_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nad_connectors: 5\nentra: {}\n")
    code, out, err = run("config", "check", "--config", str(bad), "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["ok"] is False and [c["check"] for c in doc["checks"]] == ["configuration"]
    assert "ad_connectors" in doc["checks"][0]["detail"] and "entra.tenant_id" in doc["checks"][0]["detail"]
    assert "pybridge config example" in doc["checks"][0]["fix"]
    code, out, _ = run("config", "check", "--config", str(bad))
    assert code == 2 and out.startswith("STATUS") and "FAILED" in out


# -- the permissions config check compares ------------------------------------------------------------------

def test_permissions_ok_with_the_documented_set_and_its_equivalents():
    from pybridge.checks import permission_checks
    for roles in (["User.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All"],
                  ["Directory.ReadWrite.All"],
                  ["User.ReadWrite.All", "Group.ReadWrite.All", "Domain.Read.All", "RoleManagement.Read.Directory"],
                  ["user.readwrite.all", "group.readwrite.all", "directory.read.all"]):
        (check,) = permission_checks(roles, "t")
        assert check.ok, roles


@pytest.mark.parametrize("roles,missing", [
    (["User.ReadWrite.All", "Group.ReadWrite.All"], "Directory.Read.All"),
    (["User.ReadWrite.All", "Group.ReadWrite.All", "Domain.Read.All"], "Directory.Read.All"),
    (["Group.ReadWrite.All", "Directory.Read.All"], "User.ReadWrite.All"),
    (["User.Read.All"], "Group.ReadWrite.All"),
    (["User.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All"], "Group.Create"),
    ([], "User.ReadWrite.All"),
])
def test_missing_permissions_fail_with_the_one_to_add(roles, missing):
    from pybridge.checks import permission_checks
    (check,) = permission_checks(roles, "t")
    assert not check.ok and check.fix and missing in check.fix
    assert "admin consent" in check.fix


def test_a_token_without_roles_is_a_failed_check():
    from pybridge.checks import permission_checks
    (check,) = permission_checks(None, "t")
    assert not check.ok and "Application permissions" not in (check.detail or "") and "application" in check.fix


# -- the scheduler warning ----------------------------------------------------------------------------------

class _Store:
    def __init__(self, settings: dict) -> None:
        self._settings = settings

    def scheduler_settings(self) -> dict:
        return self._settings


@pytest.fixture
def entra_connect(monkeypatch, tmp_path):
    """A Windows server with Entra Connect's sync engine installed (its program in Program Files)."""
    engine = tmp_path.joinpath(*platform.ENTRA_CONNECT_ENGINE)
    engine.parent.mkdir(parents=True)
    engine.write_bytes(b"MZ")
    monkeypatch.setenv("ProgramFiles", str(tmp_path))
    return tmp_path


def test_the_scheduler_never_warns_where_it_was_never_configured(entra_connect):
    from pybridge.scheduler import concurrent_cycle_warning
    assert concurrent_cycle_warning(_Store({}), system="win32") is None
    assert concurrent_cycle_warning(_Store({"SyncCycleEnabled": False}), system="win32") is None


def test_the_scheduler_never_warns_where_no_entra_connect_can_run_a_cycle(tmp_path, monkeypatch):
    from pybridge.scheduler import concurrent_cycle_warning
    monkeypatch.setenv("ProgramFiles", str(tmp_path))
    assert concurrent_cycle_warning(_Store({"SyncCycleEnabled": True}), system="linux") is None
    assert concurrent_cycle_warning(_Store({"SyncCycleEnabled": True}), system="win32") is None  # not installed


def test_the_scheduler_warns_on_a_sync_server_with_the_scheduler_enabled(entra_connect):
    from pybridge.scheduler import concurrent_cycle_warning
    warning = concurrent_cycle_warning(_Store({"SyncCycleEnabled": True}), system="win32")
    assert warning and "Entra Connect's sync engine is installed" in warning
    assert "Set-ADSyncScheduler -SyncCycleEnabled $false" in warning and "export this object" in warning
    assert platform.entra_connect_installed("win32") and not platform.entra_connect_installed("linux")


# -- the lab's samples ----------------------------------------------------------------------------------------

def test_the_lab_lists_exactly_the_samples_it_seeds():
    from pybridge_lab import samba
    from pybridge_lab.cli import SAMPLES
    seeded = {u.key for u in samba._USERS} | {g[0] for g in samba._GROUPS} | {"connector", "contact"}
    assert set(SAMPLES) == seeded


def test_lab_help_lists_the_sample_keys():
    code, out, _ = run("lab", "--help")
    assert code == 0
    for key in ("user", "user_comma", "user_excluded", "group_pilot", "contact"):
        assert f"\n  {key} " in out
    code, out, _ = run("lab", "up", "--help")
    assert "user_nonascii" in out


def test_lab_dir_works_where_it_is_typed(tmp_path):
    lab = tmp_path / "lab"
    for argv in (["--dir", str(lab), "lab", "status"], [f"--dir={lab}", "-v", "lab", "status"],
                 ["lab", "--dir", str(lab), "status"], ["lab", "status", "--dir", str(lab)],
                 ["-v", "lab", "status", f"--dir={lab}"]):
        code, out, err = run(*argv)
        assert code == 1 and out == f"lab: no lab in {lab} (run: pybridge lab up)\n", (argv, err)  # 1: not running
    code, out, _ = run("lab", "status", "--dir", str(lab), "--json")
    assert json.loads(out) == {"lab": f"no lab in {lab} (run: pybridge lab up)"}
