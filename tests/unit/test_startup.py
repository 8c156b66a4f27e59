"""What one `pybridge sync` process loads before it runs: only what a sync on this machine needs.

Runbooks start one process per object, so every module a sync does not use is paid for on every run
(issue 16, docs/performance.md). Each test runs a fresh interpreter, does what `pybridge sync` does up to
the run itself, and lists the modules it loaded.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pybridge import config as configlib
from pybridge.errors import ConfigError

from .test_config import minimal

CHILD = r"""
import json, sys
from pybridge import cli, config
argv = ["sync", "--config", sys.argv[1], "--progress", "none", "CN=Jane Doe,OU=Users,DC=contoso,DC=com"]
parser, missing = cli._parser_for(argv)
args = parser.parse_args(argv)
cfg = config.load(args.config, keep_parse=True)
if "rules" in sys.argv[2:]:
    from pybridge import engine
    engine.load_rules(cfg)
if "report" in sys.argv[2:]:  # what the engine does once the steps have run: write the run's HTML report
    from pybridge.core.model import failed_result
    from pybridge.report import html
    from pybridge.sync.steps import new_steps
    html.write(failed_result(argv[-1], "ObjectNotAccessible", "not readable", steps=new_steps()), cfg.report_dir)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("pybridge", "yaml", "jinja2", "platformdirs",
                                                                 "difflib")))))
"""


def loaded(config: Path, monkeypatch, *extra: str) -> set[str]:
    monkeypatch.setenv("T_AD_PW", "ad-pw-123")
    monkeypatch.setenv("T_SECRET", "client-secret-456")
    out = subprocess.run([sys.executable, "-c", CHILD, str(config), *extra], capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "pybridge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_sync_here_loads_no_part_of_the_remote_path_and_no_other_command(tmp_path, monkeypatch):
    data = minimal(tmp_path)
    ca = tmp_path / "ca.pem"  # a CA file is checked as PEM (the remote path's private-key check is not needed)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", encoding="ascii")
    data["ad_connectors"][0]["tls"] = {"ca_file": str(ca)}
    data["entra"]["ca_file"] = str(ca)
    modules = loaded(write(tmp_path, data), monkeypatch)
    assert "pybridge.remote.options" in modules  # the sync parser's --computer-name options
    assert not modules & {"pybridge.remote.common", "pybridge.remote.settings", "pybridge.remote.cli",
                          "pybridge.scan", "pybridge.scan.cli", "jinja2"}


def test_a_sync_that_writes_its_html_report_loads_no_template_engine(tmp_path, monkeypatch):
    """The report is built with markupsafe: jinja2's import alone cost every sync ~45 ms of CPU (issue 16)."""
    data = minimal(tmp_path)
    data["report"] = {"directory": str(tmp_path / "reports")}
    modules = loaded(write(tmp_path, data), monkeypatch, "rules", "report")
    assert "pybridge.report.html" in modules and "pybridge.engine" in modules
    assert len(list((tmp_path / "reports").glob("ADSyncSingleObjectSyncResult-*.htm"))) == 1
    assert not {m for m in modules if m == "jinja2" or m.startswith("jinja2.")}


def test_a_remote_section_is_still_read_and_checked(tmp_path, monkeypatch):
    data = minimal(tmp_path)
    data["remote"] = {"servers": {"aadc01": {"host": "aadc01.contoso.com"}}}
    modules = loaded(write(tmp_path, data), monkeypatch)
    assert "pybridge.remote.settings" in modules
    data["remote"]["servers"]["aadc01"]["transport"] = "telnet"
    with pytest.raises(ConfigError) as failed:
        configlib.load(write(tmp_path, data))
    assert any(p.startswith("remote.servers.aadc01.transport: must be one of") for p in failed.value.problems)


