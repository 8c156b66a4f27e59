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
import gc
import logging
import sys
from typing import TYPE_CHECKING, Any, Iterator, NoReturn, Sequence

from . import __version__
from .cli_args import integer, read_input, seconds

if TYPE_CHECKING:  # the modules themselves are imported where they are used: a sync process loads only its own
    from .config import Config
    from .core.model import ProvisioningStep, SyncResult
    from .notices import Notice
    from .store import Store
    from .sync.state import Progress

EXIT_SUCCESS, EXIT_FAILURE, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3
MAX_HISTORY_LIMIT = 1_000_000
MAX_ATTRIBUTES_INPUT = 16 * 1024 * 1024  # characters of `rules test --attributes` (a JSON object of one object)

EPILOG = """exit codes:
  0  Success          the object is in sync (or would be, in staging mode)
  1  Failure          a step failed; StatusInfo says why and what to do
  2  usage/config     the command line or the configuration is wrong
  3  Skipped          the object is out of sync scope (OU, type, group filtering)
"""


PLUGIN_GROUP = "pybridge.commands"
#: Commands that other distributions of this repository add, and how to get them (said when one is missing).
PLUGIN_HINTS = {"lab": ("pybridge-lab", "pip install ./pybridge-lab (scripts/setup installs it)")}


GLOBAL_TITLE = "global options (before or after the command)"
VERBOSE_HELP = "more detail on stderr (-vv: debug)"
LOG_FILE_HELP = ("also write what goes to stderr, and the debug log, to FILE (appended; time-stamped); secrets are "
                 "never logged")


