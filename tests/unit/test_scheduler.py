"""Time spans, the scheduler's settings and the run-history purge, without servers.

A time span is bounded (pybridge.timespan.MAXIMUM): `scheduler set` refuses a longer one with
exit 2, and a value that reached the state store anyway never breaks the commit of a run.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from pybridge import timespan
from pybridge.cli import main
from pybridge.errors import UsageError
from pybridge.store import RunWrites, Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "pybridge.example.yaml"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example configuration with its state in tmp_path."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["state"] = {"path": str(tmp_path / "state" / "pybridge.db")}
    path = tmp_path / "pybridge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# -- pybridge.timespan ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,span", [
    ("00:30:00", dt.timedelta(minutes=30)),
    ("7.00:00:00", dt.timedelta(days=7)),
    (" 1.02:03:04 ", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ("99:00:00", dt.timedelta(hours=99)),
    (timespan.MAXIMUM, dt.timedelta(days=36500)),
    ("0036500.00:00:00", dt.timedelta(days=36500)),
])
def test_parse_accepts_spans_up_to_the_maximum(text, span):
    assert timespan.parse(text) == span


@pytest.mark.parametrize("text", ["36500.00:00:01", "36501.00:00:00", "999999.00:00:00", "9" * 5000 + ".00:00:00"])
def test_parse_refuses_spans_beyond_the_maximum_naming_it(text):
    with pytest.raises(UsageError) as err:
        timespan.parse(text)
    assert "too long" in str(err.value) and timespan.MAXIMUM in str(err.value)


@pytest.mark.parametrize("text", ["", "30", "00:60:00", "00:00:60", "1.2.00:00:00", "-1.00:00:00", "a.00:00:00"])
def test_parse_refuses_what_is_not_a_time_span(text):
    with pytest.raises(UsageError, match="time span"):
        timespan.parse(text)


def test_every_accepted_span_can_be_taken_from_now_and_added_to_it():
    longest = timespan.parse(timespan.MAXIMUM)
    now = dt.datetime.now(dt.timezone.utc)
    assert now - longest < now < now + longest


@pytest.mark.parametrize("span,text", [(dt.timedelta(minutes=30), "00:30:00"), (dt.timedelta(days=7), "7.00:00:00"),
                                       (dt.timedelta(hours=99), "4.03:00:00")])
def test_format_round_trips(span, text):
    assert timespan.format(span) == text
    assert timespan.parse(text) == span


# -- pybridge scheduler set -----------------------------------------------------------------------------

def test_scheduler_set_refuses_a_span_too_long_with_exit_2(config):
    code, out, err = run("scheduler", "set", "--config", str(config), "--purge-run-history-interval",
                         "999999.00:00:00")
    assert code == 2 and out == ""
    assert "too long" in err and timespan.MAXIMUM in err and "Traceback" not in err
    code, out, _ = run("scheduler", "get", "--config", str(config))
    assert code == 0 and json.loads(out)["PurgeRunHistoryInterval"] == timespan.DEFAULT_PURGE  # nothing saved


def test_scheduler_set_accepts_the_maximum(config):
    code, out, _ = run("scheduler", "set", "--config", str(config), "--purge-run-history-interval",
                       timespan.MAXIMUM, "--customized-sync-cycle-interval", timespan.MAXIMUM)
    assert code == 0
    got = json.loads(out)
    assert got["PurgeRunHistoryInterval"] == got["CustomizedSyncCycleInterval"] == timespan.MAXIMUM


# -- a bad value already in the state store ---------------------------------------------------------------

def _run_writes(run_id: str, started: dt.datetime) -> RunWrites:
    stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return RunWrites(run={"id": run_id, "started": stamp, "ended": stamp, "dn": "CN=x,DC=contoso,DC=com",
                          "action": "Update", "status": "Success", "error_code": None, "staging": False,
                          "result": {}})


def _store_raw(path: Path, key: str, value: object) -> None:
    """Write a scheduler setting straight into the state file, past `scheduler set`'s checks."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO scheduler(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE "
                     "SET value=excluded.value", (key, json.dumps(value)))
    conn.close()


@pytest.mark.parametrize("stored", ["999999.00:00:00", "9" * 5000 + ".00:00:00", "not a span", 42, ["7.00:00:00"]])
def test_a_bad_stored_purge_interval_never_breaks_a_commit(tmp_path, stored):
    path = tmp_path / "state.db"
    Store.open(path).close()
    _store_raw(path, "PurgeRunHistoryInterval", stored)
    now = dt.datetime.now(dt.timezone.utc)
    store = Store.open(path)
    try:
        store.commit(_run_writes("old", now - dt.timedelta(days=8)))
        store.commit(_run_writes("recent", now - dt.timedelta(days=6)))
        store.commit(_run_writes("new", now))
        # the purge fell back to the default interval (7 days): the 8-day-old run is gone, the others stay
        assert {r["id"] for r in store.runs()} == {"recent", "new"}
    finally:
        store.close()


def test_a_valid_stored_purge_interval_is_used(tmp_path):
    path = tmp_path / "state.db"
    Store.open(path).close()
    _store_raw(path, "PurgeRunHistoryInterval", "1.00:00:00")
    now = dt.datetime.now(dt.timezone.utc)
    store = Store.open(path)
    try:
        store.commit(_run_writes("older", now - dt.timedelta(days=2)))
        store.commit(_run_writes("new", now))
        assert [r["id"] for r in store.runs()] == ["new"]
    finally:
        store.close()


def test_scheduler_get_shows_a_bad_stored_interval_and_still_answers(config, tmp_path):
    run("scheduler", "set", "--config", str(config), "--sync-cycle-enabled", "false")  # creates the state file
    _store_raw(tmp_path / "state" / "pybridge.db", "CustomizedSyncCycleInterval", "999999.00:00:00")
    code, out, err = run("scheduler", "get", "--config", str(config))
    assert code == 0, err
    got = json.loads(out)
    assert got["CustomizedSyncCycleInterval"] == "999999.00:00:00"
    next_start = dt.datetime.strptime(got["NextSyncCycleStartTimeInUTC"],
                                      "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert next_start - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=30)
