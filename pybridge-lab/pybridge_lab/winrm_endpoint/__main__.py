"""Run the WinRM test endpoint as a process (manual tests, the lab).

    python -m pybridge_lab.winrm_endpoint --users-file U --server-dir D [--engine-config C] \
        [--cert CERT --key KEY] [--host 127.0.0.1] [--port 0] [--auth negotiate,basic] \
        [--allow-unencrypted] [--computer-name AADC01] [--ready-file R] [-v]

The users file holds one ``account:password`` per line (``CONTOSO\\svc-sync:...``), so
that no password appears in a process listing. Without --cert/--key it listens on
HTTP (and insists on message encryption unless --allow-unencrypted). The test sync server (its
system drive, modules, session configurations and reports) is prepared in D; PowerShell is
$PYBRIDGE_PWSH, else pwsh on PATH. Once listening,
R is written as {"url": ..., "port": ..., "pid": ...}; SIGTERM or SIGINT stops it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..errors import LabError
from ..sync_server import SyncServer
from ._server import WinRMEndpoint


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pybridge_lab.winrm_endpoint",
                                description="Loopback WinRM endpoint standing in for a Windows sync server.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--cert", help="server certificate (PEM); with --key, listen on HTTPS")
    p.add_argument("--key", help="server private key (PEM)")
    p.add_argument("--users-file", required=True, help="lines of account:password")
    p.add_argument("--engine-config", help="pybridge configuration the server's engine syncs with")
    p.add_argument("--server-dir", required=True, help="folder of the test sync server (created if needed)")
    p.add_argument("--pybridge-module", help="pybridge's PowerShell module folder to install on the server "
                   "(default: psmodule/ADSyncDiagnostics of pybridge's source tree)")
    p.add_argument("--auth", default="negotiate,basic", help="comma-separated: negotiate, basic")
    p.add_argument("--allow-unencrypted", action="store_true", help="accept Basic over HTTP without encryption")
    p.add_argument("--computer-name", default="AADC01")
    p.add_argument("--ready-file", help="written once listening")
    p.add_argument("-v", "--verbose", action="store_true", help="log every call and refusal to stderr")
    return p


def _users(path: Path) -> dict[str, str]:
    users = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        account, sep, password = line.partition(":")
        if not sep or not account.strip() or not password:
            raise ValueError(f"{path}, line {n}: expected account:password")
        users[account.strip()] = password
    if not users:
        raise ValueError(f"{path}: no accounts")
    return users


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="winrm-endpoint: %(levelname)s: %(message)s")
    if bool(args.cert) != bool(args.key):
        print("give both --cert and --key, or neither", file=sys.stderr)
        return 2
    try:
        users = _users(Path(args.users_file))
    except (OSError, ValueError) as exc:
        print(f"cannot read the users file: {exc}", file=sys.stderr)
        return 2
    try:
        server = SyncServer(Path(args.server_dir), name=args.computer_name,
                            engine_config=Path(args.engine_config).resolve() if args.engine_config else None,
                            pybridge_module=Path(args.pybridge_module) if args.pybridge_module else None)
    except (LabError, OSError) as exc:
        print(f"cannot prepare the test sync server: {exc}", file=sys.stderr)
        return 2
    endpoint = WinRMEndpoint(
        users=users, server=server, host=args.host, port=args.port,
        certfile=Path(args.cert) if args.cert else None, keyfile=Path(args.key) if args.key else None,
        auth_methods=tuple(a.strip() for a in args.auth.split(",") if a.strip()),
        allow_unencrypted=args.allow_unencrypted)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        endpoint.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    ready = Path(args.ready_file) if args.ready_file else None
    try:
        if ready is not None:
            tmp = ready.with_name(f".{ready.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"url": endpoint.base_url, "port": endpoint.port, "pid": os.getpid()}))
            os.replace(tmp, ready)
        print(f"WinRM test endpoint listening on {endpoint.base_url}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
        if ready is not None:
            try:
                ready.unlink()
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
