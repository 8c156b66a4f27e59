"""Command-line side of the remote path: ``pybridge sync --computer-name ...`` and ``pybridge compare``.

stdout carries one JSON document per server (tagged with ComputerName) and nothing
else; progress, the servers' warnings and errors, and ``--compare``'s differences go
to stderr. Passwords come from an environment variable, a file or an interactive
prompt - never from argv.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from ..cli_args import read_input, resolve_dn
from ..errors import UsageError
from ..secret import Secret
from .common import SyncRequest
from .options import add_sync_arguments
from .settings import MODULE_SHORTCUTS, RemoteSettings, ServerOptions, ServerSettings, file_problem, resolve

EXIT_SUCCESS, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
#: Characters read from one input of `pybridge compare` (results of many servers, of groups with many members).
MAX_COMPARE_INPUT = 256 * 1024 * 1024


def _line(stream: TextIO, text: str) -> None:
    """A line for a person: what servers and results say is escaped for the terminal (pybridge.terminal)."""
    from ..terminal import for_terminal
    stream.write(for_terminal(text, newlines=True) + "\n")


def _overrides(args: argparse.Namespace, problems: list[str]) -> ServerOptions:
    def path(value: str | None, option: str, pem: bool = True, private: bool = False) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser().resolve()
        problem = file_problem(p, pem=pem, private=private)
        if problem:
            problems.append(f"{option}: {problem}")
        return p

    password: Secret | None = None
    env, pfile = getattr(args, "remote_password_env", None), getattr(args, "remote_password_file", None)
    if env:
        password = Secret(env=env)
    elif pfile:
        password = Secret(file=Path(pfile).expanduser().resolve())
    if password is not None:
        problem = password.problem()
        if problem:
            problems.append(f"--password-{'env' if env else 'file'}: {problem}")
    # the numbers were checked by the parser's type functions (pybridge.cli_args)
    port = getattr(args, "remote_port", None)
    module = getattr(args, "remote_module_path", None)
    return ServerOptions(
        transport=getattr(args, "remote_transport", None), port=port, use_ssl=getattr(args, "remote_use_ssl", None),
        auth=getattr(args, "remote_auth", None), username=getattr(args, "remote_username", None), password=password,
        certificate_file=path(getattr(args, "remote_certificate_file", None), "--certificate-file"),
        certificate_key_file=path(getattr(args, "remote_certificate_key_file", None), "--certificate-key-file",
                                  private=True),
        ca_file=path(getattr(args, "remote_ca_file", None), "--ca-file"),
        allow_unencrypted=getattr(args, "remote_allow_unencrypted", None),
        module_path=MODULE_SHORTCUTS.get(module.lower(), module) if module else None,
        configuration_name=getattr(args, "remote_configuration_name", None),
        connect_timeout=getattr(args, "remote_connect_timeout", None),
        operation_timeout=getattr(args, "remote_operation_timeout", None),
        retries=getattr(args, "remote_retries", None),
        ssh_key_file=path(getattr(args, "remote_ssh_key", None), "--ssh-key", pem=False),
        known_hosts_file=path(getattr(args, "remote_known_hosts", None), "--known-hosts", pem=False))


def _passwords(servers: list[ServerSettings], problems: list[str], *, stdin: TextIO,
               prompt: Callable[[str], str]) -> dict[str, str | None]:
    """The password of each server: its source, else one prompt per account, else the ticket cache."""
    out: dict[str, str | None] = {}
    prompted: dict[str, str] = {}
    for s in servers:
        if not s.needs_password:
            out[s.name] = None
            continue
        if s.password is not None:
            problem = s.password.problem()
            if problem:
                problems.append(f"server {s.name}: password: {problem}")
                continue
            out[s.name] = s.password.reveal()
            continue
        account = (s.username or "").lower()
        if account in prompted:
            out[s.name] = prompted[account]
        elif stdin.isatty():
            value = prompt(f"Password for {s.username} (server {s.name}): ")
            prompted[account] = value
            out[s.name] = value
        elif s.auth in ("kerberos", "negotiate"):
            out[s.name] = None  # the Kerberos ticket cache of that principal
        else:
            problems.append(f"server {s.name}: no password for {s.username}: give --password-env VAR or "
                            "--password-file FILE (or remote.servers.<name>.password_env / password_file), or run "
                            "interactively to be prompted")
    return out


def _progress_printer(mode: str, err: TextIO) -> Callable[[str, str, str], None] | None:
    import threading

    lock = threading.Lock()
    if mode == "none":
        return None

    def text(name: str, stage: str, message: str) -> None:
        with lock:
            _line(err, f"pybridge: {name}: {message}")
            err.flush()

    def machine(name: str, stage: str, message: str) -> None:
        with lock:
            err.write("PYBRIDGE-PROGRESS " + json.dumps({"computer": name, "stage": stage, "message": message}) + "\n")
            err.flush()
    return machine if mode == "json" else text


def _render(doc: dict[str, Any], fmt: str, err: TextIO) -> str:
    if fmt == "graph":
        from ..report import adsync, graph
        try:
            out = graph.to_graph(adsync.from_adsync(doc))
        except (ValueError, KeyError, TypeError) as exc:  # a result in a shape pybridge does not know
            _line(err, f"pybridge: {doc.get('ComputerName')}: WARNING: the result cannot be shown as --format "
                       f"graph ({type(exc).__name__}: {exc}); printed in the adsync shape")
        else:
            out.setdefault("computerName", doc.get("ComputerName"))
            return json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def run_sync(args: argparse.Namespace, remote: RemoteSettings, *, report_dir: Path | None = None,
             out: TextIO | None = None, err: TextIO | None = None, stdin: TextIO | None = None,
             session_factory: Any = None, prompt: Callable[[str], str] | None = None) -> int:
    """``pybridge sync --computer-name ...``: one JSON document per server on stdout; the worst exit code.

    *remote* is the configuration's typed remote: section (pybridge.config reads it); *report_dir*
    is the configuration's report.directory, used when neither --report-dir nor
    remote.report_directory names one.
    """
    import getpass

    from .runner import default_session, run_servers, worst_exit_code

    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin

    def usage(messages: list[str]) -> int:
        for m in messages:
            _line(err, f"pybridge: error: {m}")
        return EXIT_USAGE

    try:
        dn = resolve_dn(getattr(args, "dn", None), getattr(args, "dn_positional", None), allow_blank=False)
    except UsageError as exc:
        return usage([exc.message])
    if getattr(args, "what_if", False):
        return usage(["--what-if is not a parameter of Invoke-ADSyncSingleObjectSync on a sync server; use "
                      "--staging-mode (nothing is exported to Entra ID)"])
    if getattr(args, "wait", 0.0):
        return usage(["--wait applies to local runs only; a sync server refuses a second run itself "
                      "(no-start-ma-already-running)"])
    problems: list[str] = []
    overrides = _overrides(args, problems)
    if problems:
        return usage(problems)
    servers, problems, warnings = resolve(remote, args.computer_name or [], overrides)
    if not problems and any(s.transport == "ssh" for s in servers):
        from .ssh import find_ssh
        if find_ssh() is None:
            problems.append("--transport ssh needs the OpenSSH client (ssh) on PATH (Debian: apt-get install "
                            "openssh-client; Windows: the OpenSSH Client optional feature)")
    if not problems and any(s.auth == "credssp" and s.transport != "ssh" for s in servers):
        import importlib.util
        if importlib.util.find_spec("requests_credssp") is None:
            problems.append("--auth credssp needs the requests-credssp package (pip install requests-credssp)")
    if problems:
        return usage(problems)
    for w in warnings:
        _line(err, f"pybridge: WARNING: {w}")
    passwords = _passwords(servers, problems, stdin=stdin,
                           prompt=prompt or (lambda text: getpass.getpass(text, stream=err)))
    if problems:
        return usage(problems)
    request = SyncRequest(distinguished_name=dn, staging_mode=bool(getattr(args, "staging_mode", False)),
                          no_html_report=bool(getattr(args, "no_html_report", False)))
    reports_to: Path | None = None
    if not request.no_html_report:
        from .. import platform
        chosen = getattr(args, "report_dir", None)
        reports_to = (Path(chosen).expanduser() if chosen else remote.report_directory or report_dir
                      or platform.report_dir())
    max_parallel = getattr(args, "remote_max_parallel", None) or remote.max_parallel
    outcomes = run_servers(servers, request, passwords=passwords, report_dir=reports_to,
                           max_parallel=max(1, max_parallel), session_factory=session_factory or default_session,
                           progress=_progress_printer(getattr(args, "progress", "text") or "text", err))
    fmt = getattr(args, "format", "adsync") or "adsync"
    for o in outcomes:
        for w in o.warnings:
            _line(err, f"pybridge: {o.name}: WARNING: {w}")
        for e in o.errors:
            _line(err, f"pybridge: {o.name}: error: {e}")
        status = o.document.get("StatusInfo") or {}
        if status.get("ErrorCode"):
            _line(err, f"pybridge: {o.name}: {status.get('Status')}: {status.get('ErrorCode')}: "
                       f"{status.get('Reason')}")
            if status.get("RecommendedAction"):
                _line(err, f"pybridge: {o.name}: recommended action: {status['RecommendedAction']}")
        out.write(_render(o.document, fmt, err) + "\n")
    out.flush()
    if getattr(args, "remote_compare", False):
        if len(outcomes) < 2:
            _line(err, "pybridge: WARNING: --compare needs at least two servers")
        else:
            from .compare import compare, render_text  # only when several servers answered
            _line(err, render_text(compare([o.document for o in outcomes])))
    err.flush()
    return worst_exit_code([o.exit_code for o in outcomes])


def add_compare_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="show where Single Object Sync results differ, attribute by attribute",
        description="Compare two or more results of Single Object Sync (the adsync JSON that `pybridge sync` "
        "prints, one document per line; results of several servers in one file count one each) and show, path by "
        "path, where they differ: status, action, modified properties, and each step's details down to single "
        "attributes of the import, sync and export. Times, report paths and computer names are ignored.",
        epilog="exit codes: 0 identical, 1 different, 2 usage error or unreadable input",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", metavar="RESULT",
                   help="file with one or more results (one JSON document per line), or - for stdin")
    p.add_argument("--format", dest="compare_format", choices=("text", "json"), default="text",
                   help="text (default) or json")


def run_compare(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
                stdin: TextIO | None = None) -> int:
    from .compare import check_adsync, compare, labels_for, parse_documents, render_text, to_json

    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    docs: list[dict[str, Any]] = []
    names: list[str] = []
    stdin_used = False
    try:
        for source in args.results:
            if source == "-":
                if stdin_used:
                    raise ValueError("'-' (stdin) can be given once")
                stdin_used = True
                text, label = read_input("-", MAX_COMPARE_INPUT, stdin), "stdin"
            else:
                try:
                    text, label = read_input(source, MAX_COMPARE_INPUT, stdin), Path(source).name
                except OSError as exc:
                    raise ValueError(f"{source}: {exc.strerror or exc}") from None
            found = parse_documents(text, label)
            for i, doc in enumerate(found, 1):
                check_adsync(doc, label if len(found) == 1 else f"{label} #{i}")
                docs.append(doc)
                names.append(label if len(found) == 1 else f"{label} #{i}")
    except ValueError as exc:
        _line(err, f"pybridge compare: error: {exc}")
        return EXIT_USAGE
    if len(docs) < 2:
        _line(err, f"pybridge compare: error: need at least two results, got {len(docs)}")
        return EXIT_USAGE
    try:
        result = compare(docs, labels_for(docs, names))
        text = (json.dumps(to_json(result), ensure_ascii=False) if getattr(args, "compare_format", "text") == "json"
                else render_text(result))
    except RecursionError:
        _line(err, "pybridge compare: error: a result is nested too deeply to compare")
        return EXIT_USAGE
    if getattr(args, "compare_format", "text") == "json":
        out.write(text + "\n")
    else:
        _line(out, text)
    return EXIT_SUCCESS if result.identical else EXIT_FAILURE


__all__ = ["add_sync_arguments", "run_sync", "add_compare_parser", "run_compare"]