def test_an_unchanged_configuration_and_rules_load_no_yaml_parser(tmp_path, monkeypatch):
    cache_home = tmp_path / "cache-home"
    cache_home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    (tmp_path / "state").mkdir(mode=0o700)
    data = minimal(tmp_path)
    data["state"]["path"] = str(tmp_path / "state" / "pybridge.db")
    data["report"] = {"directory": str(tmp_path / "reports")}  # (the defaults are the platform's: platformdirs)
    config = write(tmp_path, data)
    assert "yaml" in loaded(config, monkeypatch, "rules")  # the first run parses both, and keeps them
    again = loaded(config, monkeypatch, "rules")
    assert "pybridge.core.rules" in again
    assert not again & {"yaml", "pybridge.yamlcheck", "platformdirs", "difflib"}


# -- the garbage collector during start-up (pybridge.cli.run) ------------------------------------------------
GC_CHILD = r"""
import gc, json, sys
from pybridge import cli
from pybridge.errors import PyBridgeError
seen = {}
def stop(*args, **kwargs):
    raise PyBridgeError("stopped here by the test")
started = cli._started
def watched():  # where the command's run starts: how its start-up went
    if not seen:
        seen.update(collections=sum(g["collections"] for g in gc.get_stats()))
        started()
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
        engine = sys.modules.get("pybridge.engine")
        if engine is not None:
            engine.sync_object = stop  # the run itself would need a directory and a tenant
    started()
cli._started = watched
sys.argv = ["pybridge", *sys.argv[1:]]
before = sum(g["collections"] for g in gc.get_stats())  # what importing pybridge.cli itself cost, before run()
code = cli.run()
seen["collections"] = seen.get("collections", before) - before
print(json.dumps({"code": code, "at_run": seen, "enabled_after": gc.isenabled()}))
"""


def test_a_sync_process_collects_nothing_during_start_up_and_everything_after(tmp_path, monkeypatch):
    monkeypatch.setenv("T_AD_PW", "ad-pw-123")
    monkeypatch.setenv("T_SECRET", "client-secret-456")
    config = write(tmp_path, minimal(tmp_path))
    out = subprocess.run([sys.executable, "-c", GC_CHILD, "sync", "--config", str(config), "--progress", "none",
                          "--no-html-report", "CN=Jane Doe,OU=Users,DC=contoso,DC=com"],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["code"] == 1  # the run "could not start": the test's sync_object
    at_run = doc["at_run"]
    assert at_run["collections"] == 0  # imports, configuration and rules: not walked once
    assert at_run["enabled"] and at_run["frozen"] > 10_000  # the run collects its own garbage; start-up is frozen
    assert doc["enabled_after"]


def test_any_other_command_collects_as_usual_and_main_in_process_never_touches_the_collector(tmp_path):
    import gc

    from pybridge import cli

    out = subprocess.run([sys.executable, "-c", GC_CHILD, "scheduler", "get", "--config",
                          str(tmp_path / "missing.yaml")], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["code"] != 0 and doc["enabled_after"]
    assert doc["at_run"]["enabled"] and doc["at_run"]["frozen"] > 0  # from the start of the command
    frozen = gc.get_freeze_count()
    assert cli.main(["scheduler", "get", "--config", str(tmp_path / "missing.yaml")]) != 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_a_batch_collects_nothing_until_its_configuration_and_rules_are_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("T_AD_PW", "ad-pw-123")
    monkeypatch.setenv("T_SECRET", "client-secret-456")
    data = minimal(tmp_path)
    data["ad_connectors"][0]["servers"] = ["ldaps://127.0.0.1:1"]  # refused at once: the runs fail, quickly
    config = write(tmp_path, data)
    out = subprocess.run([sys.executable, "-c", GC_CHILD, "sync", "--config", str(config), "--progress", "none",
                          "--no-html-report", "CN=A,OU=Users,DC=contoso,DC=com", "CN=B,OU=Users,DC=contoso,DC=com"],
                         capture_output=True, text=True, check=True, timeout=120)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["at_run"]["collections"] == 0 and doc["at_run"]["frozen"] > 10_000
    assert doc["code"] == 1 and doc["enabled_after"]
