"""The scan's progress on stderr: count, rate and ETA; one redrawn line on a terminal, plain lines otherwise."""
from __future__ import annotations

import io

from pybridge.scan import runner
from pybridge.scan.runner import ProgressLine, RowSpool, ScanSummary


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def summary(scanned: int, expected: int, out_of_scope: int = 0) -> ScanSummary:
    return ScanSummary(started="now", scanned=scanned, expected=expected, out_of_scope=out_of_scope)


def test_a_terminal_gets_one_redrawn_line_with_count_rate_and_eta(monkeypatch):
    clock = iter([0.0, 10.0, 20.0])
    monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
    err = Tty()
    line = ProgressLine(err)
    line(summary(100, 1_000), None)
    line(summary(200, 1_000), None)
    line.done()
    text = err.getvalue()
    assert text.startswith("\rpybridge scan: 100/1,000 objects, 10/s, about 90 s left\x1b[K")
    assert "\rpybridge scan: 200/1,000 objects, 10/s, about 80 s left" in text and text.endswith("\n")


def test_a_log_gets_plain_lines_now_and_then_and_excluded_objects_leave_the_total(monkeypatch):
    clock = iter([0.0, 5.0, 11.0])
    monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
    err = io.StringIO()
    line = ProgressLine(err)
    line(summary(50, 200, out_of_scope=100), None)  # 5 s after the start: too soon for a log line
    line(summary(110, 200, out_of_scope=100), None)
    assert err.getvalue() == "pybridge scan: 110 objects, 10/s\n"  # no total it has already passed


def test_rows_are_kept_on_disk_and_read_back_in_order():
    spool = RowSpool(keep_failures=1)
    for i in range(3):
        spool.append({"dn": f"CN=U{i}", "status": "Failure" if i else "Success", "code": "X" if i else ""})
    assert len(spool) == 3 and [r["dn"] for r in spool] == ["CN=U0", "CN=U1", "CN=U2"]
    spool.append({"dn": "CN=U3", "status": "Success"})
    assert [r["dn"] for r in spool][-1] == "CN=U3"  # appending after a read goes on at the end
    assert spool.first_failures == [{"dn": "CN=U1", "status": "Failure", "code": "X"}]
    spool.close()