def _add_global_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-v and --log-file on *parser*: the top-level parser keeps them as verbose/log_file, every command's
    and action's parser as verbose_sub/log_file_sub (not set unless given, so they never undo the top's)."""
    if getattr(parser, "_pybridge_globals", False):
        return
    group = parser.add_argument_group(GLOBAL_TITLE)
    if top:
        group.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
        group.add_argument("--log-file", metavar="FILE", default=None, help=LOG_FILE_HELP)
    else:
        group.add_argument("-v", "--verbose", action="count", dest="verbose_sub", default=argparse.SUPPRESS,
                           help=VERBOSE_HELP)
        group.add_argument("--log-file", metavar="FILE", dest="log_file_sub", default=argparse.SUPPRESS,
                           help=LOG_FILE_HELP)
    parser._pybridge_globals = True  # type: ignore[attr-defined]


def _with_global_options(parser: argparse.ArgumentParser) -> None:
    """Give every command and action below *parser* (plugins' too) the global options, so that
    `pybridge sync -v ...` works as `pybridge -v sync ...` does, and every --help shows them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_global_options(sub)
                _with_global_options(sub)


def verbosity(args: argparse.Namespace) -> int:
    return int(getattr(args, "verbose", 0) or 0) + int(getattr(args, "verbose_sub", 0) or 0)


def log_file(args: argparse.Namespace) -> str | None:
    return getattr(args, "log_file_sub", None) or getattr(args, "log_file", None)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's default exits 2 too; keep the message short
        from .terminal import for_terminal
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pybridge: error: {for_terminal(message)}\n")


def build_parser(plugins: bool = False, only: str | None = None) -> argparse.ArgumentParser:
    """pybridge's parser; with *plugins*, with the commands of the installed plugins too; with *only* "sync",
    with that command alone (what a sync process parses: the other commands' parsers cost every run)."""
    p = _Parser(prog="pybridge", description="Synchronise ONE on-premises Active Directory object to Microsoft "
                "Entra ID and explain, step by step, what happened and why (a re-implementation of Entra "
                "Connect's Invoke-ADSyncSingleObjectSync).", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"pybridge {__version__}")
    _add_global_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("sync", help="synchronise one object (the ten steps) and print the result as JSON",
                       description="Run the ten steps of Single Object Sync for one AD object and print one JSON "
                       "document on stdout.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("dn_positional", nargs="*", metavar="DN",
                   help="the object's distinguished name; several DNs are synced in one process, one JSON "
                   "document per line")
    s.add_argument("--input", metavar="FILE",
                   help="read the DNs from FILE, one per line ('-' for stdin, read as lines arrive); blank lines "
                   "are skipped")
    s.add_argument("--input-format", choices=("lines", "json"), default="lines",
                   help="how --input's lines hold the DNs: lines (default: each line is a DN) or json (each line "
                   "is one JSON string, so that any DN, even one that is blank or holds a line end, is one "
                   "object; for the PowerShell module)")
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
    s.add_argument("--wait", type=seconds(), default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS (at most 86400) for a running sync to finish (default: fail at once "
                   "with no-start-ma-already-running)")
    from .remote.options import add_sync_arguments  # not pybridge.remote.cli: a sync here loads no remote path
    add_sync_arguments(s)
    p.commands = sub  # type: ignore[attr-defined]  # what add_plugins adds to
    if only == "sync":
        return p
    from .remote.cli import add_compare_parser
    from .scan.cli import add_scan_parser  # not for a sync: its start-up is what runbooks pay per object
    add_compare_parser(sub)
    add_scan_parser(sub, EPILOG)

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
    rules_config = ("configuration file whose rules (rules.files) to show besides the defaults; without one "
                    "(no --config, no $PYBRIDGE_CONFIG, none in the default place), the built-in rules")
    rl = rsub.add_parser("list", help="every rule by precedence: direction, object types, link type, enabled")
    rl.add_argument("--config", metavar="PATH", help=rules_config)
    rl.add_argument("--json", action="store_true", help="print one JSON document (a list) instead of a table")
    rs = rsub.add_parser("show", help="one rule: scope, join conditions and attribute flows")
    rs.add_argument("name", metavar="NAME", help="the rule's name, e.g. \"In from AD - User Join\"")
    rs.add_argument("--config", metavar="PATH", help=rules_config)
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
    hl.add_argument("--limit", type=integer(minimum=1, maximum=MAX_HISTORY_LIMIT), default=50, metavar="N",
                    help=f"at most N runs (default 50, at most {MAX_HISTORY_LIMIT})")
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

    co = sub.add_parser("config", help="check the configuration against the directory and the tenant, or print "
                        "the documented example",
                        description="'config check' validates the configuration file, then tests each domain "
                        "controller (bind, read the partition root), the token, the app's Graph permissions and the "
                        "tenant's verified domains, and reports each as ok or failed with the fix. 'config example' "
                        "prints the documented example configuration (every key, its default and meaning).",
                        epilog="exit codes (check): 0 all ok, 1 a check failed, 2 the configuration is unusable",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = co.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    cc = csub.add_parser("check", help="validate the file, then test each DC, the token, permissions and domains")
    cc.add_argument("--config", metavar="PATH", help="configuration file (default: $PYBRIDGE_CONFIG, then the "
                    "platform's config directory)")
    cc.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    csub.add_parser("example", help="print the documented example configuration (redirect it to a file to start)")
    if plugins:
        add_plugins(p)
    return p


class _StderrHandler(logging.Handler):
    """Log records on whatever sys.stderr is when they are emitted (tests swap it per run)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging never breaks a run
            self.handleError(record)


class _TerminalFormatter(logging.Formatter):
    """Every log line escaped for a terminal (values from AD and Graph can hold control characters)."""

    def format(self, record: logging.LogRecord) -> str:
        from .terminal import for_terminal
        return for_terminal(super().format(record), newlines=True)


class _Urllib3Words(logging.Filter):
    """urllib3's own warnings ("Retrying (Retry(total=1, ...)) after connection broken by 'NewConnectionError(...)'")
    never reach a person: a retried connection is announced in pybridge's words as the wait it is, anything
    else of urllib3's goes to the debug log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if isinstance(record.msg, str) and record.msg.startswith("Retrying") and isinstance(record.args, tuple):
            from .connectors.entra import connection_problem
            from .notices import Waiting
            error = next((a for a in record.args if isinstance(a, BaseException)), None)
            retry = record.args[0] if record.args else None
            delay = retry.get_backoff_time() if hasattr(retry, "get_backoff_time") else 0.0
            _notice(Waiting(float(delay or 0.0), connection_problem(error) if error is not None else
                            "the connection failed", then="connecting again"))
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"  # the handlers' levels decide: -vv, --log-file
        return True


class _Demote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_HANDLERS: list[logging.Handler] = []
_DEMOTE = _Demote()
_URLLIB3_FILTER = _Urllib3Words()


def _configure_logging(verbosity: int, log_file: str | None = None) -> None:
    """stderr shows warnings (-v: information, -vv: debug); --log-file FILE gets everything, at debug."""
    from .terminal import CONSOLE_LOG
    root = logging.getLogger()
    console = logging.getLogger(CONSOLE_LOG)
    for handler in _HANDLERS:
        root.removeHandler(handler)
        console.removeHandler(handler)
        handler.close()
    _HANDLERS.clear()
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    stderr = _StderrHandler(level)
    stderr.setFormatter(_TerminalFormatter("pybridge: %(levelname)s: %(message)s"))
    root.addHandler(stderr)
    _HANDLERS.append(stderr)
    if log_file:
        try:
            to_file = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"pybridge: WARNING: cannot write the log file {log_file}: {exc.strerror or exc}\n")
        else:
            to_file.setLevel(logging.DEBUG)
            to_file.setFormatter(_TerminalFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            root.addHandler(to_file)
            console.addHandler(to_file)
            _HANDLERS.append(to_file)
            level = logging.DEBUG
    root.setLevel(level)
    console.setLevel(logging.INFO)
    console.propagate = False
    logging.getLogger("msal").setLevel(logging.WARNING)  # msal's debug log is about tokens: never written
    # Python's warnings (a library's deprecation notice) are for developers: the debug log, not a person's stderr
    logging.captureWarnings(True)
    captured = logging.getLogger("py.warnings")
    if _DEMOTE not in captured.filters:
        captured.addFilter(_DEMOTE)
    pool = logging.getLogger("urllib3.connectionpool")
    if _URLLIB3_FILTER not in pool.filters:
        pool.addFilter(_URLLIB3_FILTER)


def _say(text: str) -> None:
    """One line (or more) for the person at the terminal, on stderr, prefixed 'pybridge: ' and escaped."""
    from .terminal import say
    say("pybridge: " + text)


def _warn(text: str) -> None:
    _say("WARNING: " + text)


def _notice(notice: Notice) -> None:
    """The CLI's notifier: waits and progress of the run, as they happen."""
    from .notices import describe
    _say(describe(notice))


def _progress_printer(mode: str, mode_note: str | None = None) -> Progress | None:
    """*mode_note* ("STAGING: nothing was written to Entra ID") is added to the export step's line."""
    import json

    def text(step: ProvisioningStep) -> None:
        from .terminal import say
        reason = step.details.get("Reason")
        note = f" ({mode_note})" if mode_note and step.number == 10 and step.status.value != "Skipped" else ""
        say(f"[{step.number:2d}/10] {step.name} ({step.type.value}): {step.status.value}"
            + (f" - {reason}" if reason else "") + note)

    def machine(step: ProvisioningStep) -> None:
        sys.stderr.write("PYBRIDGE-PROGRESS " + json.dumps({"step": step.number, "of": 10, "name": step.name,
                                                            "type": step.type.value, "status": step.status.value,
                                                            "description": step.description}) + "\n")
    return {"text": text, "json": machine}.get(mode)


def cmd_sync(args: argparse.Namespace) -> int:
    from . import config as configlib
    from .cli_args import identity_kind, resolve_dn
    from .errors import ConfigError, PyBridgeError, UsageError

    positional = list(args.dn_positional or [])
    if args.input is not None or len(positional) > 1:
        return _batch_sync(args)
    try:
        dn = resolve_dn(args.dn, positional[0] if positional else None, note=_say)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    args.dn, args.dn_positional = dn, None
    if getattr(args, "computer_name", None):
        _started()
        return _remote_sync(args)
    from .engine import load_rules
    try:
        cfg = configlib.load(args.config, keep_parse=not args.what_if)
        load_rules(cfg, persist=not args.what_if)
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        _print_failure(dn, "ConfigurationError", str(exc).splitlines()[0], args.format, exc.problems)
        return EXIT_USAGE
    for warning in cfg.warnings:
        _warn(warning)
    logging.getLogger("pybridge").info("configuration: %s", cfg.path)
    identity = identity_kind(dn)
    if identity is not None:
        found = _find_object(cfg, identity, dn, args.format)
        if isinstance(found, int):
            return found
        dn = args.dn = found
    if args.report_dir:
        from msgspec.structs import replace
        from pathlib import Path
        cfg = replace(cfg, report_dir=Path(args.report_dir))
    mode_note = _announce_mode(args, cfg)
    _started()
    from .engine import sync_object
    try:
        result = sync_object(dn, cfg, staging_mode=args.staging_mode, what_if=args.what_if,
                             progress=_progress_printer(args.progress, mode_note), wait=args.wait,
                             warn=_warn, report_dir=None if args.no_html_report else cfg.report_dir,
                             notify=_notice)
    except PyBridgeError as exc:  # the run could not start: the sync lock, the state store
        _say(f"error: {exc}")
        _print_failure(dn, exc.error_code, exc.message, args.format, recommended=exc.recommended_action)
        return EXIT_FAILURE
    _emit(result, args.format, cfg.entra.tenant_id)
    for warning in getattr(result, "warnings", None) or []:
        _warn(str(warning))
    if result.report_path:
        _announce_report(result.report_path, args.progress, args.open_report)
    status = result.status_info
    if status.error_code:
        _say(f"{status.status.value}: {status.error_code}: {status.reason}")
        if status.recommended_action:
            _say(f"recommended action: {status.recommended_action}")
    elif mode_note:
        _say(f"{status.status.value} ({mode_note}; the export step lists what would have been sent)")
    return result.exit_code


def _announce_mode(args: argparse.Namespace, cfg: Config) -> str | None:
    """Say before the run, unmistakably, when it writes nothing to Entra ID; returns the export step's note."""
    if args.what_if:
        _say("WHAT-IF: nothing will be written to Entra ID, and nothing to the local state (--what-if)")
        return "WHAT-IF: nothing was written to Entra ID or the local state"
    if args.staging_mode or cfg.sync.staging_mode:
        why = "--staging-mode" if args.staging_mode else f"sync.staging_mode: true in {cfg.path}"
        _say(f"STAGING MODE: nothing will be written to Entra ID; import and sync are committed to the local "
             f"state ({why})")
        return "STAGING: nothing was written to Entra ID"
    return None


def _find_object(cfg: Config, identity: tuple[str, str], argument: str, fmt: str) -> str | int:
    """The DN that a UPN, DOMAIN\\sAMAccountName or objectGUID names, said on stderr; or, when it names
    none or several objects (or the directory cannot be searched), the failure printed and its exit code."""
    from .cli_args import LABELS
    from .engine import find_objects
    from .errors import PyBridgeError

    kind, value = identity
    label = LABELS[kind]
    try:
        found = find_objects(cfg, kind, value)
    except PyBridgeError as exc:
        _say(f"error: {exc}")
        _print_failure(argument, exc.error_code, exc.message, fmt, recommended=exc.recommended_action)
        return EXIT_FAILURE
    if len(found) == 1:
        connector, dn = found[0]
        _say(f"{label} {value} is {dn} (connector \"{connector}\")")
        return dn
    partitions = "; ".join(f"{p} ({c.name})" for c in cfg.ad_connectors for p in c.partitions)
    if not found:
        code = "IdentityNotFound"
        reason = (f"No object with {label} \"{value}\" was found in the partitions of the configured AD "
                  f"connectors ({partitions}), or the connector account cannot see it.")
    else:
        code = "IdentityAmbiguous"
        reason = (f"{label} \"{value}\" names {len(found)} objects: "
                  + "; ".join(f"{dn} (connector \"{c}\")" for c, dn in found) + ".")
    _say(f"Failure: {code}: {reason}")
    _print_failure(argument, code, reason, fmt)
    return EXIT_FAILURE


def _batch_arguments(args: argparse.Namespace) -> Iterator[str]:
    """The objects of a batch as given: the arguments, then --input's lines (read lazily: stdin may still be
    filling); blank lines are skipped. With --input-format json each line is one JSON string (a DN that is
    blank or holds a line end stays one object); a line that is not one is given back as it is, so that it
    is refused as a DN with a result of its own."""
    import json

    yield from ([args.dn] if args.dn is not None else []) + list(args.dn_positional or [])
    if args.input is not None:
        stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8-sig", errors="replace")
        encoded = getattr(args, "input_format", "lines") == "json"
        try:
            for line in stream:
                if not line.strip():
                    continue
                if encoded:
                    try:
                        value = json.loads(line)
                    except ValueError:
                        value = None
                    yield value if isinstance(value, str) else line
                else:
                    yield line
        finally:
            if stream is not sys.stdin:
                stream.close()


def _batch_dns(args: argparse.Namespace, cfg: Config, failed: list[int],
               position: dict[str, int]) -> Iterator[str]:
    """The DNs of a batch, each normalised as a single run's DN is; a UPN, DOMAIN\\sAMAccountName or objectGUID
    is resolved to the one DN it names. An entry that names no object prints its failure (one JSON document, as
    for any object) and counts in *failed*; the batch goes on. *position* ["object"] is the number (from 1) of
    the entry last read, in input order, which the progress, report and done lines carry."""
    from .cli_args import identity_kind, resolve_dn

    for given in _batch_arguments(args):
        position["object"] += 1
        dn = resolve_dn(None, given, note=_say)
        identity = identity_kind(dn)
        if identity is not None:
            found = _find_object(cfg, identity, dn, args.format)
            if isinstance(found, int):
                failed.append(found)
                _batch_done(args.progress, position["object"], found)
                continue
            dn = found
        yield dn


def _batch_done(mode: str, number: int, code: int) -> None:
    """With --progress json: 'PYBRIDGE-DONE {"object": N, "exit": code}' on stderr once object N's document is on
    stdout and its warnings and report line on stderr, so that a reader of both pipes knows when it has all
    of object N (the two pipes are read apart), and what exit code a run of that object alone would have had."""
    import json
    if mode == "json":
        sys.stderr.write("PYBRIDGE-DONE " + json.dumps({"object": number, "exit": code}) + "\n")
        sys.stderr.flush()


def _batch_sync(args: argparse.Namespace) -> int:
    """`pybridge sync DN DN ...` / `--input FILE`: one process, one lock, shared connections and token; one
    JSON document per line as each object is done. Exit code: 1 if any object failed, else 3 if any was
    skipped, else 0 (2 for usage and configuration errors)."""
    from . import config as configlib
    from .engine import load_rules, sync_objects
    from .errors import ConfigError, PyBridgeError

    if getattr(args, "computer_name", None):
        _say("error: several DNs (or --input) run locally only; give one DN with --computer-name")
        return EXIT_USAGE
    if args.input not in (None, "-"):
        try:
            open(args.input, encoding="utf-8").close()
        except OSError as exc:
            _say(f"error: --input {args.input}: {exc.strerror or exc}")
            return EXIT_USAGE
    try:
        cfg = configlib.load(args.config, keep_parse=not args.what_if)
        load_rules(cfg, persist=not args.what_if)  # what-if persists nothing, not even the rules' cache
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        for number, given in enumerate(_batch_arguments(args), 1):
            _print_failure(given.strip(), "ConfigurationError", str(exc).splitlines()[0], args.format, exc.problems)
            _batch_done(args.progress, number, EXIT_USAGE)
        return EXIT_USAGE
    for warning in cfg.warnings:
        _warn(warning)
    if args.report_dir:
        from msgspec.structs import replace
        from pathlib import Path
        cfg = replace(cfg, report_dir=Path(args.report_dir))
    _announce_mode(args, cfg)
    _started()
    worst, count = EXIT_SUCCESS, 0
    failed: list[int] = []
    position = {"object": 0}
    dns = _batch_dns(args, cfg, failed, position)
    progress = _batch_progress(args.progress, position)
    try:
        results = sync_objects(dns, cfg, staging_mode=args.staging_mode, what_if=args.what_if,
                               progress=progress, wait=args.wait,
                               warn=_warn, report_dir=None if args.no_html_report else cfg.report_dir,
                               notify=_notice, group_commits=_input_at_hand(args))
        for result in results:
            count += 1
            _emit(result, args.format, cfg.entra.tenant_id)
            for warning in result.warnings:
                _warn(f"{result.distinguished_name}: {warning}")
            if result.report_path:
                _announce_report(result.report_path, args.progress, args.open_report, position["object"])
            status = result.status_info
            _say(f"[{position['object']}] {result.distinguished_name}: {status.status.value}"
                 + (f": {status.error_code}: {status.reason}" if status.error_code else ""))
            _batch_done(args.progress, position["object"], result.exit_code)
            worst = max(worst, result.exit_code, key=_BATCH_SEVERITY.index)
    except PyBridgeError as exc:  # the batch could not start: the sync lock, the state store
        _say(f"error: {exc}")
        for dn in dns:
            _print_failure(dn, exc.error_code, exc.message, args.format, recommended=exc.recommended_action)
            _batch_done(args.progress, position["object"], EXIT_FAILURE)
        return EXIT_FAILURE
    _say(f"{count} object(s) synced" + (f", {len(failed)} not found" if failed else ""))
    return EXIT_FAILURE if failed else worst


_BATCH_SEVERITY = (EXIT_SUCCESS, EXIT_SKIPPED, EXIT_FAILURE)  # a batch exits with its worst object's code


def _input_at_hand(args: argparse.Namespace) -> bool:
    """Whether every DN of the batch can be read without waiting: arguments, --input FILE, or stdin redirected
    from a file. Only then are commits grouped (engine.sync_objects): a pipe's reader (the PowerShell module)
    wants each result as soon as its object is done."""
    import os
    import stat
    if args.input is None:
        return True
    try:  # a regular file, not a FIFO or a process substitution (<(...)) that may still be filling
        return stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode if args.input == "-" else os.stat(args.input).st_mode)
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's StringIO, a closed stdin)
        return False


def _batch_progress(mode: str, position: dict[str, int]) -> Progress | None:
    """Per-step progress of a batch: the JSON lines carry the object's number in input order (for the module)."""
    import json
    if mode != "json":
        return None

    def machine(step: ProvisioningStep) -> None:
        sys.stderr.write("PYBRIDGE-PROGRESS " + json.dumps({"object": position["object"], "step": step.number,
                                                            "of": 10, "name": step.name, "type": step.type.value,
                                                            "status": step.status.value,
                                                            "description": step.description}) + "\n")
    return machine


def _remote_sync(args: argparse.Namespace) -> int:
    """`pybridge sync --computer-name ...`: run on the sync servers over WinRM/PSRP."""
    from . import config as configlib
    from .errors import ConfigError
    from .remote.cli import run_sync
    try:
        remote, report_dir = configlib.load_remote(args.config)
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        return EXIT_USAGE
    return run_sync(args, remote, report_dir=report_dir)


def _announce_report(path: str, progress: str, open_it: bool, number: int | None = None) -> None:
    import json
    _say(f"report: {path}")
    if progress == "json":
        sys.stderr.write("PYBRIDGE-REPORT " + json.dumps({"path": path} if number is None
                                                         else {"object": number, "path": path}) + "\n")
    if open_it:
        import webbrowser
        from pathlib import Path
        webbrowser.open(Path(path).resolve().as_uri())


def _emit(result: SyncResult, fmt: str, tenant_id: str | None = None) -> None:
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
        _say(f"configuration error: {exc}")
        return EXIT_USAGE
    try:
        if args.scheduler_command == "get":
            store = Store.open(cfg.state_path, read_only=True)
            values = scheduler.get(store, cfg)
        else:
            changes = {prop: getattr(args, opt) for opt, prop in SCHEDULER_OPTIONS.items()
                       if getattr(args, opt) is not None}
            if not changes:
                _say("error: nothing to set (see pybridge scheduler set --help)")
                return EXIT_USAGE
            store = Store.open(cfg.state_path)
            values = scheduler.set_(store, cfg, changes)
        store.close()
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except PyBridgeError as exc:
        _say(f"error: {exc}")
        return EXIT_FAILURE
    sys.stdout.write(json.dumps(values) + "\n")
    return EXIT_SUCCESS


def _history_store(config_path: str | None) -> tuple[Config, Store]:
    from . import config as configlib
    from .store import Store

    cfg = configlib.load(config_path, check_secrets=False)
    return cfg, Store.open(cfg.state_path, read_only=True)


def _find_run(store: Store, run_id: str) -> tuple[str, dict[str, Any]]:
    from .errors import UsageError
    matches = store.find_runs(run_id)
    if len(matches) != 1:
        raise UsageError(f"no run with id {run_id!r}" if not matches else
                         f"{run_id!r} matches {len(matches)} runs; give more of the id")
    doc = store.run_result(matches[0])
    if doc is None:  # purged since it was found (a sync purges old history as it records its run)
        raise UsageError(f"no run with id {run_id!r}")
    return matches[0], doc


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    from . import config as configlib
    from .core.rules import RuleError, compile_expression
    from .engine import load_rules
    from .errors import ConfigError, PyBridgeError

    needs_config = args.rules_command == "test" and bool(args.dn)
    try:
        if needs_config or configlib.configured(args.config):
            cfg = configlib.load(args.config, check_secrets=needs_config)
            rules = load_rules(cfg)
        else:  # listing, showing or testing the rules needs no configuration: Entra Connect's defaults
            from .engine import builtin_rules
            rules = builtin_rules()
            if args.rules_command != "test":
                _say("no configuration file (--config, $PYBRIDGE_CONFIG): the built-in rules")
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        return EXIT_USAGE
    if args.rules_command == "list":
        rows = [{"precedence": r.precedence, "direction": r.direction, "sourceObjectType": r.source_object_type,
                 "targetObjectType": r.target_object_type, "linkType": r.link_type, "enabled": r.enabled,
                 "name": r.name, "origin": r.origin} for r in rules.rules]
        if args.json:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
            return EXIT_SUCCESS
        from .terminal import table
        sys.stdout.write(table(("PRECEDENCE", "DIRECTION", "SOURCE -> TARGET", "LINK", "ENABLED", "NAME"),
                               [(r["precedence"], r["direction"], f"{r['sourceObjectType']} -> "
                                 f"{r['targetObjectType']}", r["linkType"], r["enabled"], r["name"])
                                for r in rows], right=(0,)))
        return EXIT_SUCCESS
    if args.rules_command == "show":
        rule = rules.get(args.name)
        if rule is None:
            _say(f"error: no rule named {args.name!r} (see pybridge rules list)")
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
        _say(f"expression error: {exc}")
        return EXIT_USAGE
    try:
        if args.attributes:
            text = read_input(args.attributes, MAX_ATTRIBUTES_INPUT, sys.stdin)
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError("the attributes file must hold a JSON object")
            attrs = {k: v if isinstance(v, list) else [v] for k, v in raw.items() if v is not None}
            ctx = {}
        else:
            from .cli_args import LABELS, identity_kind, normalize_argument
            from .core import scoping
            from .core import dn as dnlib
            from .engine import ad_session, find_objects
            args.dn = normalize_argument(args.dn, note=_say)  # as `sync` reads its DN argument
            identity = identity_kind(args.dn)
            if identity is not None:
                found = find_objects(cfg, *identity)
                if len(found) != 1:
                    _say(f"error: {LABELS[identity[0]]} {identity[1]} names {len(found) or 'no'} object"
                         f"{'s' if len(found) != 1 else ''} in the configured partitions")
                    return EXIT_FAILURE
                args.dn = found[0][1]
                _say(f"{LABELS[identity[0]]} {identity[1]} is {args.dn}")
            match = scoping.find_partition(cfg.ad_connectors, args.dn)
            if match is None:
                _say("error: the DN is not in a configured partition")
                return EXIT_FAILURE
            with ad_session(match.connector) as ad:
                obj = ad.read(args.dn, sorted(set(expr.attributes) | {"objectClass"}))
            if obj is None:
                _say(f"error: {args.dn} was not found or is not readable")
                return EXIT_FAILURE
            attrs = obj.attributes
            fqdn = dnlib.domain_fqdn(match.partition)
            ctx = {"Domain.FQDN": fqdn, "Forest.FQDN": fqdn, "Connector.Name": match.connector.name, "dn": obj.dn}
        value = expr(attrs, ctx)
    except RecursionError:  # JSON nested thousands deep
        sys.stderr.write("pybridge: error: the attributes are nested too deeply\n")
        return EXIT_USAGE
    except (OSError, ValueError) as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except PyBridgeError as exc:
        _say(f"evaluation error: {exc}")
        return EXIT_FAILURE
    from .core.values import display
    def plain(v: Any) -> Any:
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
                from .terminal import table
                sys.stdout.write(table(("STARTED (UTC)", "ID", "ACTION", "STATUS", "ERROR CODE", "DN"),
                                       [(r["started"], r["id"], r["action"], r["status"], r["error_code"],
                                         f"{r['dn']}{' (staging)' if r['staging'] else ''}") for r in runs]))
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
        _say(f"error: {exc}")
        return EXIT_USAGE
    except (PyBridgeError, OSError) as exc:
        _say(f"error: {exc}")
        return EXIT_FAILURE


def cmd_config(args: argparse.Namespace) -> int:
    """`config example` prints the documented example; `config check` tests the configuration, part by part."""
    import json

    if args.config_command == "example":
        from .config import example_text
        sys.stdout.write(example_text())
        return EXIT_SUCCESS
    from . import checks
    path, results = checks.run(args.config, notify=_notice)
    unusable = len(results) == 1 and results[0].check == "configuration" and not results[0].ok
    ok = all(c.ok for c in results)
    if args.json:
        sys.stdout.write(json.dumps({"config": path, "ok": ok, "checks": [c.to_json() for c in results]},
                                    ensure_ascii=False) + "\n")
    else:
        from .terminal import table
        rows = [("ok" if c.ok else "FAILED", c.check, c.target, c.detail + (f" -> fix: {c.fix}" if c.fix else ""))
                for c in results]
        sys.stdout.write(table(("STATUS", "CHECK", "TARGET", "DETAIL"), rows))
    if unusable:
        _say(f"configuration error: {results[0].detail}")
        return EXIT_USAGE
    failed = [c for c in results if not c.ok]
    if failed:
        _say(f"{len(failed)} of {len(results)} checks failed")
    return EXIT_FAILURE if failed else EXIT_SUCCESS


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


#: pybridge's own options that take a value as the next word (the word is not the command).
_VALUE_OPTIONS = ("--log-file",)


def _command_index(argv: Sequence[str], value_options: Sequence[str] = _VALUE_OPTIONS) -> int | None:
    """Where the command is in *argv*: its first word that is neither an option nor the value of one."""
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a in value_options:
            skip = True
        elif not a.startswith("-"):
            return i
    return None


def _command_word(argv: Sequence[str]) -> str | None:
    """The command in *argv* (see _command_index)."""
    i = _command_index(argv)
    return None if i is None else argv[i]


def _plugin_options_after_command(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`pybridge --dir D lab up` as `pybridge lab --dir D up`: a plugin command's own options, typed before
    the command, are moved after it (pybridge's top level cannot know a plugin's options)."""
    commands = _commands(parser).choices
    plugin_parsers = [p for p in commands.values() if p.get_default("plugin_run") is not None]
    own = set(parser._option_string_actions)
    valued = {name for p in plugin_parsers for name, action in p._option_string_actions.items()
              if action.nargs != 0 and name not in own}
    i = _command_index(argv, (*_VALUE_OPTIONS, *valued))
    if i is None or argv[i] not in commands or commands[argv[i]].get_default("plugin_run") is None:
        return argv
    sub = commands[argv[i]]
    before: list[str] = []
    moved: list[str] = []
    j = 0
    while j < i:
        word, name = argv[j], argv[j].split("=", 1)[0]
        action = sub._option_string_actions.get(name)
        if action is not None and name not in own:
            moved.append(word)
            if "=" not in word and action.nargs != 0 and j + 1 < i:
                moved.append(argv[j + 1])
                j += 1
        else:
            before.append(word)
        j += 1
    return [*before, argv[i], *moved, *argv[i + 1:]]


def _parser_for(argv: list[str]) -> tuple[argparse.ArgumentParser, str | None]:
    """The parser for *argv*, with plugins only when they are needed; or a one-line error (exit 2) when the
    command comes with a distribution that is not installed. *argv* is put in the order the parser reads
    (a plugin command's options typed before it move after it)."""
    command = _command_word(argv)
    parser = build_parser(only="sync" if command == "sync" else None)
    top_help = command is None and any(a in ("-h", "--help") for a in argv)
    if not top_help and (command is None or command in _commands(parser).choices):
        _with_global_options(parser)
        return parser, None
    broken = add_plugins(parser)
    _with_global_options(parser)
    argv[:] = _plugin_options_after_command(argv, parser)
    command = _command_word(argv)
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


# -- the process's start-up, not collected ------------------------------------------------------------------
# A sync process spends its start-up importing (ldap3, msal, requests, pybridge) and loading the configuration
# and rules: objects it keeps until it exits, which the cyclic garbage collector would walk some 90 times
# for nothing (30-40 ms of CPU, issue 16). run() starts with the collector off; once a command has loaded
# what it runs on, _started() moves all of it to the permanent generation (gc.freeze) and collects again,
# so the run's own garbage is collected as usual and the start-up's objects are never walked again.
_collection_deferred = False


def run() -> int:
    """The `pybridge` command (console script, `python -m pybridge`): main() in a process of its own."""
    global _collection_deferred
    gc.disable()
    _collection_deferred = True
    try:
        return main()
    finally:
        _started()


def _started() -> None:
    """The command has loaded what it runs on: collect again from here (a no-op unless run() deferred it;
    main() called in a process that does other things never touches the collector)."""
    global _collection_deferred
    if _collection_deferred:
        _collection_deferred = False
        gc.freeze()
        gc.enable()


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
    _configure_logging(verbosity(args), log_file(args))
    if args.command != "sync":  # a sync collects again once its configuration and rules are loaded
        _started()
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
        if args.command == "config":
            return cmd_config(args)
        if args.command == "compare":
            from .remote.cli import run_compare
            return run_compare(args)
        if args.command == "scan":
            from .scan.cli import run_scan
            return run_scan(args)
    except KeyboardInterrupt:
        _say("interrupted; nothing was committed to the state store")
        return 130
    except BrokenPipeError:  # `pybridge ... | head`: the reader left; no traceback for that
        import os
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAILURE
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
