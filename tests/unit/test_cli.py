"""The command line without servers: usage errors, configuration errors, rules list/show/test."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


from pybridge.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "config" / "pybridge.example.yaml")


def run(*args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_help_explains_every_subcommand():
    for sub in ([], ["sync"], ["lab"], ["scheduler"], ["history"], ["report"], ["rules"]):
        code, out, _ = run(*sub, "--help")
        assert code == 0 and "usage: pybridge" in out
    code, out, _ = run("sync", "--help")
    for opt in ("--distinguished-name", "--staging-mode", "--what-if", "--no-html-report", "--config",
                "--report-dir", "--format", "--wait", "--open-report"):
        assert opt in out
    assert "exit codes" in out


def test_usage_errors_exit_2_without_traceback():
    code, out, err = run("sync")
    assert code == 2 and out == "" and "distinguished name is required" in err
    code, _, err = run("sync", "CN=a,DC=b", "--distinguished-name", "CN=c,DC=d")
    assert code == 2 and "once" in err
    code, _, err = run("sync", "--format", "xml", "CN=a,DC=b")
    assert code == 2 and "invalid choice" in err
    code, _, err = run("frobnicate")
    assert code == 2


def test_configuration_error_prints_a_failure_result(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ad_connectors: 5\nentra: {}\n")
    code, out, err = run("sync", "--config", str(bad), "CN=x,DC=contoso,DC=com")
    assert code == 2
    doc = json.loads(out)
    assert doc["StatusInfo"]["Status"] == "Failure" and doc["StatusInfo"]["ErrorCode"] == "ConfigurationError"
    assert [s["Status"] for s in doc["ProvisioningSteps"]] == ["Skipped"] * 10
    assert "ad_connectors" in err and "Traceback" not in err


def test_rules_list_and_show():
    code, out, _ = run("rules", "list", "--config", EXAMPLE)
    assert code == 0
    assert "In from AD - User Join" in out and "Out to AAD - User Identity" in out
    code, out, _ = run("rules", "show", "In from AD - User AccountEnabled", "--config", EXAMPLE)
    rule = json.loads(out)
    assert rule["direction"] == "inbound" and rule["flows"][0]["target"] == "accountEnabled"
    code, _, err = run("rules", "show", "No Such Rule", "--config", EXAMPLE)
    assert code == 2 and "no rule named" in err


def test_rules_test_with_attributes(tmp_path):
    attrs = tmp_path / "a.json"
    attrs.write_text(json.dumps({"givenName": "Zoë", "sn": "Ångström", "userAccountControl": 514}))
    code, out, _ = run("rules", "test", "--config", EXAMPLE, "-e", '[givenName] & " " & [sn]', "--attributes",
                       str(attrs))
    assert code == 0 and json.loads(out) == "Zoë Ångström"
    code, out, _ = run("rules", "test", "--config", EXAMPLE, "-e", "IIF(BitAnd([userAccountControl],2)=0,True,False)",
                       "--attributes", str(attrs))
    assert json.loads(out) is False
    code, _, err = run("rules", "test", "--config", EXAMPLE, "-e", 'Left([sn], ', "--attributes", str(attrs))
    assert code == 2 and "position" in err
    code, _, err = run("rules", "test", "--config", EXAMPLE, "-e", 'Error("no way")', "--attributes", str(attrs))
    assert code == 1 and "no way" in err


def test_history_show_of_a_run_purged_since_it_was_found_is_a_usage_error(monkeypatch):
    # A sync running meanwhile purges old history as it records its run: the id found a moment ago may have no
    # result any more. That is "no run with id", as if it had never been found, not a traceback.
    from types import SimpleNamespace

    from pybridge import cli

    class Purged:
        def find_runs(self, prefix: str) -> list[str]:
            return ["20240101-abcdef"]

        def run_result(self, run_id: str) -> None:
            return None

    cfg = SimpleNamespace(entra=SimpleNamespace(tenant_id="t"), report_dir=None)
    monkeypatch.setattr(cli, "_history_store", lambda config_path: (cfg, Purged()))
    code, out, err = run("history", "show", "20240101")
    assert code == 2 and out == ""
    assert "no run with id '20240101'" in err


def test_batch_from_json_lines_answers_every_object_and_says_when_each_is_done(tmp_path, monkeypatch):
    """The PowerShell module feeds `--input - --input-format json`: each line one JSON string, so a blank DN or
    one holding a line end is still one object; every object gets one document and a PYBRIDGE-DONE line with
    its number in input order, even when none can run (here: a broken configuration)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("ad_connectors: 5\nentra: {}\n")
    given = ["CN=a,DC=contoso,DC=com", "   ", "CN=line\nend,DC=contoso,DC=com", "not json\n"]
    lines = [json.dumps(given[0]), json.dumps(given[1]), "", json.dumps(given[2]), given[3]]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, err = run("sync", "--config", str(bad), "--input", "-", "--input-format", "json", "--progress", "json")
    assert code == 2
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["SourceIdentity"]["Name"] for d in docs] == [given[0], "", given[2].strip(), "not json"]
    assert {d["StatusInfo"]["ErrorCode"] for d in docs} == {"ConfigurationError"}
    done = [json.loads(line.split(" ", 1)[1]) for line in err.splitlines() if line.startswith("PYBRIDGE-DONE ")]
    assert done == [{"object": n, "exit": 2} for n in (1, 2, 3, 4)]
    # without --progress json nothing machine-readable is added to stderr
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(given[0]) + "\n"))
    code, out, err = run("sync", "--config", str(bad), "--input", "-", "--input-format", "json")
    assert code == 2 and len(out.splitlines()) == 1 and "PYBRIDGE-" not in err
