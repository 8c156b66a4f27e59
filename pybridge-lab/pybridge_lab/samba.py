"""The lab's Active Directory: a throw-away Samba AD DC on a loopback address.

The DC is provisioned into one directory (``base_dir``) and runs from there;
nothing under /etc, /var/lib/samba or /run/samba is read or written, so a lab DC
coexists with a Samba installed for other purposes, and two lab DCs coexist
with each other as long as they listen on different loopback addresses (the
LDAP, LDAPS and Kerberos ports are fixed).

Layout of ``base_dir``::

    etc/smb.conf        the DC's configuration (pybridge manages the keys in MANAGED_KEYS)
    private/, state/    the directory database (sam.ldb) and friends
    tls/dc.pem, dc.key  the LDAPS/StartTLS certificate, issued by the lab CA
    secrets/            admin.password, connector.password (owner-only)
    run/                Samba's own pid file and sockets
    samba.pid           "<pid> <start time>" of the process start() launched
    samba.log           Samba's output
    provision.log       samba-tool's output (the generated admin password redacted)

Facts this module relies on (Samba 4.17, Debian 12):

* Samba refuses simple binds without TLS ("strongerAuthRequired"); LDAPS (636)
  and StartTLS (389) simple binds work, also with a down-level name
  (``CONTOSO\\svc-pybridge``). GnuTLS accepts the lab CA's EC P-256 keys.
* With ``bind interfaces only``, Samba only listens on addresses that are
  configured on an interface: a loopback address other than 127.0.0.1 must be
  added to ``lo`` first (``ip addr add 127.0.0.11/32 dev lo``). start() does
  that when needed and stop() removes what start() added.
* Samba's schema has no Exchange attributes: ``proxyAddresses`` exists,
  ``mailNickname``, ``targetAddress`` and ``msExch*`` do not. seed() therefore
  first extends the schema (extend_schema(): mailNickname,
  msExchRecipientTypeDetails and extensionAttribute1-15 with Exchange's
  attributeIDs, allowed on users, groups and contacts). Samba accepts schema
  changes over LDAP only with ``dsdb:schema update allowed = true`` (a managed
  key) and applies them after a write of ``schemaUpdateNow`` to the rootDSE.
* Samba decides whether an object is visible from the List Contents right on
  its parent (it has no "list object" mode). An object whose attributes are
  merely unreadable still answers a base search, with its DN and no
  attributes. The sample's unreadable object therefore lives in its own OU,
  on which the connector account is denied List Contents.
"""
from __future__ import annotations

import errno
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import string
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import ldap3
from ldap3.core.exceptions import LDAPException
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from pybridge_lab.errors import LabError
from pybridge_lab.ca import CertPair, issue_server_cert

__all__ = ["SambaInfo", "SambaDC", "check_prerequisites", "EXCHANGE_ATTRIBUTES"]

INSTALL_HINT = "run: apt-get install samba samba-ad-dc samba-ad-provision"

#: Samba services the lab needs: LDAP/LDAPS, Kerberos and CLDAP (DC locator).
SERVER_SERVICES = "ldap, kdc, cldap"
#: TCP ports those services listen on (fixed; the address is what varies).
TCP_PORTS = (389, 636, 88)

CONNECTOR_SAM = "svc-pybridge"
GLOBAL_SECURITY_GROUP = -2147483646  # ADS_GROUP_TYPE_GLOBAL_GROUP | ADS_GROUP_TYPE_SECURITY_ENABLED
UF_NORMAL_ACCOUNT = 0x0200
UF_ACCOUNTDISABLE = 0x0002
UF_DONT_EXPIRE_PASSWD = 0x10000

_PASSWORD_SYMBOLS = "-_.!@%+="


@dataclass
class SambaInfo:
    """Everything a client of the lab DC needs to know to reach it."""

    base_dir: Path
    realm: str
    domain: str
    base_dn: str
    host: str
    ldaps_url: str
    starttls_url: str
    ca_file: Path
    admin_dn: str
    admin_password_file: Path
    connector_username: str
    connector_dn: str
    connector_password_file: Path
    pid: int | None


# --------------------------------------------------------------------------- helpers

