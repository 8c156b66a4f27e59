"""engine._grouped: a batch whose DNs are all at hand commits unchanged runs in groups, and hands out each
result only once its run is committed (what a runbook saw as done is never lost to a killed process)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pybridge import engine
from pybridge.errors import StateError
from pybridge.store import Store
from tests.unit.test_store import _committed_runs, _run


def _runs(store: Store, count: int, *, writes_to_entra: tuple[int, ...] = (), fail_at: int | None = None):
    for n in range(1, count + 1):
        if n == fail_at:
            raise StateError("The state store is full.")
        store.commit(_run(n, deferrable=n not in writes_to_entra))
        yield SimpleNamespace(n=n)


def test_results_come_once_committed_a_group_at_a_time(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    shown: list[tuple[int, int]] = []
    for result in engine._grouped(store, _runs(store, 40, writes_to_entra=(20,))):
        shown.append((result.n, _committed_runs(path)))
    store.close()
    assert [n for n, _ in shown] == list(range(1, 41))  # every result, in order
    assert all(committed >= n for n, committed in shown)  # shown => durable
    committed_at = dict(shown)
    assert committed_at[1] == engine.GROUP_RUNS  # the first group: one transaction for 16 runs
    assert committed_at[17] == 20  # run 20 wrote to Entra ID: the group before it and itself, at once
    assert committed_at[40] == 40  # the rest at the end


def test_a_group_is_committed_after_its_time_even_when_not_full(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "GROUP_SECONDS", 0.0)
    path = tmp_path / "s.db"
    store = Store.open(path)
    shown = [(r.n, _committed_runs(path)) for r in engine._grouped(store, _runs(store, 5))]
    store.close()
    assert shown == [(n, n) for n in range(1, 6)]


def test_a_run_that_cannot_go_on_still_shows_and_keeps_the_runs_before_it(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    shown = []
    with pytest.raises(StateError):
        for result in engine._grouped(store, _runs(store, 10, fail_at=4)):
            shown.append(result.n)
    store.close()
    assert shown == [1, 2, 3] and _committed_runs(path) == 3


def test_a_reader_that_stops_early_leaves_every_run_committed(tmp_path):
    path = tmp_path / "s.db"
    store = Store.open(path)
    results = engine._grouped(store, _runs(store, 30))
    first = next(results)
    results.close()  # the caller is interrupted after the first result
    store.close()
    assert first.n == 1 and _committed_runs(path) == engine.GROUP_RUNS


def test_commits_are_grouped_only_for_dns_at_hand_never_for_a_pipe(tmp_path, monkeypatch):
    import os
    import sys

    from pybridge import cli

    listing = tmp_path / "dns.txt"
    listing.write_text("CN=a,DC=contoso,DC=com\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert cli._input_at_hand(SimpleNamespace(input=None))  # DNs as arguments
    assert cli._input_at_hand(SimpleNamespace(input=str(listing)))
    assert not cli._input_at_hand(SimpleNamespace(input=str(fifo)))  # may still be filling: never waited for
    assert not cli._input_at_hand(SimpleNamespace(input=str(tmp_path / "missing")))
    with open(listing) as redirected:
        monkeypatch.setattr(sys, "stdin", redirected)  # `pybridge sync --input - < dns.txt`
        assert cli._input_at_hand(SimpleNamespace(input="-"))
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as piped, os.fdopen(write_end, "w"):
        monkeypatch.setattr(sys, "stdin", piped)  # the PowerShell module's pipe: each result as soon as it is done
        assert not cli._input_at_hand(SimpleNamespace(input="-"))
