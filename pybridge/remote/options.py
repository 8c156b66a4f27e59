"""The options of `pybridge sync` that run it on remote sync servers, and the names they accept.

Kept apart from the rest of pybridge.remote: every `pybridge sync` builds its parser with these options,
and a sync on this machine must not pay for loading the remote path (docs/performance.md).
"""
from __future__ import annotations

import argparse
from typing import Any

from ..cli_args import integer, seconds

TRANSPORTS = ("psrp", "winrs", "ssh")
AUTHS = ("negotiate", "kerberos", "ntlm", "credssp", "certificate", "basic")
#: Where Entra Connect installs the module holding Invoke-ADSyncSingleObjectSync.
MICROSOFT_MODULE_PATH = r"C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics\ADSyncDiagnostics.psm1"
#: pybridge's own PowerShell module, imported by name from the server's PSModulePath.
PYBRIDGE_MODULE_NAME = "ADSyncDiagnostics"
MODULE_SHORTCUTS = {"microsoft": MICROSOFT_MODULE_PATH, "pybridge": PYBRIDGE_MODULE_NAME}


class _NoArgvSecret(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(f"{option_string}: passwords are never taken from the command line (they would show in the "
                     "process list and the shell history); use --password-env VAR, --password-file FILE, or let "
                     "pybridge prompt for it")


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``pybridge sync`` that run it on remote sync servers."""
    g = parser.add_argument_group(
        "remote sync servers", "With --computer-name, the sync runs ON the named Windows sync server(s) through "
        "WinRM or PowerShell's SSH remoting (Invoke-ADSyncSingleObjectSync there); the result comes back here. Settings not given here come "
        "from the configuration's remote: section (remote.servers.<name>, then remote.defaults).")
    g.add_argument("--computer-name", dest="computer_name", action="append", metavar="NAME[,NAME...]",
                   help="sync server(s) to run on: names from remote.servers, server groups from remote.groups, or "
                   "host names; comma-separated or repeated; several servers run in parallel")
    g.add_argument("--transport", dest="remote_transport", choices=TRANSPORTS,
                   help="psrp: PowerShell Remoting over WinRM through pypsrp (default); winrs: a WinRS shell running "
                   "powershell.exe through pywinrm, for endpoints that allow only WinRS; ssh: PowerShell's SSH "
                   "remoting (the server's 'powershell' subsystem) through the OpenSSH client")
    g.add_argument("--port", dest="remote_port", type=integer(minimum=1, maximum=65535), metavar="PORT",
                   help="WinRM port (default 5986 with HTTPS, 5985 with HTTP), or the SSH port (default 22)")
    g.add_argument("--use-ssl", dest="remote_use_ssl", action="store_const", const=True, default=None,
                   help="HTTPS (the default)")
    g.add_argument("--no-ssl", dest="remote_use_ssl", action="store_const", const=False,
                   help="plain HTTP: only with message encryption (negotiate, kerberos, ntlm, credssp), or Basic "
                   "with --allow-unencrypted")
    g.add_argument("--auth", dest="remote_auth", choices=AUTHS,
                   help="authentication: negotiate (default: Kerberos, else NTLM), kerberos, ntlm, credssp, "
                   "certificate (HTTPS client certificate), basic (local accounts)")
    g.add_argument("--username", dest="remote_username", metavar="USER",
                   help="account on the server: DOMAIN\\user or user@domain (default: the Kerberos ticket cache; "
                   "with --transport ssh, ssh's own default)")
    g.add_argument("--ssh-key", dest="remote_ssh_key", metavar="FILE",
                   help="with --transport ssh: the private key to log on with (default: ssh-agent and ssh's "
                   "default keys); it must not need a passphrase, or be loaded in ssh-agent")
    g.add_argument("--known-hosts", dest="remote_known_hosts", metavar="FILE",
                   help="with --transport ssh: the known_hosts file holding the servers' host keys (default: "
                   "~/.ssh/known_hosts); an unknown or changed host key is always refused")
    pw = g.add_mutually_exclusive_group()
    pw.add_argument("--password-env", dest="remote_password_env", metavar="VAR",
                    help="read the password from environment variable VAR")
    pw.add_argument("--password-file", dest="remote_password_file", metavar="FILE",
                    help="read the password from the first line of FILE (keep it owner-only)")
    g.add_argument("--password", nargs="?", action=_NoArgvSecret, help=argparse.SUPPRESS)
    g.add_argument("--certificate-file", dest="remote_certificate_file", metavar="PEM",
                   help="client certificate for --auth certificate")
    g.add_argument("--certificate-key-file", dest="remote_certificate_key_file", metavar="PEM",
                   help="its private key (unencrypted PEM)")
    g.add_argument("--ca-file", dest="remote_ca_file", metavar="PEM",
                   help="CA bundle that issued the servers' HTTPS certificates (default: the system's store)")
    g.add_argument("--allow-unencrypted", dest="remote_allow_unencrypted", action="store_const", const=True,
                   default=None, help="allow Basic authentication over plain HTTP: the password and the result "
                   "cross the network in clear text (warned each time)")
    g.add_argument("--module-path", dest="remote_module_path", metavar="PATH",
                   help="module to import on the server: a path or module name, or 'microsoft' (default: "
                   f"{MODULE_SHORTCUTS['microsoft']}) or 'pybridge' (pybridge's module, by name)")
    g.add_argument("--configuration-name", dest="remote_configuration_name", metavar="NAME",
                   help="PowerShell session configuration (JEA endpoint) for psrp (default Microsoft.PowerShell)")
    g.add_argument("--connect-timeout", dest="remote_connect_timeout", type=seconds(allow_minimum=False),
                   metavar="SECONDS",
                   help="seconds to wait for a connection (default 15)")
    g.add_argument("--operation-timeout", dest="remote_operation_timeout", type=seconds(allow_minimum=False),
                   metavar="SECONDS",
                   help="seconds the remote run may take in all (default 600)")
    g.add_argument("--retries", dest="remote_retries", type=integer(minimum=0, maximum=10), metavar="N",
                   help="retries when a server cannot be reached or throttles before anything ran (default 2, "
                   "with exponential backoff)")
    g.add_argument("--max-parallel", dest="remote_max_parallel", type=integer(minimum=1, maximum=256), metavar="N",
                   help="servers run at the same time (default remote.max_parallel, 8)")
    g.add_argument("--compare", dest="remote_compare", action="store_true",
                   help="after the run, show on stderr where the servers' results differ, attribute by attribute")