def _which(name: str) -> str | None:
    """Find a program, also in the sbin directories a non-login root shell may lack."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return shutil.which(name, path=path)


def check_prerequisites() -> None:
    """Raise LabError saying what to do when this machine cannot run the lab DC."""
    problems: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        problems.append("the Samba AD DC lab must run as root (samba binds ports 88, 389 and 636 "
                        "and provisioning sets file ownership); run it with sudo or as root")
    missing = [name for name in ("samba", "samba-tool") if _which(name) is None]
    if missing:
        problems.append(f"{' and '.join(missing)} not found on PATH; {INSTALL_HINT}")
    elif not Path("/usr/share/samba/setup").is_dir():
        problems.append(f"Samba's provisioning files (/usr/share/samba/setup) are missing; {INSTALL_HINT}")
    if problems:
        raise LabError("Cannot run the Samba AD DC lab: " + "; ".join(problems),
                       recommended_action=problems[0])


def generate_password(length: int = 32) -> str:
    """A random password with upper, lower, digit and symbol characters.

    Symbols are limited to ones that need no quoting in shells, YAML or LDAP.
    """
    if length < 8:
        raise ValueError("length must be at least 8")
    alphabet = string.ascii_letters + string.digits + _PASSWORD_SYMBOLS
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw)
                and any(c.isdigit() for c in pw) and any(c in _PASSWORD_SYMBOLS for c in pw)):
            return pw


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    os.chmod(path, 0o600)


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LabError(f"Cannot read the lab secret {path}: {exc.strerror}; "
                       "provision the DC first (or delete its directory and provision again)") from exc


def escape_rdn_value(value: str) -> str:
    """Escape an attribute value for a DN (RFC 4514), the way Samba prints it.

    Special characters get a backslash before them (``\\,``, ``\\\\``); that is
    also the form Samba returns, so DNs built here compare equal to DNs read back.
    """
    out = []
    for i, ch in enumerate(value):
        if ch in '"+,;<>\\=' or (i == 0 and ch in "# ") or (i == len(value) - 1 and ch == " "):
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)


def sid_to_string(raw: bytes) -> str:
    """Binary objectSid -> S-1-5-21-... (MS-DTYP 2.4.2.2)."""
    if len(raw) < 8:
        raise ValueError("SID too short")
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack("<%dI" % count, raw[8:8 + 4 * count])
    return "S-%d-%d" % (revision, authority) + "".join("-%d" % s for s in subs)


def _realm_to_dn(realm: str) -> str:
    return ",".join("DC=" + part for part in realm.lower().split("."))


def _url(scheme: str, host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"{scheme}://{h}:{port}"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _proc_start_time(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: the fields after it follow the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _proc_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _local_addresses() -> set[str]:
    """Addresses configured on this machine's interfaces (what Samba can bind to)."""
    ip = _which("ip")
    if ip is None:
        raise LabError("The 'ip' command is missing; run: apt-get install iproute2")
    out = subprocess.run([ip, "-o", "addr", "show"], capture_output=True, text=True, check=False).stdout
    return {str(ipaddress.ip_address(m)) for m in re.findall(r"\binet6?\s+([0-9A-Fa-f.:]+)/", out)}


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise LabError(f"Cannot use address {host}: {exc.strerror}") from exc
    return False


# --------------------------------------------------------------------------- the sample

@dataclass(frozen=True)
class _User:
    key: str
    cn: str
    ou: str          # RDN sequence below the base DN, e.g. "OU=Users,OU=Corp"
    sam: str
    given: str
    sn: str
    department: str
    title: str
    disabled: bool = False


_OUS = {  # key -> RDNs below the base DN; parents before children
    "ou_corp": "OU=Corp",
    "ou_users": "OU=Users,OU=Corp",
    "ou_groups": "OU=Groups,OU=Corp",
    "ou_contacts": "OU=Contacts,OU=Corp",
    "ou_excluded": "OU=Excluded,OU=Corp",
    "ou_restricted": "OU=Restricted,OU=Corp",
    "ou_service_accounts": "OU=Service Accounts",
}

_OU_DESCRIPTIONS = {
    "ou_corp": "Synchronized: the container pybridge includes",
    "ou_excluded": "Inside Corp but excluded from synchronization",
    "ou_restricted": "The connector account may not list or read what is in here",
    "ou_service_accounts": "Outside the synchronized container",
}

_USERS = (
    _User("user", "Jane Doe", "OU=Users,OU=Corp", "jdoe", "Jane", "Doe", "Sales", "Account Manager"),
    _User("user_comma", "Smith, John", "OU=Users,OU=Corp", "jsmith", "John", "Smith", "Sales",
          "Sales Representative"),
    _User("user_nonascii", "Zoë Ångström", "OU=Users,OU=Corp", "zangstrom", "Zoë", "Ångström",
          "Sales EMEA", "Solutions Engineer"),
    _User("user_disabled", "Bob Disabled", "OU=Users,OU=Corp", "bdisabled", "Bob", "Disabled",
          "Finance", "Former Controller", disabled=True),
    _User("user_excluded", "Xavier Excluded", "OU=Excluded,OU=Corp", "xexcluded", "Xavier", "Excluded",
          "Research", "Contractor"),
    _User("user_special", "Rock (Star) *\\ Ops", "OU=Users,OU=Corp", "rstar", "Rock", "Star",
          "Operations", "Site Reliability Engineer"),
    _User("hidden", "Hidden User", "OU=Restricted,OU=Corp", "hhidden", "Hidden", "User",
          "Legal", "Counsel"),
)

_GROUPS = (  # key, cn, members (keys), description, mail
    ("group_nested", "Sales EMEA", ("user_nonascii",), "Sales team, Europe", None),
    ("group", "Sales", ("user", "user_comma", "group_nested"), "All of sales", "sales"),
    ("group_pilot", "Pilot Sync", ("user", "group_nested"),
     "Pilot group for group-based filtering: jdoe directly, zangstrom only through Sales EMEA", None),
)


def _mail_nickname(name: str) -> str:
    """A mailNickname for a sample group: its name without the characters Exchange refuses (spaces...)."""
    return re.sub(r"[^A-Za-z0-9._-]", "", name)


