"""The command line of `pybridge scan`: options, output, summary, exit code (0 nothing would fail, 1 something
would, 2 usage or configuration, 130 interrupted after printing what was scanned)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..cli_args import integer

EXIT_SUCCESS, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
WORST_SHOWN = 10


class _Person:
    """stderr for a person: DNs, reasons and values from AD and Graph come out with control and bidi
    characters escaped (pybridge.terminal), so a hostile value cannot rewrite the summary."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        from ..terminal import for_terminal
        self.stream.write(for_terminal(text, newlines=True))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())


def add_scan_parser(sub: Any, epilog: str) -> None:
    s = sub.add_parser("scan", help="staging run of every object in scope: which objects would not sync, and why",
                       description="Run the ten steps in staging mode for every object in scope of the configured "
                       "AD connectors, from one paged read of AD and of Entra ID. Writes nothing to Entra ID and "
                       "nothing to the state but the scan's history record. stdout: one JSON document per object, "
                       "one per line (as pybridge sync); stderr: progress and a summary.", epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--config", metavar="PATH", help="configuration file")
    s.add_argument("--search-base", action="append", default=[], metavar="DN",
                   help="scan only under DN (repeatable; default: every included container)")
    s.add_argument("--object-type", action="append", default=[], metavar="TYPE",
                   help="scan only objects of TYPE (user, inetOrgPerson, group, contact; repeatable)")
    s.add_argument("--only-problems", action="store_true", help="print only the objects that would not succeed")
    s.add_argument("--format", choices=("adsync", "graph"), default="adsync", help="JSON shape (default adsync)")
    s.add_argument("--limit", type=integer(minimum=1, maximum=10**9), metavar="N", help="stop after N objects")
    s.add_argument("--report-dir", metavar="DIR", help="directory for the HTML summary (default report.directory)")
    s.add_argument("--no-html-report", action="store_true", help="do not write the HTML summary")


def run_scan(args: argparse.Namespace) -> int:
    from .. import config as configlib
    from ..core import dn as dnlib
    from ..engine import load_rules
    from ..errors import ConfigError, PyBridgeError
    from .runner import ProgressLine, ScanOptions, record, scan

    err = _Person(sys.stderr)
    try:
        cfg = configlib.load(args.config)
        rules = load_rules(cfg)
    except ConfigError as exc:
        err.write(f"pybridge: configuration error: {exc}\n")
        return EXIT_USAGE
    for warning in cfg.warnings:
        err.write(f"pybridge: WARNING: {warning}\n")
    bases = []
    for base in args.search_base:
        try:
            dnlib.split(base.strip())
        except dnlib.InvalidDnError as exc:
            err.write(f"pybridge: error: --search-base {base!r}: {exc.message}\n")
            return EXIT_USAGE
        if not any(dnlib.is_descendant(base.strip(), p) for c in cfg.ad_connectors for p in c.partitions):
            err.write(f"pybridge: error: --search-base {base!r} is not inside a configured partition\n")
            return EXIT_USAGE
        bases.append(base.strip())
    known = {t.lower() for c in cfg.ad_connectors for t in c.object_types}
    for t in args.object_type:
        if t.lower() not in known:
            err.write(f"pybridge: error: --object-type {t!r} is not in scope of any connector "
                      f"(in scope: {', '.join(sorted(known))})\n")
            return EXIT_USAGE
    report_dir = None if args.no_html_report else Path(args.report_dir) if args.report_dir else cfg.report_dir
    options = ScanOptions(search_bases=tuple(bases), object_types=tuple(args.object_type),
                          only_problems=args.only_problems, fmt=args.format, limit=args.limit)
    progress = ProgressLine(sys.stderr)  # numbers only, and its \r and erase-line must reach the terminal
    try:
        summary = scan(cfg, rules, options, out=sys.stdout, progress=progress,
                       emit=lambda r: _dumps(r, args.format, cfg.entra.tenant_id))
    except PyBridgeError as exc:
        err.write(f"pybridge: error: the scan could not start: {exc}\n")
        if exc.recommended_action:
            err.write(f"pybridge: recommended action: {exc.recommended_action}\n")
        return EXIT_FAILURE
    progress.done()
    _print_summary(summary, err)
    if report_dir is not None:
        from ..report import scan_html
        try:
            path = scan_html.write(summary, report_dir)
            err.write(f"pybridge: report: {path}\n")
        except OSError as exc:
            err.write(f"pybridge: WARNING: the HTML summary could not be written to {report_dir}: "
                      f"{exc.strerror or exc}\n")
    summary.rows.close()
    try:
        record(cfg, summary)
    except PyBridgeError as exc:
        err.write(f"pybridge: WARNING: the scan's history record could not be saved: {exc}\n")
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if summary.failed else EXIT_SUCCESS


def _dumps(result: Any, fmt: str, tenant_id: str | None) -> str:
    from ..report import adsync, graph
    return graph.dumps(result, tenant_id) if fmt == "graph" else adsync.dumps(result)


def _print_summary(summary: Any, err: Any) -> None:
    statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(summary.statuses.items())) or "nothing"
    err.write(f"pybridge scan: {summary.scanned:,} object(s) scanned: {statuses}"
              + (f"; {summary.out_of_scope:,} in excluded containers" if summary.out_of_scope else "")
              + (" (interrupted: the summary covers what was scanned)" if summary.interrupted else "") + "\n")
    for code, n in summary.codes.most_common():
        err.write(f"pybridge scan:   {n:>7,}  {code}\n")
    for container in summary.unreadable:
        err.write(f"pybridge scan: could not search {container}\n")
    worst = summary.rows.first_failures[:WORST_SHOWN]
    if worst:
        err.write("pybridge scan: first failures:\n")
        for row in worst:
            err.write(f"pybridge scan:   {row['code']}: {row['dn']}: {str(row['reason'])[:200]}\n")
    for finding in summary.findings:
        err.write(f"pybridge scan: {finding.code} across objects: {finding.reason}\n")
    if summary.joined_deleted:
        err.write(f"pybridge scan: {len(summary.joined_deleted):,} object(s) joined to an Entra object that no longer "
                  "exists (deleted in the cloud; a sync matches them again, and creates them anew if nothing "
                  "matches):\n")
        for dn, entra_id in summary.joined_deleted[:WORST_SHOWN]:
            err.write(f"pybridge scan:   {dn} (was {entra_id})\n")
    err.write(f"pybridge scan: {summary.graph_requests:,} Graph request(s), {summary.ldap_operations:,} LDAP "
              "operation(s)\n")
