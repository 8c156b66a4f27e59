"""Run the Graph emulator as a process (the lab's way).

    python -m pybridge_lab.graph_emulator --cert C --key K --tenant-id T --client-id I \
        --client-secret-file F [--client-certificate-file P] [--domain contoso.com ...] \
        [--federated-domain D ...] [--unverified-domain D ...] \
        [--host 127.0.0.1] [--port 0] [--page-size 100] [--replication-delay SECONDS] \
        --ready-file R

The client secret is read from a file so that it never appears in a process listing.
Once listening, R is written atomically as {"url": base_url, "pid": pid}. SIGTERM or
SIGINT stops the server; the exit status is then 0 and R is removed.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from ._emulator import GraphEmulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pybridge_lab.graph_emulator",
                                description="Microsoft Graph v1.0 emulator for the lab.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--tenant-id", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret-file", help="file holding the app's client secret")
    p.add_argument("--client-certificate-file",
                   help="PEM certificate registered for certificate (JWT assertion) sign-in")
    p.add_argument("--domain", action="append", dest="domains",
                   help="verified domain (repeatable; the first is the default domain)")
    p.add_argument("--federated-domain", action="append", dest="federated_domains",
                   default=[], help="verified federated domain (repeatable)")
    p.add_argument("--unverified-domain", action="append", dest="unverified_domains",
                   default=[], help="domain added to the tenant but not verified (repeatable)")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--replication-delay", type=float, default=0.0, metavar="SECONDS",
                   help="objects created through Graph stay invisible to reads for this long "
                        "(Entra ID's eventual consistency; default 0)")
    p.add_argument("--ready-file", required=True)
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return p


def _write_atomically(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.client_secret_file and not args.client_certificate_file:
        print("need --client-secret-file or --client-certificate-file", file=sys.stderr)
        return 2
    secret = None
    if args.client_secret_file:
        secret = Path(args.client_secret_file).read_text().strip()
        if not secret:
            print(f"{args.client_secret_file} is empty", file=sys.stderr)
            return 2
    cert_pem = Path(args.client_certificate_file).read_bytes() \
        if args.client_certificate_file else None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        emulator = GraphEmulator(
            certfile=args.cert, keyfile=args.key, tenant_id=args.tenant_id,
            client_id=args.client_id, client_secret=secret, client_certificate_pem=cert_pem,
            host=args.host, port=args.port, page_size=args.page_size,
            domains=args.domains or ("contoso.com", "contoso.onmicrosoft.com"),
            federated_domains=args.federated_domains,
            unverified_domains=args.unverified_domains,
            replication_delay=args.replication_delay)
    except ValueError as exc:   # e.g. a domain given twice, a bad page size
        print(str(exc), file=sys.stderr)
        return 2
    emulator.verbose = args.verbose
    try:
        emulator.start()
    except OSError as exc:   # e.g. the port is taken
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    ready = Path(args.ready_file)
    try:
        _write_atomically(ready, json.dumps({"url": emulator.base_url, "pid": os.getpid()}))
        print(f"Graph emulator listening on {emulator.base_url}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        try:
            if json.loads(ready.read_text()).get("pid") == os.getpid():
                ready.unlink()
        except (OSError, ValueError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