# --------------------------------------------------------------------------- Exchange's attributes

#: (attributeSyntax, oMSyntax) of the attribute types the lab adds
_UNICODE_STRING = ("2.5.5.12", 64)
_LARGE_INTEGER = ("2.5.5.16", 65)


@dataclass(frozen=True)
class _SchemaAttribute:
    cn: str
    name: str            # lDAPDisplayName
    attribute_id: str    # Exchange's own attributeID, so that the lab's schema matches a real forest's
    syntax: tuple[str, int]
    range_upper: int | None = None


#: The Exchange attributes the sync rules read, with the cn, lDAPDisplayName and attributeID Exchange's
#: schema extension gives them, so that the lab's objects look like a real forest's. All are single-valued.
#: extensionAttribute1-10 are 1.2.840.113556.1.2.423-432 (at most 1024 characters), 11-15 are
#: 1.2.840.113556.1.2.599-603 (at most 2048): the Exchange Server 2003 SDK's schema reference lists
#: ms-Exch-Extension-Attribute-3 as .425 with rangeUpper 1024 and -11 as .599 with rangeUpper 2048;
#: published listings of Exchange's schema give the rest of both runs.
EXCHANGE_ATTRIBUTES: tuple[_SchemaAttribute, ...] = (
    _SchemaAttribute("ms-Exch-Mail-Nickname", "mailNickname", "1.2.840.113556.1.2.447", _UNICODE_STRING, 64),
    _SchemaAttribute("ms-Exch-Recipient-Type-Details", "msExchRecipientTypeDetails",
                     "1.2.840.113556.1.4.7000.102.50746", _LARGE_INTEGER),
) + tuple(
    _SchemaAttribute(f"ms-Exch-Extension-Attribute-{n}", f"extensionAttribute{n}",
                     f"1.2.840.113556.1.2.{422 + n if n <= 10 else 588 + n}", _UNICODE_STRING,
                     1024 if n <= 10 else 2048)
    for n in range(1, 16)
)

#: The auxiliary class user, group and contact all include (systemAuxiliaryClass): allowing the
#: attributes there makes them available on all three, as a forest prepared for Exchange has them.
_MAIL_RECIPIENT_CLASS = "CN=Mail-Recipient"


# --------------------------------------------------------------------------- the DC

