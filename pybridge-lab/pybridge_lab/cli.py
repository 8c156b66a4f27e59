"""`pybridge lab up|status|down` and the `pybridge-lab` command: the same subcommands and options.

pybridge's command line finds `register` through the entry point group ``pybridge.commands`` (see
pyproject.toml) only when it is asked for a command that is not one of its own, so the product neither
imports the lab nor pays for finding it. `main` is the `pybridge-lab` console script.

`up --sync [SAMPLE]` runs the sync through pybridge's own command line (`pybridge sync --config ...`), so
its JSON on stdout and its exit code are exactly those of `pybridge sync`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__

EXIT_SUCCESS, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
HELP = "the local lab: a Samba AD DC and a Graph emulator on loopback"
DESCRIPTION = ("Provision and run a Samba AD DC and a Microsoft Graph emulator on loopback, seeded with a sample "
               "directory, and write a ready configuration.")
DIR_HELP = "lab directory (default: $PYBRIDGE_LAB_DIR or ./lab)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The lab's options and subcommands on *parser* (`pybridge lab` or `pybridge-lab`)."""
    parser.add_argument("--dir", metavar="DIR", help=DIR_HELP)
    lsub = parser.add_subparsers(dest="lab_command", metavar="ACTION")
    lsub.required = True
    up = lsub.add_parser("up", help="provision (once), start, seed, and write the configuration")
    up.add_argument("--host", default="127.0.0.1", metavar="IP",
                    help="loopback address the DC and the emulator listen on (default 127.0.0.1; another 127.x "
                    "address lets a second lab run beside the first)")
    up.add_argument("--sync", metavar="KEY", nargs="?", const="user",
                    help="then sync a sample object (default: the sample user) and print its JSON")
    status = lsub.add_parser("status", help="show what runs and where the configuration is")
    down = lsub.add_parser("down", help="stop exactly what 'lab up' started")
    for action in (up, status, down):  # `lab --dir D up` and `lab up --dir D` alike
        action.add_argument("--dir", metavar="DIR", default=argparse.SUPPRESS, help=DIR_HELP)


def register(subparsers: Any) -> None:
    """The ``pybridge.commands`` entry point: add `lab` to pybridge's command line."""
    lab = subparsers.add_parser("lab", help=HELP, description=DESCRIPTION)
    add_arguments(lab)
    lab.set_defaults(plugin_run=lambda args: run(args, prefix="pybridge lab"))


def run(args: argparse.Namespace, prefix: str = "pybridge lab") -> int:
    """Carry out `up`, `status` or `down`; messages go to stderr as "PREFIX: ...", and the exit code is returned."""
    from pybridge.errors import PyBridgeError

    from . import orchestrator

    def log(message: str) -> None:
        sys.stderr.write(f"{prefix}: {message}\n")

    lab_dir = Path(args.dir or os.environ.get("PYBRIDGE_LAB_DIR") or "lab").resolve()
    try:
        if args.lab_command == "up":
            info = orchestrator.up(lab_dir, log=log, host=args.host)
            log(f"configuration written to {info['config']}")
            if args.sync:
                samples = info["samples"]
                if args.sync not in samples:
                    log(f"unknown sample {args.sync!r} (one of {', '.join(samples)})")
                    return EXIT_USAGE
                log(f"syncing {samples[args.sync]}")
                from pybridge.cli import main as pybridge_main
                return pybridge_main(["sync", "--config", str(info["config"]), "--distinguished-name",
                                      samples[args.sync]])
            sys.stdout.write(str(info["config"]) + "\n")
            return EXIT_SUCCESS
        if args.lab_command == "status":
            status = orchestrator.status(lab_dir)
            for key, value in status.items():
                sys.stdout.write(f"{key}: {value}\n")
            return EXIT_SUCCESS if status.get("samba") == "running" and status.get("graph") == "running" \
                else EXIT_FAILURE
        orchestrator.down(lab_dir, log=log)
        return EXIT_SUCCESS
    except PyBridgeError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The `pybridge-lab` command."""
    parser = argparse.ArgumentParser(prog="pybridge-lab", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"pybridge-lab {__version__}")
    add_arguments(parser)
    return run(parser.parse_args(argv), prefix="pybridge-lab")


if __name__ == "__main__":
    raise SystemExit(main())
