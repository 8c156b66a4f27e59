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

#: The sample objects `lab up` seeds, by the key `--sync KEY` takes, and what each shows (samba.py seeds them;
#: tests/unit/test_lab_dist.py keeps the two lists equal).
SAMPLES = {
    "user": "Jane Doe: a user in scope (what --sync alone syncs)",
    "user_comma": "Smith, John: a comma in the name, escaped in the DN",
    "user_nonascii": "Zoë Ångström: non-ASCII characters",
    "user_special": "Rock (Star) *\\ Ops: LDAP filter characters in the name",
    "user_disabled": "Bob Disabled: a disabled account",
    "user_excluded": "Xavier Excluded: in the excluded OU, out of scope (exit 3)",
    "hidden": "Hidden User: the connector account may not read it (ObjectNotAccessible)",
    "connector": "svc-pybridge: the connector account, outside the synchronised OU",
    "contact": "Partner Contact: a contact (Graph cannot write contacts)",
    "group": "Sales: a security group with a nested group",
    "group_nested": "Sales EMEA: the group nested in Sales",
    "group_pilot": "Pilot Sync: the filtering group for group-based filtering",
}
SAMPLES_EPILOG = ("sample objects (lab up --sync KEY; lab status shows their DNs):\n"
                  + "".join(f"  {key:<15}{text}\n" for key, text in SAMPLES.items()))


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
                    help="then sync a sample object (default: user, the sample user) and print its JSON; KEY is one "
                    "of: " + ", ".join(SAMPLES))
    up.epilog, up.formatter_class = SAMPLES_EPILOG, argparse.RawDescriptionHelpFormatter
    status = lsub.add_parser("status", help="show what runs, where, the configuration and the sample objects",
                             epilog=SAMPLES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    status.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    down = lsub.add_parser("down", help="stop exactly what 'lab up' started")
    for action in (up, status, down):  # `lab --dir D up` and `lab up --dir D` alike
        action.add_argument("--dir", metavar="DIR", default=argparse.SUPPRESS, help=DIR_HELP)


def register(subparsers: Any) -> None:
    """The ``pybridge.commands`` entry point: add `lab` to pybridge's command line."""
    lab = subparsers.add_parser("lab", help=HELP, description=DESCRIPTION, epilog=SAMPLES_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(lab)
    lab.set_defaults(plugin_run=lambda args: run(args, prefix="pybridge lab"))


def run(args: argparse.Namespace, prefix: str = "pybridge lab") -> int:
    """Carry out `up`, `status` or `down`; messages go to stderr as "PREFIX: ...", and the exit code is returned."""
    from pybridge.errors import PyBridgeError

    from . import orchestrator

    def log(message: str) -> None:
        from pybridge.terminal import for_terminal
        sys.stderr.write(f"{prefix}: {for_terminal(message, newlines=True)}\n")

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
            if getattr(args, "json", False):
                import json
                sys.stdout.write(json.dumps(status, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(_status_text(status))
            return EXIT_SUCCESS if status.get("samba") == "running" and status.get("graph") == "running" \
                else EXIT_FAILURE
        orchestrator.down(lab_dir, log=log)
        return EXIT_SUCCESS
    except PyBridgeError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE


def _status_text(status: dict[str, Any]) -> str:
    """`lab status` for a person: what runs where, the configuration, and the samples to try."""
    from pybridge.terminal import for_terminal, table

    lines = [f"{key}: {for_terminal(value)}\n" for key, value in status.items() if key != "samples"]
    samples = status.get("samples") or {}
    if samples:
        config = status.get("config") or "CONFIG"
        lines.append(f"\nsample objects: pybridge lab up --sync KEY, or pybridge sync --config {for_terminal(config)} "
                     "\"DN\"\n")
        lines.append(table(("KEY", "DN"), [(key, dn) for key, dn in samples.items()]))
    return "".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The `pybridge-lab` command."""
    parser = argparse.ArgumentParser(prog="pybridge-lab", description=DESCRIPTION, epilog=SAMPLES_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pybridge-lab {__version__}")
    add_arguments(parser)
    return run(parser.parse_args(argv), prefix="pybridge-lab")


if __name__ == "__main__":
    raise SystemExit(main())