class SambaDC:
    """One lab DC: provision it, start and stop it, fill it with the sample."""

    #: smb.conf keys pybridge sets on every start (everything else is samba-tool's).
    MANAGED_KEYS = ("interfaces", "bind interfaces only", "server services", "pid directory",
                    "ncalrpc dir", "log file", "tls enabled", "tls certfile", "tls keyfile",
                    "tls cafile", "dsdb:schema update allowed")

    def __init__(self, base_dir: Path, *, ca: CertPair, host: str = "127.0.0.1",
                 realm: str = "CONTOSO.COM", domain: str = "CONTOSO", hostname: str = "dc1") -> None:
        try:
            self.host = str(ipaddress.ip_address(host))
        except ValueError:
            raise LabError(f"The Samba lab needs an IP address to listen on, not {host!r}") from None
        self.base_dir = Path(base_dir).absolute()
        self.ca = ca
        self.realm = realm.upper()
        self.domain = domain.upper()
        self.hostname = hostname.lower()
        self.base_dn = _realm_to_dn(self.realm)
        self.dns_domain = self.realm.lower()
        self._proc: subprocess.Popen[bytes] | None = None

    # ---- paths

    @property
    def smb_conf(self) -> Path:
        return self.base_dir / "etc" / "smb.conf"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "samba.pid"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "samba.log"

    @property
    def secrets_dir(self) -> Path:
        return self.base_dir / "secrets"

    @property
    def admin_password_file(self) -> Path:
        return self.secrets_dir / "admin.password"

    @property
    def connector_password_file(self) -> Path:
        return self.secrets_dir / "connector.password"

    @property
    def _marker(self) -> Path:
        return self.base_dir / ".pybridge-provisioned"

    @property
    def _loopback_marker(self) -> Path:
        return self.base_dir / "run" / "loopback-address-added"

    @property
    def _tls_dir(self) -> Path:
        return self.base_dir / "tls"

    @property
    def admin_dn(self) -> str:
        return f"CN=Administrator,CN=Users,{self.base_dn}"

    @property
    def connector_dn(self) -> str:
        return f"CN={CONNECTOR_SAM},OU=Service Accounts,{self.base_dn}"

    # ---- provisioning

    def is_provisioned(self) -> bool:
        return self._marker.is_file() and (self.base_dir / "private" / "sam.ldb").exists()

    def provision(self) -> None:
        """Create the domain in base_dir, unless that is already done.

        Passwords are generated here and written to owner-only files in
        base_dir/secrets/; none of them ever appears on a command line.
        """
        check_prerequisites()
        if self.is_provisioned():
            meta = json.loads(self._marker.read_text())
            if (meta.get("realm"), meta.get("domain")) != (self.realm, self.domain):
                raise LabError(f"{self.base_dir} holds a DC for {meta.get('realm')} ({meta.get('domain')}), "
                               f"not {self.realm} ({self.domain}); use another directory or delete it")
            return
        if self.is_running():
            raise LabError(f"A Samba process from {self.base_dir} is running but the directory is not "
                           "fully provisioned; stop it first")
        self._clear_partial_provision()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o700)
        (self.base_dir / "run").mkdir(exist_ok=True)
        self._ensure_server_cert()
        cmd = [
            _which("samba-tool") or "samba-tool", "domain", "provision",
            "--use-rfc2307", f"--realm={self.realm}", f"--domain={self.domain}",
            "--server-role=dc", "--dns-backend=NONE", f"--targetdir={self.base_dir}",
            f"--host-name={self.hostname}",
            f"--host-ip6={self.host}" if ":" in self.host else f"--host-ip={self.host}",
        ]
        cmd += [f"--option={k} = {v}" for k, v in self._managed_settings().items()]
        started = time.monotonic()
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LabError("samba-tool domain provision did not finish within 5 minutes") from None
        # samba-tool made up an Administrator password and printed it; keep it out of the log.
        log = re.sub(r"(Admin password:\s*)\S+", r"\1<replaced, see secrets/admin.password>",
                     (res.stdout or "") + (res.stderr or ""))
        (self.base_dir / "provision.log").write_text(log, encoding="utf-8")
        if res.returncode != 0:
            tail = "\n".join(log.splitlines()[-15:])
            raise LabError(f"samba-tool domain provision failed (exit {res.returncode}); "
                           f"see {self.base_dir / 'provision.log'}:\n{tail}")
        admin_password = generate_password(32)
        self._set_password_offline("Administrator", admin_password)
        _write_secret(self.admin_password_file, admin_password)
        _write_secret(self.connector_password_file, generate_password(32))
        self._write_config()
        self._marker.write_text(json.dumps({
            "realm": self.realm, "domain": self.domain, "hostname": self.hostname,
            "host": self.host, "seconds": round(time.monotonic() - started, 2),
        }) + "\n")

    def _set_password_offline(self, sam: str, password: str) -> None:
        """Set an account's password in sam.ldb directly, the password travelling on stdin.

        samba-tool's --adminpass and --newpassword would put it on a command line
        (readable in /proc); Samba's own Python bindings, run by the interpreter
        samba-tool itself uses, take it from stdin instead.
        """
        tool = _which("samba-tool") or "samba-tool"
        try:
            shebang = Path(tool).read_text(errors="replace").splitlines()[0]
            python = shebang[2:].strip().split()[0] if shebang.startswith("#!") else "python3"
        except (OSError, IndexError):
            python = "python3"
        script = (
            "import sys\n"
            "from samba.auth import system_session\n"
            "from samba.param import LoadParm\n"
            "from samba.samdb import SamDB\n"
            "lp = LoadParm(); lp.load(sys.argv[1])\n"
            "db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)\n"
            "db.setpassword('(sAMAccountName=%s)' % sys.argv[3], sys.stdin.read().rstrip('\\n'))\n"
        )
        res = subprocess.run([python, "-c", script, str(self.smb_conf),
                              str(self.base_dir / "private" / "sam.ldb"), sam],
                             input=password + "\n", capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise LabError(f"Setting the {sam} password in {self.base_dir} failed: "
                           f"{(res.stderr or res.stdout).strip()[-500:]}")

    def _clear_partial_provision(self) -> None:
        """Remove what an interrupted provision left, but never a directory that is not ours."""
        if not self.base_dir.exists() or {p.name for p in self.base_dir.iterdir()} <= {"run"}:
            return  # new, or only what start() wrote before provisioning (run/)
        if not self.smb_conf.exists() and not (self.base_dir / "private").exists():
            raise LabError(f"{self.base_dir} is not empty and does not look like a lab DC directory; "
                           "give the lab an empty or new directory")
        for name in ("etc", "private", "state", "bind-dns", "cache", "run", "tls", "secrets"):
            shutil.rmtree(self.base_dir / name, ignore_errors=True)
        for pattern in ("*.tdb", "*.ldb", "samba.pid", "provision.log"):
            for p in self.base_dir.glob(pattern):
                p.unlink(missing_ok=True)

    def _managed_settings(self) -> dict[str, str]:
        run = self.base_dir / "run"
        return {
            "interfaces": self.host,
            "bind interfaces only": "yes",
            "server services": SERVER_SERVICES,
            "pid directory": str(run),
            "ncalrpc dir": str(run / "ncalrpc"),
            "log file": str(self.base_dir / "log.%m"),
            "tls enabled": "yes",
            "tls certfile": str(self._tls_dir / "dc.pem"),
            "tls keyfile": str(self._tls_dir / "dc.key"),
            "tls cafile": str(self.ca.cert.absolute()),
            # extend_schema() adds Exchange's attributes over LDAP; Samba refuses that without this
            "dsdb:schema update allowed": "true",
        }

    def _write_config(self) -> None:
        """Set MANAGED_KEYS in smb.conf's [global] section, leaving the rest as provisioned."""
        try:
            lines = self.smb_conf.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LabError(f"Cannot read {self.smb_conf}: {exc.strerror}") from exc

        def norm(key: str) -> str:
            return key.replace(" ", "").replace("\t", "").lower()

        managed = {norm(k) for k in self.MANAGED_KEYS}
        out: list[str] = []
        section = None
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1].strip().lower()
                out.append(line)
                if section == "global":
                    out += [f"\t{k} = {v}" for k, v in self._managed_settings().items()]
                continue
            if section == "global" and "=" in stripped and norm(stripped.split("=", 1)[0]) in managed:
                continue
            out.append(line)
        self.smb_conf.write_text("\n".join(out) + "\n", encoding="utf-8")

    def _ensure_server_cert(self) -> None:
        """Issue (or re-issue) the DC's certificate when missing, expiring or from another CA."""
        cert_path, key_path = self._tls_dir / "dc.pem", self._tls_dir / "dc.key"
        names = [self.host, f"{self.hostname}.{self.dns_domain}", "localhost"]
        try:
            ca_cert = x509.load_pem_x509_certificate(self.ca.cert.read_bytes())
        except (OSError, ValueError) as exc:
            raise LabError(f"Cannot read the lab CA certificate {self.ca.cert}: {exc}") from exc
        if cert_path.exists() and key_path.exists():
            try:
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                cert.verify_directly_issued_by(ca_cert)
                sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                has_host = ipaddress.ip_address(self.host) in sans.get_values_for_type(x509.IPAddress)
                not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
                remaining = not_after.timestamp() - time.time()
                if has_host and remaining > 7 * 86400:
                    return
            except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
                pass
        issue_server_cert(self.ca, self._tls_dir, "dc", names=names)
        os.chmod(key_path, 0o600)  # Samba refuses a key file others can read

    # ---- running

    def _read_pid_file(self) -> tuple[int, str] | None:
        try:
            pid_s, start = self.pid_file.read_text().split()
            return int(pid_s), start
        except (OSError, ValueError):
            return None

    def _live_pid(self) -> int | None:
        """The pid start() recorded, if that very process is still running and is samba."""
        rec = self._read_pid_file()
        if rec is None:
            return None
        pid, start = rec
        if _proc_start_time(pid) != start or not _proc_comm(pid).startswith("samba"):
            return None
        return pid

    def is_running(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None  # reap it: a zombie must not count as running
        return self._live_pid() is not None

    def info(self) -> SambaInfo:
        return SambaInfo(
            base_dir=self.base_dir, realm=self.realm, domain=self.domain, base_dn=self.base_dn,
            host=self.host, ldaps_url=_url("ldaps", self.host, 636),
            starttls_url=_url("ldap", self.host, 389), ca_file=self.ca.cert.absolute(),
            admin_dn=self.admin_dn, admin_password_file=self.admin_password_file,
            connector_username=f"{self.domain}\\{CONNECTOR_SAM}", connector_dn=self.connector_dn,
            connector_password_file=self.connector_password_file,
            pid=self._live_pid() if self.is_running() else None,
        )

    def start(self, timeout: float = 30) -> SambaInfo:
        """Start the DC in the background (provisioning it first if needed); return once LDAPS binds."""
        check_prerequisites()
        if self.is_running():
            self._wait_ready(timeout)
            return self.info()
        self._ensure_loopback_address()
        try:
            for port in TCP_PORTS:  # before provisioning: fail in a moment, not in seconds
                if _port_in_use(self.host, port):
                    raise LabError(
                        f"Port {port} on {self.host} is already in use, so this DC cannot start there. "
                        "Another lab DC or a system Samba (systemctl stop samba-ad-dc) may hold it; "
                        "stop it or give this lab another loopback address.")
            self.provision()
            self._ensure_server_cert()
            self._write_config()
            (self.base_dir / "run").mkdir(exist_ok=True)
            samba = _which("samba") or "samba"
            with open(self.log_file, "ab") as log:
                log.write(f"\n--- pybridge: starting samba at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
                log.flush()
                self._proc = subprocess.Popen(
                    [samba, "-s", str(self.smb_conf), "-M", "single", "--foreground",
                     "--debug-stdout", "--no-process-group"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=self.base_dir)
            pid = self._proc.pid
            start = None
            for _ in range(100):  # /proc/<pid>/stat exists as soon as fork returns; be safe anyway
                start = _proc_start_time(pid)
                if start is not None or self._proc.poll() is not None:
                    break
                time.sleep(0.01)
            self.pid_file.write_text(f"{pid} {start}\n")
            self._wait_ready(timeout)
        except BaseException:
            if self._proc is not None:
                self._kill_group(self._proc.pid, timeout=5)
                self._proc = None
            self.pid_file.unlink(missing_ok=True)
            self._remove_loopback_address()
            raise
        return self.info()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            if not self.is_running():
                raise LabError(f"Samba exited while starting; last lines of {self.log_file}:\n"
                               f"{_tail(self.log_file)}")
            try:
                conn = self._connect(self.admin_dn, _read_secret(self.admin_password_file), timeout=2)
                conn.unbind()
                return
            except LabError as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                raise LabError(f"Samba did not answer an LDAPS bind on {self.host}:636 within {timeout:g} s "
                               f"({last}); last lines of {self.log_file}:\n{_tail(self.log_file)}")
            time.sleep(0.2)

    def stop(self, timeout: float = 15) -> None:
        """Stop the samba process start() launched (and only that one)."""
        pid = self._live_pid()
        if pid is None:
            if self._read_pid_file() is not None:
                self.pid_file.unlink(missing_ok=True)  # stale: that process is gone (or is not samba)
            self._proc = None
            self._remove_loopback_address()
            return
        if not self._kill_group(pid, timeout):
            raise LabError(f"Samba (pid {pid}) did not exit after SIGTERM and SIGKILL")
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
        self._remove_loopback_address()

    def _kill_group(self, pid: int, timeout: float) -> bool:
        """SIGTERM samba's process group (its own session), then SIGKILL; True once it is gone."""
        proc = self._proc if self._proc is not None and self._proc.pid == pid else None

        def gone() -> bool:
            if proc is not None:
                return proc.poll() is not None
            return _proc_start_time(pid) is None

        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                if os.getpgid(pid) == pid:  # start() made samba a session (and group) leader
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if gone():
                    return True
                time.sleep(0.05)
        return gone()

    # ---- loopback address

    def _ensure_loopback_address(self) -> None:
        if self.host in _local_addresses():
            return
        addr = ipaddress.ip_address(self.host)
        if not (addr.version == 4 and addr.is_loopback):
            raise LabError(f"{self.host} is not an address of this machine; use 127.0.0.1 or another "
                           "127.x.y.z address (pybridge adds those to the loopback interface)")
        res = subprocess.run([_which("ip") or "ip", "addr", "add", f"{self.host}/32", "dev", "lo"],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0 and self.host not in _local_addresses():
            raise LabError(f"Cannot add {self.host} to the loopback interface: {res.stderr.strip()}; "
                           f"run: ip addr add {self.host}/32 dev lo")
        self._loopback_marker.parent.mkdir(parents=True, exist_ok=True)
        self._loopback_marker.write_text(self.host + "\n")

    def _remove_loopback_address(self) -> None:
        try:
            added = self._loopback_marker.read_text().strip()
        except OSError:
            return
        if added and added != "127.0.0.1":
            subprocess.run([_which("ip") or "ip", "addr", "del", f"{added}/32", "dev", "lo"],
                           capture_output=True, check=False)
        self._loopback_marker.unlink(missing_ok=True)

    # ---- LDAP

    def _tls(self) -> ldap3.Tls:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca.cert.absolute()))

    def _connect(self, user: str, password: str, *, timeout: float = 10) -> ldap3.Connection:
        server = ldap3.Server(self.host, port=636, use_ssl=True, tls=self._tls(),
                              get_info=ldap3.NONE, connect_timeout=timeout)
        try:
            conn = ldap3.Connection(server, user=user, password=password, receive_timeout=timeout,
                                    raise_exceptions=False, read_only=False)
            if not conn.bind():
                desc = conn.result.get("description") if conn.result else "no result"
                raise LabError(f"LDAPS bind as {user} to {self.host}:636 failed: {desc}")
        except LDAPException as exc:
            raise LabError(f"LDAPS connection to {self.host}:636 failed: {exc}") from exc
        return conn

    def connection(self) -> ldap3.Connection:
        """An Administrator connection over LDAPS that validates the lab CA."""
        return self._connect(self.admin_dn, _read_secret(self.admin_password_file))

    def connector_connection(self) -> ldap3.Connection:
        """A connection as the connector account (what pybridge itself would see)."""
        return self._connect(f"{self.domain}\\{CONNECTOR_SAM}", _read_secret(self.connector_password_file))

    # ---- the sample

    def seed(self) -> dict[str, str]:
        """Create (or bring back to) the sample objects; return key -> DN as the DC prints it.

        The schema is extended with Exchange's attributes first (extend_schema()).
        Idempotent: objects that exist are only changed where an attribute of the
        sample differs, and group memberships are set to exactly the sample's.
        """
        if not self.is_running():
            raise LabError("The lab DC is not running; start it before seeding")
        conn = self.connection()
        try:
            self._extend_schema(conn)
            return self._seed(conn)
        except LDAPException as exc:
            raise LabError(f"Seeding the lab DC failed: {exc}") from exc
        finally:
            conn.unbind()

    def extend_schema(self) -> list[str]:
        """Add Exchange's attributes (EXCHANGE_ATTRIBUTES) to the schema; return the names added.

        Samba ships without Exchange's schema extension, so mailNickname,
        msExchRecipientTypeDetails and extensionAttribute1-15 do not exist in a
        new domain. They are added as attributeSchema objects with Exchange's
        attributeIDs and allowed on the mailRecipient auxiliary class (so on users,
        groups and contacts). Idempotent: what is there is left alone, and an
        empty list says nothing had to change.
        """
        if not self.is_running():
            raise LabError("The lab DC is not running; start it before extending its schema")
        conn = self.connection()
        try:
            return self._extend_schema(conn)
        except LDAPException as exc:
            raise LabError(f"Extending the lab DC's schema failed: {exc}") from exc
        finally:
            conn.unbind()

    def _schema_dn(self, conn: ldap3.Connection) -> str:
        if not conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["schemaNamingContext"]) \
                or not conn.response:
            raise LabError(f"Cannot read the rootDSE of the lab DC: {conn.result.get('description')}")
        value = conn.response[0]["raw_attributes"]["schemaNamingContext"][0]
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def _extend_schema(self, conn: ldap3.Connection) -> list[str]:
        schema = self._schema_dn(conn)
        conn.search(schema, "(objectClass=attributeSchema)", ldap3.LEVEL, attributes=["lDAPDisplayName"])
        present = {str(v).lower() for r in conn.response if r.get("type") == "searchResEntry"
                   for v in r["attributes"].get("lDAPDisplayName", [])}
        added: list[str] = []
        for a in EXCHANGE_ATTRIBUTES:
            if a.name.lower() in present:
                continue
            attrs: dict[str, object] = {
                "cn": a.cn, "lDAPDisplayName": a.name, "attributeID": a.attribute_id,
                "attributeSyntax": a.syntax[0], "oMSyntax": str(a.syntax[1]), "isSingleValued": "TRUE",
                "adminDisplayName": a.cn, "adminDescription": a.cn,
            }
            if a.range_upper is not None:
                attrs.update(rangeLower="1", rangeUpper=str(a.range_upper))
            if not conn.add(f"CN={a.cn},{schema}", ["top", "attributeSchema"], attrs):
                self._schema_refused(conn, a.name)
            added.append(a.name)
        if added:
            self._refresh_schema(conn)  # the class below may only name attributes the schema cache knows

        recipient = f"{_MAIL_RECIPIENT_CLASS},{schema}"
        found = self._read(conn, recipient, ["mayContain"])
        if found is None:
            raise LabError(f"The lab DC's schema has no {recipient}")
        allowed = {v.lower() for v in found[1].get("maycontain", [])}
        missing = [a.name for a in EXCHANGE_ATTRIBUTES if a.name.lower() not in allowed]
        if missing:
            if not conn.modify(recipient, {"mayContain": [(ldap3.MODIFY_ADD, missing)]}):
                self._schema_refused(conn, "mailRecipient")
            self._refresh_schema(conn)
        return added

    @staticmethod
    def _refresh_schema(conn: ldap3.Connection) -> None:
        """Make the DC load the schema changes now (rather than after its cache times out)."""
        check_names, conn.check_names = conn.check_names, False  # ldap3 refuses the rootDSE's empty DN
        try:
            ok = conn.modify("", {"schemaUpdateNow": [(ldap3.MODIFY_REPLACE, ["1"])]})
        finally:
            conn.check_names = check_names
        if not ok:
            raise LabError(f"The lab DC did not reload its schema: {conn.result.get('description')} "
                           f"({conn.result.get('message', '').strip()})")

    def _schema_refused(self, conn: ldap3.Connection, what: str) -> NoReturn:
        message = conn.result.get("message", "").strip()
        if "not allowed" in message:
            raise LabError(f"The lab DC refuses schema changes ({message}): it was started before pybridge "
                           "managed 'dsdb:schema update allowed' in its smb.conf. Restart it (pybridge lab down, "
                           "then pybridge lab up) and seed again.")
        raise LabError(f"Cannot add {what} to the lab DC's schema: {conn.result.get('description')} ({message})")

    def _seed(self, conn: ldap3.Connection) -> dict[str, str]:
        dns: dict[str, str] = {}
        mail_domain = self.dns_domain
        for key, rdns in _OUS.items():
            dn = f"{rdns},{self.base_dn}"
            attrs = {"description": _OU_DESCRIPTIONS[key]} if key in _OU_DESCRIPTIONS else {}
            dns[key] = self._ensure(conn, dn, ["top", "organizationalUnit"], attrs)

        for u in _USERS:
            dn = f"CN={escape_rdn_value(u.cn)},{u.ou},{self.base_dn}"
            mail = f"{u.sam}@{mail_domain}"
            uac = UF_NORMAL_ACCOUNT | (UF_ACCOUNTDISABLE if u.disabled else 0)
            attrs = {
                "sAMAccountName": u.sam, "userPrincipalName": mail, "givenName": u.given, "sn": u.sn,
                "displayName": u.cn, "mail": mail, "mailNickname": u.sam, "proxyAddresses": [f"SMTP:{mail}"],
                "department": u.department, "title": u.title, "company": "Contoso",
                "userAccountControl": str(uac),
            }
            dns[u.key] = self._ensure(conn, dn, ["top", "person", "organizationalPerson", "user"], attrs,
                                      password=generate_password(24))

        connector_pw = _read_secret(self.connector_password_file)
        dns["connector"] = self._ensure(
            conn, self.connector_dn, ["top", "person", "organizationalPerson", "user"],
            {"sAMAccountName": CONNECTOR_SAM, "userPrincipalName": f"{CONNECTOR_SAM}@{mail_domain}",
             "displayName": "pybridge connector", "description": "Reads AD for pybridge; no extra rights",
             "userAccountControl": str(UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD)},
            password=connector_pw)
        self._ensure_connector_password(conn, connector_pw)

        dns["contact"] = self._ensure(
            conn, f"CN=Partner Contact,OU=Contacts,OU=Corp,{self.base_dn}",
            ["top", "person", "organizationalPerson", "contact"],
            {"givenName": "Partner", "sn": "Contact", "displayName": "Partner Contact",
             "mail": "partner.contact@fabrikam.com", "company": "Fabrikam"})

        for key, cn, members, description, mail_local in _GROUPS:
            attrs: dict[str, str | list[str]] = {
                "sAMAccountName": cn, "groupType": str(GLOBAL_SECURITY_GROUP), "description": description,
                "mailNickname": _mail_nickname(cn), "member": [dns[m] for m in members],
            }
            if mail_local:
                attrs["mail"] = f"{mail_local}@{mail_domain}"
            dns[key] = self._ensure(conn, f"CN={escape_rdn_value(cn)},OU=Groups,OU=Corp,{self.base_dn}",
                                    ["top", "group"], attrs)

        self._hide_from_connector(conn, dns["ou_restricted"], dns["hidden"])
        return dns

    def _ensure(self, conn: ldap3.Connection, dn: str, object_class: list[str],
                attrs: dict[str, str | list[str]], password: str | None = None) -> str:
        """Add *dn* or bring the listed attributes to the given values; return the DN Samba prints.

        *password* is set only when the object is created.
        """
        wanted = {k: (v if isinstance(v, list) else [v]) for k, v in attrs.items()}
        current = self._read(conn, dn, list(wanted))
        if current is None:
            add_attrs: dict[str, object] = {k: v for k, v in wanted.items() if v}
            if password is not None:  # in the same add: Samba enables no account without one
                add_attrs["unicodePwd"] = _unicode_pwd(password)
            if not conn.add(dn, object_class, add_attrs):
                raise LabError(f"Cannot create {dn}: {conn.result.get('description')} "
                               f"({conn.result.get('message', '').strip()})")
            current = self._read(conn, dn, list(wanted))
            if current is None:
                raise LabError(f"Created {dn} but cannot read it back")
        else:
            changes = {}
            for k, v in wanted.items():
                have = current[1].get(k.lower(), [])
                if k == "member":
                    if {x.lower() for x in have} != {x.lower() for x in v}:
                        changes[k] = [(ldap3.MODIFY_REPLACE, v)]
                elif have != v:
                    changes[k] = [(ldap3.MODIFY_REPLACE, v)]
            if changes:
                self._modify(conn, dn, changes)
        return current[0]

    @staticmethod
    def _read(conn: ldap3.Connection, dn: str, attrs: list[str]) -> tuple[str, dict[str, list[str]]] | None:
        if not conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attrs):
            if conn.result.get("description") == "noSuchObject":
                return None
            raise LabError(f"Cannot read {dn}: {conn.result.get('description')}")
        entry = conn.response[0]
        values = {k.lower(): [b.decode("utf-8") for b in v] for k, v in entry["raw_attributes"].items()}
        return entry["dn"], values

    @staticmethod
    def _modify(conn: ldap3.Connection, dn: str, changes: dict) -> None:
        if not conn.modify(dn, changes):
            raise LabError(f"Cannot update {dn}: {conn.result.get('description')} "
                           f"({conn.result.get('message', '').strip()})")

    def _ensure_connector_password(self, conn: ldap3.Connection, password: str) -> None:
        """Reset the connector's password to the one on file, only if that one does not bind."""
        try:
            self.connector_connection().unbind()
            return
        except LabError:
            pass
        self._modify(conn, self.connector_dn,
                     {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_unicode_pwd(password)])]})
        self.connector_connection().unbind()

    def _hide_from_connector(self, conn: ldap3.Connection, ou_dn: str, hidden_dn: str) -> None:
        """Deny the connector account List Contents on the OU and Read Property below it."""
        probe = self.connector_connection()
        try:
            probe.search(hidden_dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
            visible = bool(probe.response and probe.result.get("description") == "success"
                           and any(r.get("type") == "searchResEntry" for r in probe.response))
        finally:
            probe.unbind()
        if not visible:
            return
        conn.search(self.connector_dn, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
        sid = sid_to_string(conn.response[0]["raw_attributes"]["objectSid"][0])
        # LC/LO on the OU itself hides its children (Samba checks List Contents on the parent);
        # the inherit-only RP deny also makes the children's attributes unreadable.
        sddl = f"(D;;LCLO;;;{sid})(D;CIIO;RPLCLO;;;{sid})"
        res = subprocess.run(
            [_which("samba-tool") or "samba-tool", "dsacl", "set", "-s", str(self.smb_conf),
             "-H", str(self.base_dir / "private" / "sam.ldb"), "--action=deny",
             f"--objectdn={ou_dn}", f"--sddl={sddl}"],
            capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise LabError(f"samba-tool dsacl set on {ou_dn} failed: {(res.stderr or res.stdout).strip()[-500:]}")


def _unicode_pwd(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")
