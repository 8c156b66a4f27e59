"""The command line: `pybridge sync`, `scheduler`, `rules`, `history`, `report`, `compare`; plugins add more.

stdout carries exactly one JSON document per object and nothing else; progress,
warnings and errors go to stderr. Exit codes: 0 Success, 1 Failure,
2 usage or configuration error, 3 Skipped (out of scope).

Other distributions add commands through the entry point group ``pybridge.commands`` (pybridge-lab adds
`pybridge lab`): the entry point names a function ``register(subparsers)`` that adds one parser with
``subparsers.add_parser(NAME, ...)`` and sets ``set_defaults(plugin_run=FUNCTION)``; pybridge exits with
what FUNCTION(args) returns. Plugins are looked for only when the command is not one of pybridge's own
(and for the top-level --help), so a built-in command never pays for finding them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Sequence

from . import __version__

EXIT_SUCCESS, EXIT_FAILURE, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3

EPILOG = """exit codes:
  0  Success          the object is in sync (or would be, in staging mode)
  1  Failure          a step failed; StatusInfo says why and what to do
  2  usage/config     the command line or the configuration is wrong
  3  Skipped          the object is out of sync scope (OU, type, group filtering)
"""


PLUGIN_GROUP = "pybridge.commands"
#: Commands that other distributions of this repository add, and how to get them (said when one is missing).
PLUGIN_HINTS = {"lab": ("pybridge-lab", "pip install ./pybridge-lab (scripts/setup installs it)")}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exits 2 too; keep the message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pybridge: error: {message}\n")


def build_parser(plugins: bool = False, only: str | None = None) -> argparse.ArgumentParser:
    """pybridge's parser; with *plugins*, with the commands of the installed plugins too; with *only* "sync",
    with that command alone (what a sync process parses: the other commands' parsers cost every run)."""
    p = _Parser(prog="pybridge", description="Synchronise ONE on-premises Active Directory object to Microsoft "
                "Entra ID and explain, step by step, what happened and why (a re-implementation of Entra "
                "Connect's Invoke-ADSyncSingleObjectSync).", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"pybridge {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more detail on stderr (-vv: debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("sync", help="synchronise one object (the ten steps) and print the result as JSON",
                       description="Run the ten steps of Single Object Sync for one AD object and print one JSON "
                       "document on stdout.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("dn_positional", nargs="?", metavar="DN", help="the object's distinguished name")
    s.add_argument("--distinguished-name", "-d", dest="dn", metavar="DN",
                   help="the object's distinguished name (RFC 4514, e.g. \"CN=Smith\\, John,OU=Users,DC=contoso,DC=com\")")
    s.add_argument("--staging-mode", action="store_true",
                   help="write nothing to Entra ID; import and sync are still committed to the local state, and the "
                   "export step lists exactly what would have been sent")
    s.add_argument("--what-if", action="store_true",
                   help="like --staging-mode, and nothing is persisted locally either")
    s.add_argument("--no-html-report", action="store_true", help="do not write the HTML report")
    s.add_argument("--open-report", action="store_true", help="open the HTML report in the default browser")
    s.add_argument("--config", metavar="PATH", help="configuration file (default: $PYBRIDGE_CONFIG, then the "
                   "platform's config directory)")
    s.add_argument("--report-dir", metavar="DIR", help="directory for the HTML report (overrides report.directory)")
    s.add_argument("--format", choices=("adsync", "graph"), default="adsync",
                   help="JSON shape: adsync (the original cmdlet's, default) or graph (provisioningObjectSummary)")
    s.add_argument("--progress", choices=("text", "json", "none"), default="text",
                   help="progress on stderr: text (default), json (one 'PYBRIDGE-PROGRESS {...}' line per step, "
                   "for the PowerShell module), none")
    s.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for a running sync to finish (default: fail at once with "
                   "no-start-ma-already-running)")
    from .remote.cli import add_compare_parser, add_sync_arguments
    add_sync_arguments(s)
    p.commands = sub  # type: ignore[attr-defined]  # what add_plugins adds to
    if only == "sync":
        return p
    add_compare_parser(sub)

    sch = sub.add_parser("scheduler", help="Get-ADSyncScheduler / Set-ADSyncScheduler settings",
                         description="Read or change the scheduler settings kept in the state store (the "
                         "properties of Entra Connect's Get-ADSyncScheduler), printed as JSON.")
    ssub = sch.add_subparsers(dest="scheduler_command", metavar="ACTION")
    ssub.required = True
    g = ssub.add_parser("get", help="print the scheduler's properties as JSON")
    g.add_argument("--config", metavar="PATH", help="configuration file")
    st = ssub.add_parser("set", help="change scheduler settings, then print them as JSON")
    st.add_argument("--config", metavar="PATH", help="configuration file")
    st.add_argument("--sync-cycle-enabled", metavar="BOOL", help="true or false (-SyncCycleEnabled)")
    st.add_argument("--customized-sync-cycle-interval", metavar="TIMESPAN",
                    help="d.hh:mm:ss, at least 00:30:00, or 'null' to clear (-CustomizedSyncCycleInterval)")
    st.add_argument("--next-sync-cycle-policy-type", metavar="TYPE", help="Delta or Initial (-NextSyncCyclePolicyType)")
    st.add_argument("--purge-run-history-interval", metavar="TIMESPAN",
                    help="how long run history is kept, d.hh:mm:ss (-PurgeRunHistoryInterval)")
    st.add_argument("--maintenance-enabled", metavar="BOOL", help="true or false (-MaintenanceEnabled)")
    st.add_argument("--scheduler-suspended", metavar="BOOL", help="true or false (-SchedulerSuspended)")

    ru = sub.add_parser("rules", help="list, show and test sync rules",
                        description="The sync rules in force: Entra Connect's defaults and the files in rules.files.")
    rsub = ru.add_subparsers(dest="rules_command", metavar="ACTION")
    rsub.required = True
    rl = rsub.add_parser("list", help="every rule by precedence: direction, object types, link type, enabled")
    rl.add_argument("--config", metavar="PATH", help="configuration file")
    rs = rsub.add_parser("show", help="one rule: scope, join conditions and attribute flows")
    rs.add_argument("name", metavar="NAME", help="the rule's name, e.g. \"In from AD - User Join\"")
    rs.add_argument("--config", metavar="PATH", help="configuration file")
    rt = rsub.add_parser("test", help="evaluate an expression against a live object or given attributes",
                         description="Evaluate an expression of Entra Connect's expression language and print the "
                         "value as JSON (or the error, with its position).")
    rt.add_argument("--expression", "-e", required=True, help='e.g. \'IIF(IsPresent([mail]),[mail],"none")\'')
    src = rt.add_mutually_exclusive_group(required=True)
    src.add_argument("--distinguished-name", "-d", dest="dn", metavar="DN", help="read the object from AD")
    src.add_argument("--attributes", metavar="FILE.json",
                     help='a JSON object of attribute -> value or list of values ("-" for stdin)')
    rt.add_argument("--config", metavar="PATH", help="configuration file")

    h = sub.add_parser("history", help="the run history kept in the state store",
                       description="List past runs (newest first) or print one run's result. Runs older than the "
                       "scheduler's PurgeRunHistoryInterval (7 days by default) are purged.")
    hsub = h.add_subparsers(dest="history_command", metavar="ACTION")
    hsub.required = True
    hl = hsub.add_parser("list", help="time, DN, action, status and error code of past runs, newest first")
    hl.add_argument("--config", metavar="PATH", help="configuration file")
    hl.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (default 50)")
    hl.add_argument("--json", action="store_true", help="print one JSON document (a list) instead of a table")
    hs = hsub.add_parser("show", help="print a past run's result as JSON")
    hs.add_argument("run_id", metavar="ID", help="run id (from 'history list'; a unique prefix is enough)")
    hs.add_argument("--config", metavar="PATH", help="configuration file")
    hs.add_argument("--format", choices=("adsync", "graph"), default="adsync", help="JSON shape (default adsync)")

    rep = sub.add_parser("report", help="render the HTML report of a past run again",
                         description="Write the HTML report of a run from the history (pybridge history list).")
    rep.add_argument("run_id", metavar="ID", help="run id (a unique prefix is enough)")
    rep.add_argument("--config", metavar="PATH", help="configuration file")
    rep.add_argument("--report-dir", metavar="DIR", help="directory for the report (default: report.directory)")
    rep.add_argument("--open-report", action="store_true", help="open the report in the default browser")

    if plugins:
        add_plugins(p)
    return p


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="pybridge: %(levelname)s: %(message)s")


def _progress_printer(mode: str):  # type: ignore[no-untyped-def]
    import json

    def text(step):  # type: ignore[no-untyped-def]
        reason = step.details.get("Reason")
        sys.stderr.write(f"[{step.number:2d}/10] {step.name} ({step.type.value}): {step.status.value}"
                         + (f" - {reason}" if reason else "") + "\n")

    def machine(step):  # type: ignore[no-untyped-def]
        sys.stderr.write("PYBRIDGE-PROGRESS " + json.dumps({"step": step.number, "of": 10, "name": step.name,
                                                            "type": step.type.value, "status": step.status.value,
                                                            "description": step.description}) + "\n")
    return {"text": text, "json": machine}.get(mode)


def cmd_sync(args: argparse.Namespace) -> int:
    from . import config as configlib
    from .cli_args import resolve_dn
    from .errors import ConfigError, PyBridgeError, UsageError

    try:
        dn = resolve_dn(args.dn, args.dn_positional)
    except UsageError as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_USAGE
    args.dn, args.dn_positional = dn, None
    if getattr(args, "computer_name", None):
        return _remote_sync(args)
    from .engine import load_rules
    try:
        cfg = configlib.load(args.config)
        load_rules(cfg, persist=not args.what_if)
    except ConfigError as exc:
        sys.stderr.write(f"pybridge: configuration error: {exc}\n")
        _print_failure(dn, "ConfigurationError", str(exc).splitlines()[0], args.format, exc.problems)
        return EXIT_USAGE
    for warning in cfg.warnings:
        sys.stderr.write(f"pybridge: WARNING: {warning}\n")
    if args.report_dir:
        from dataclasses import replace
        from pathlib import Path
        cfg = replace(cfg, report_dir=Path(args.report_dir))
    from .engine import sync_object
    try:
        result = sync_object(dn, cfg, staging_mode=args.staging_mode, what_if=args.what_if,
                             progress=_progress_printer(args.progress), wait=args.wait,
                             warn=lambda m: sys.stderr.write(f"pybridge: WARNING: {m}\n"),
                             report_dir=None if args.no_html_report else cfg.report_dir)
    except PyBridgeError as exc:  # the run could not start: the sync lock, the state store
        sys.stderr.write(f"pybridge: error: {exc}\n")
        _print_failure(dn, exc.error_code, exc.message, args.format, recommended=exc.recommended_action)
        return EXIT_FAILURE
    _emit(result, args.format, cfg.entra.tenant_id)
    if result.report_path:
        _announce_report(result.report_path, args.progress, args.open_report)
    status = result.status_info
    if status.error_code:
        sys.stderr.write(f"pybridge: {status.status.value}: {status.error_code}: {status.reason}\n")
        if status.recommended_action:
            sys.stderr.write(f"pybridge: recommended action: {status.recommended_action}\n")
    return result.exit_code


def _remote_sync(args: argparse.Namespace) -> int:
    """`pybridge sync --computer-name ...`: run on the sync servers over WinRM/PSRP."""
    from . import config as configlib
    from .errors import ConfigError
    from .remote.cli import run_sync
    try:
        remote, report_dir = configlib.load_remote(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"pybridge: configuration error: {exc}\n")
        return EXIT_USAGE
    return run_sync(args, remote, report_dir=report_dir)


def _announce_report(path: str, progress: str, open_it: bool) -> None:
    import json
    sys.stderr.write(f"pybridge: report: {path}\n")
    if progress == "json":
        sys.stderr.write("PYBRIDGE-REPORT " + json.dumps({"path": path}) + "\n")
    if open_it:
        import webbrowser
        from pathlib import Path
        webbrowser.open(Path(path).resolve().as_uri())


def _emit(result, fmt: str, tenant_id: str | None = None) -> None:  # type: ignore[no-untyped-def]
    from .report import adsync
    if fmt == "graph":
        from .report import graph
        text = graph.dumps(result, tenant_id)
    else:
        text = adsync.dumps(result)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _print_failure(dn: str, code: str, reason: str, fmt: str, details: list[str] | None = None,
                   recommended: str | None = None) -> None:
    """A run that could not start still prints one result, so `| ConvertFrom-Json` never breaks."""
    from .core.model import failed_result
    from .sync.steps import new_steps

    _emit(failed_result(dn, code, reason, steps=new_steps(), details=details or None, recommended=recommended), fmt)


SCHEDULER_OPTIONS = {"sync_cycle_enabled": "SyncCycleEnabled",
                     "customized_sync_cycle_interval": "CustomizedSyncCycleInterval",
                     "next_sync_cycle_policy_type": "NextSyncCyclePolicyType",
                     "purge_run_history_interval": "PurgeRunHistoryInterval",
                     "maintenance_enabled": "MaintenanceEnabled", "scheduler_suspended": "SchedulerSuspended"}


def cmd_scheduler(args: argparse.Namespace) -> int:
    import json

    from . import config as configlib
    from . import scheduler
    from .errors import ConfigError, PyBridgeError, UsageError
    from .store import Store

    try:
        cfg = configlib.load(args.config, check_secrets=False)
    except ConfigError as exc:
        sys.stderr.write(f"pybridge: configuration error: {exc}\n")
        return EXIT_USAGE
    try:
        if args.scheduler_command == "get":
            store = Store.open(cfg.state_path, read_only=True)
            values = scheduler.get(store, cfg)
        else:
            changes = {prop: getattr(args, opt) for opt, prop in SCHEDULER_OPTIONS.items()
                       if getattr(args, opt) is not None}
            if not changes:
                sys.stderr.write("pybridge: error: nothing to set (see pybridge scheduler set --help)\n")
                return EXIT_USAGE
            store = Store.open(cfg.state_path)
            values = scheduler.set_(store, cfg, changes)
        store.close()
    except UsageError as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_USAGE
    except PyBridgeError as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_FAILURE
    sys.stdout.write(json.dumps(values) + "\n")
    return EXIT_SUCCESS


def _history_store(config_path: str | None):  # type: ignore[no-untyped-def]
    from . import config as configlib
    from .store import Store

    cfg = configlib.load(config_path, check_secrets=False)
    return cfg, Store.open(cfg.state_path, read_only=True)


def _find_run(store, run_id: str):  # type: ignore[no-untyped-def]
    from .errors import UsageError
    matches = store.find_runs(run_id)
    if len(matches) != 1:
        raise UsageError(f"no run with id {run_id!r}" if not matches else
                         f"{run_id!r} matches {len(matches)} runs; give more of the id")
    return matches[0], store.run_result(matches[0])


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    from . import config as configlib
    from .core.rules import RuleError, compile_expression
    from .engine import load_rules
    from .errors import ConfigError, PyBridgeError

    try:
        cfg = configlib.load(args.config, check_secrets=args.rules_command == "test" and bool(args.dn))
        rules = load_rules(cfg)
    except ConfigError as exc:
        sys.stderr.write(f"pybridge: configuration error: {exc}\n")
        return EXIT_USAGE
    if args.rules_command == "list":
        sys.stdout.write(f"{'PRECEDENCE':>10}  {'DIRECTION':<8}  {'SOURCE -> TARGET':<24}  {'LINK':<10}  "
                         f"{'ENABLED':<7}  NAME\n")
        for r in rules.rules:
            types = f"{r.source_object_type} -> {r.target_object_type}"
            sys.stdout.write(f"{r.precedence:>10}  {r.direction:<8}  {types:<24}  {r.link_type:<10}  "
                             f"{str(r.enabled):<7}  {r.name}\n")
        return EXIT_SUCCESS
    if args.rules_command == "show":
        rule = rules.get(args.name)
        if rule is None:
            sys.stderr.write(f"pybridge: error: no rule named {args.name!r} (see pybridge rules list)\n")
            return EXIT_USAGE
        doc = {"name": rule.name, "description": rule.description, "direction": rule.direction,
               "connector": rule.connector, "sourceObjectType": rule.source_object_type,
               "targetObjectType": rule.target_object_type, "linkType": rule.link_type,
               "precedence": rule.precedence, "enabled": rule.enabled, "origin": rule.origin,
               "scope": [[c.text for c in g.clauses] for g in rule.scope],
               "join": [[f"{c.source} = {c.target}" for c in g.conditions] for g in rule.join],
               "flows": [{"target": f.target, "mappingType": f.mapping_type, "source": f.source_text,
                          "merge": f.merge, "multiValued": f.multi_valued} for f in rule.flows]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return EXIT_SUCCESS
    try:
        expr = compile_expression(args.expression)
    except RuleError as exc:
        sys.stderr.write(f"pybridge: expression error: {exc}\n")
        return EXIT_USAGE
    try:
        if args.attributes:
            text = sys.stdin.read() if args.attributes == "-" else open(args.attributes, encoding="utf-8").read()
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError("the attributes file must hold a JSON object")
            attrs = {k: v if isinstance(v, list) else [v] for k, v in raw.items() if v is not None}
            ctx = {}
        else:
            from .core import scoping
            from .core import dn as dnlib
            from .engine import ad_session
            match = scoping.find_partition(cfg.ad_connectors, args.dn)
            if match is None:
                sys.stderr.write("pybridge: error: the DN is not in a configured partition\n")
                return EXIT_FAILURE
            with ad_session(match.connector) as ad:
                obj = ad.read(args.dn, sorted(set(expr.attributes) | {"objectClass"}))
            if obj is None:
                sys.stderr.write(f"pybridge: error: {args.dn} was not found or is not readable\n")
                return EXIT_FAILURE
            attrs = obj.attributes
            fqdn = dnlib.domain_fqdn(match.partition)
            ctx = {"Domain.FQDN": fqdn, "Forest.FQDN": fqdn, "Connector.Name": match.connector.name, "dn": obj.dn}
        value = expr(attrs, ctx)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_USAGE
    except PyBridgeError as exc:
        sys.stderr.write(f"pybridge: evaluation error: {exc}\n")
        return EXIT_FAILURE
    from .core.values import display
    def plain(v):  # type: ignore[no-untyped-def]
        if isinstance(v, list):
            return [plain(x) for x in v]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        return display(v) if isinstance(v, (bytes, bytearray)) else str(v)
    sys.stdout.write(json.dumps(plain(value), ensure_ascii=False) + "\n")
    return EXIT_SUCCESS


def cmd_history(args: argparse.Namespace) -> int:
    import json

    from .errors import ConfigError, PyBridgeError, UsageError
    from .report import adsync
    try:
        cfg, store = _history_store(args.config)
        if args.command == "history" and args.history_command == "list":
            runs = store.runs(max(args.limit, 1))
            if args.json:
                sys.stdout.write(json.dumps(runs) + "\n")
            else:
                sys.stdout.write(f"{'STARTED (UTC)':<24}  {'ID':<36}  {'ACTION':<6}  {'STATUS':<7}  "
                                 f"{'ERROR CODE':<28}  DN\n")
                for r in runs:
                    staged = " (staging)" if r["staging"] else ""
                    sys.stdout.write(f"{r['started']:<24}  {r['id']:<36}  {r['action'] or '':<6}  "
                                     f"{r['status'] or '':<7}  {r['error_code'] or '':<28}  {r['dn']}{staged}\n")
            return EXIT_SUCCESS
        run_id, doc = _find_run(store, args.run_id)
        result = adsync.from_adsync(doc)
        result.run_id = run_id
        if args.command == "history":
            _emit(result, args.format, cfg.entra.tenant_id)
            return EXIT_SUCCESS
        from pathlib import Path

        from .report import html
        path = html.write(result, Path(args.report_dir) if args.report_dir else cfg.report_dir)
        _announce_report(str(path), "text", args.open_report)
        sys.stdout.write(str(path) + "\n")
        return EXIT_SUCCESS
    except (ConfigError, UsageError) as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_USAGE
    except (PyBridgeError, OSError) as exc:
        sys.stderr.write(f"pybridge: error: {exc}\n")
        return EXIT_FAILURE


def add_plugins(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Add the installed plugins' commands to *parser* (built by build_parser); a built-in is never replaced.
    Returns the plugins that could not be loaded: {command: why}."""
    from importlib.metadata import entry_points

    commands = _commands(parser)
    broken: dict[str, str] = {}
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name in commands.choices:
            continue
        try:
            ep.load()(commands)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break pybridge's own commands
            commands.choices.pop(ep.name, None)
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
    return broken


def _commands(parser: argparse.ArgumentParser) -> Any:
    """The subparsers action of a parser from build_parser: its .choices are the commands by name."""
    return parser.commands  # type: ignore[attr-defined]


def _command_word(argv: Sequence[str]) -> str | None:
    """The command in *argv*: its first word that is not an option (pybridge's own options take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _parser_for(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, str | None]:
    """The parser for *argv*, with plugins only when they are needed; or a one-line error (exit 2) when the
    command comes with a distribution that is not installed."""
    command = _command_word(argv)
    parser = build_parser(only="sync" if command == "sync" else None)
    top_help = command is None and any(a in ("-h", "--help") for a in argv)
    if not top_help and (command is None or command in _commands(parser).choices):
        return parser, None
    broken = add_plugins(parser)
    if top_help:
        missing = [(name, dist, how) for name, (dist, how) in PLUGIN_HINTS.items()
                   if name not in _commands(parser).choices]
        if missing:
            parser.epilog = (parser.epilog or "") + "\nnot installed:\n" + "".join(
                f"  {name:<17}from {dist}: {how}\n" for name, dist, how in missing)
        return parser, None
    if command in PLUGIN_HINTS and command not in _commands(parser).choices:
        dist, how = PLUGIN_HINTS[command]
        state = f"cannot be loaded ({broken[command]})" if command in broken else "is not installed"
        return parser, f"pybridge: error: 'pybridge {command}' needs {dist}, which {state}: {how}"
    return parser, None


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # bytes that are not UTF-8 in an argument (e.g. a DN) become escapes, never a crash without output
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, missing = _parser_for(argv)
    if missing:
        sys.stderr.write(missing + "\n")
        return EXIT_USAGE
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "sync":
            return cmd_sync(args)
        plugin_run = getattr(args, "plugin_run", None)
        if plugin_run is not None:
            return int(plugin_run(args))
        if args.command == "scheduler":
            return cmd_scheduler(args)
        if args.command in ("history", "report"):
            return cmd_history(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "compare":
            from .remote.cli import run_compare
            return run_compare(args)
    except KeyboardInterrupt:
        sys.stderr.write("pybridge: interrupted; nothing was committed to the state store\n")
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
