"""The lab's Samba AD DC: provisioning, TLS, the sample directory, start and stop.

Needs root and Debian's samba packages; otherwise the DC tests are skipped. The
DC listens on 127.0.0.29 (override with PYBRIDGE_TEST_SAMBA_HOST) so that it does
not clash with a lab DC running on the default 127.0.0.1.
"""
from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from pybridge_lab import samba as samba_mod
from pybridge_lab.ca import create_ca
from pybridge_lab.errors import LabError
from pybridge_lab.samba import SambaDC, check_prerequisites
from tests.support import missing_prerequisite

pytestmark = pytest.mark.integration

HOST = os.environ.get("PYBRIDGE_TEST_SAMBA_HOST", "127.0.0.29")
BUSY_HOST = "127.0.0.30"  # for the port-in-use test; never gets a DC


def _require_samba() -> None:
    try:
        check_prerequisites()
    except LabError as exc:
        missing_prerequisite(f"needs root and Debian's samba packages: {exc}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_samba()
    root = tmp_path_factory.mktemp("samba-lab")
    ca = create_ca(root / "ca")
    dc = SambaDC(root / "dc", ca=ca, host=HOST)
    try:
        info = dc.start()  # provisions the new directory first (also after start() made run/ in it)
        dns = dc.seed()
        assert dc.is_provisioned()
        dc.provision()  # a second provision() is a no-op
        yield dc, info, dns, ca
    finally:
        dc.stop()


def _tls(ca_file: Path) -> ldap3.Tls:
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file))


def _ldaps(info, user: str, password: str, ca_file: Path | None = None) -> ldap3.Connection:
    server = ldap3.Server(info.host, port=636, use_ssl=True, tls=_tls(ca_file or info.ca_file),
                          get_info=ldap3.NONE, connect_timeout=5)
    return ldap3.Connection(server, user=user, password=password, auto_bind=True, receive_timeout=10)


def _connector(info) -> ldap3.Connection:
    return _ldaps(info, info.connector_username, info.connector_password_file.read_text().strip())


MULTI_VALUED = {"member", "objectclass", "proxyaddresses", "memberof"}


def _read(conn: ldap3.Connection, dn: str, attrs=("*",)) -> dict | None:
    """One entry; without schema ldap3 returns lists, so single values are unwrapped here."""
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attrs))
    entries = [r for r in conn.response if r.get("type") == "searchResEntry"]
    if conn.result["description"] == "noSuchObject" or not entries:
        return None
    entry = dict(entries[0])
    entry["attributes"] = {k: (v[0] if isinstance(v, list) and len(v) == 1 and k.lower() not in MULTI_VALUED
                               else v)
                           for k, v in entry["attributes"].items()}
    return entry


# ---------------------------------------------------------------- prerequisites (no DC needed)

def test_check_prerequisites_names_the_packages_when_samba_tool_is_missing(monkeypatch):
    real_which = samba_mod.shutil.which
    monkeypatch.setattr(samba_mod.shutil, "which",
                        lambda name, *a, **kw: None if name == "samba-tool" else real_which(name, *a, **kw))
    with pytest.raises(LabError) as err:
        check_prerequisites()
    assert "samba-tool" in str(err.value)
    assert "apt-get install samba samba-ad-dc samba-ad-provision" in str(err.value)


def test_check_prerequisites_asks_for_root(monkeypatch):
    monkeypatch.setattr(samba_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="as root"):
        check_prerequisites()


def test_stop_never_signals_a_process_that_is_not_samba(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dc = SambaDC(tmp_path / "dc", ca=create_ca(tmp_path / "ca"), host=HOST)
        dc.base_dir.mkdir()
        start = samba_mod._proc_start_time(other.pid)
        dc.pid_file.write_text(f"{other.pid} {start}\n")  # right pid and start time, but python
        assert not dc.is_running()
        dc.stop()
        assert other.poll() is None
        assert not dc.pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_escape_rdn_value_matches_rfc4514():
    assert samba_mod.escape_rdn_value("Smith, John") == "Smith\\, John"
    assert samba_mod.escape_rdn_value("Rock (Star) *\\ Ops") == "Rock (Star) *\\\\ Ops"
    assert samba_mod.escape_rdn_value(" #lead") == "\\ #lead"
    assert samba_mod.escape_rdn_value("a+b=c<d>;\"") == 'a\\+b\\=c\\<d\\>\\;\\"'


def test_generated_passwords_are_long_and_mixed():
    for _ in range(50):
        pw = samba_mod.generate_password(24)
        assert len(pw) == 24
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw)
        assert any(c.isdigit() for c in pw) and any(not c.isalnum() for c in pw)


# ---------------------------------------------------------------- the running DC

def test_info_describes_the_running_dc(lab):
    dc, info, dns, _ = lab
    assert info.realm == "CONTOSO.COM" and info.domain == "CONTOSO"
    assert info.base_dn == "DC=contoso,DC=com"
    assert info.host == HOST
    assert info.ldaps_url == f"ldaps://{HOST}:636" and info.starttls_url == f"ldap://{HOST}:389"
    assert info.connector_username == "CONTOSO\\svc-pybridge"
    assert info.connector_dn == dns["connector"]
    assert info.pid is not None and dc.is_running() and dc.info().pid == info.pid
    for f in (info.admin_password_file, info.connector_password_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        pw = f.read_text().strip()
        assert len(pw) >= 20 and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
    assert stat.S_IMODE(info.connector_password_file.parent.stat().st_mode) == 0o700


def test_connector_binds_over_ldaps_validating_the_lab_ca(lab):
    _, info, dns, _ = lab
    conn = _connector(info)
    try:
        assert conn.bound
        entry = _read(conn, dns["user"], ["sAMAccountName"])
        assert entry is not None and entry["attributes"]["sAMAccountName"] == "jdoe"
    finally:
        conn.unbind()


def test_ldaps_with_another_ca_is_refused(lab, tmp_path):
    _, info, _, _ = lab
    stranger = create_ca(tmp_path / "other-ca", common_name="not the lab CA")
    with pytest.raises(LDAPException):
        _ldaps(info, info.connector_username, info.connector_password_file.read_text().strip(),
               ca_file=stranger.cert)


@pytest.mark.parametrize("name,ok", [(HOST, True), ("dc1.contoso.com", True), ("wrong.example", False)])
def test_certificate_names_the_bind_address_and_the_dc(lab, name, ok):
    _, info, _, _ = lab
    ctx = ssl.create_default_context(cafile=str(info.ca_file))
    with socket.create_connection((info.host, 636), timeout=5) as raw:
        if ok:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname=name)


def test_starttls_bind_works(lab):
    _, info, _, _ = lab
    server = ldap3.Server(info.host, port=389, tls=_tls(info.ca_file), get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(server, user=info.connector_username,
                            password=info.connector_password_file.read_text().strip())
    try:
        conn.open()
        assert conn.start_tls()
        assert conn.bind(), conn.result
    finally:
        conn.unbind()


def test_plain_simple_bind_without_tls_is_refused(lab):
    _, info, _, _ = lab
    server = ldap3.Server(info.host, port=389, get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(server, user=info.connector_username,
                            password=info.connector_password_file.read_text().strip())
    try:
        conn.open()
        assert not conn.bind()
        assert conn.result["description"] == "strongerAuthRequired"
    finally:
        conn.unbind()


EXPECTED_USERS = {
    "user": ("jdoe", "Jane", "Doe", "OU=Users,OU=Corp", False),
    "user_comma": ("jsmith", "John", "Smith", "OU=Users,OU=Corp", False),
    "user_nonascii": ("zangstrom", "Zoë", "Ångström", "OU=Users,OU=Corp", False),
    "user_disabled": ("bdisabled", "Bob", "Disabled", "OU=Users,OU=Corp", True),
    "user_excluded": ("xexcluded", "Xavier", "Excluded", "OU=Excluded,OU=Corp", False),
    "user_special": ("rstar", "Rock", "Star", "OU=Users,OU=Corp", False),
    "hidden": ("hhidden", "Hidden", "User", "OU=Restricted,OU=Corp", False),
}


@pytest.mark.parametrize("key", sorted(EXPECTED_USERS))
def test_seeded_users(lab, key):
    dc, _, dns, _ = lab
    sam, given, sn, ou, disabled = EXPECTED_USERS[key]
    assert dns[key].endswith(f",{ou},DC=contoso,DC=com")
    conn = dc.connection()
    try:
        e = _read(conn, dns[key], ["objectGUID", "objectClass", "sAMAccountName", "userPrincipalName", "mail",
                                   "givenName", "sn", "displayName", "department", "title",
                                   "userAccountControl", "proxyAddresses", "mailNickname"])
    finally:
        conn.unbind()
    assert e is not None, dns[key]
    a, raw = e["attributes"], e["raw_attributes"]
    assert len(raw["objectGUID"][0]) == 16
    assert "user" in a["objectClass"]
    assert a["sAMAccountName"] == sam
    assert a["userPrincipalName"] == f"{sam}@contoso.com"
    assert a["mail"] == f"{sam}@contoso.com"
    assert a["proxyAddresses"] == [f"SMTP:{sam}@contoso.com"]
    assert a["mailNickname"] == sam
    assert (a["givenName"], a["sn"]) == (given, sn)
    assert a["displayName"] and a["department"] and a["title"]
    assert bool(int(a["userAccountControl"]) & 2) is disabled


def test_seeded_ous_and_contact(lab):
    dc, _, dns, _ = lab
    assert dns["ou_corp"] == "OU=Corp,DC=contoso,DC=com"
    for key in ("ou_users", "ou_groups", "ou_contacts", "ou_excluded", "ou_restricted"):
        assert dns[key].endswith(",OU=Corp,DC=contoso,DC=com")
    assert dns["ou_service_accounts"] == "OU=Service Accounts,DC=contoso,DC=com"
    assert dns["connector"] == "CN=svc-pybridge,OU=Service Accounts,DC=contoso,DC=com"
    assert dns["contact"] == "CN=Partner Contact,OU=Contacts,OU=Corp,DC=contoso,DC=com"
    conn = dc.connection()
    try:
        for key in [k for k in dns if k.startswith("ou_")]:
            assert _read(conn, dns[key], ["ou"]) is not None, key
        c = _read(conn, dns["contact"], ["objectClass", "mail", "objectGUID"])
    finally:
        conn.unbind()
    assert "contact" in c["attributes"]["objectClass"]
    assert c["attributes"]["mail"] == "partner.contact@fabrikam.com"
    assert len(c["raw_attributes"]["objectGUID"][0]) == 16


def test_seeded_groups_and_memberships(lab):
    dc, _, dns, _ = lab
    assert dns["group"] == "CN=Sales,OU=Groups,OU=Corp,DC=contoso,DC=com"
    assert dns["group_nested"] == "CN=Sales EMEA,OU=Groups,OU=Corp,DC=contoso,DC=com"
    assert dns["group_pilot"] == "CN=Pilot Sync,OU=Groups,OU=Corp,DC=contoso,DC=com"
    expected = {
        "group": {dns["user"], dns["user_comma"], dns["group_nested"]},
        "group_nested": {dns["user_nonascii"]},
        "group_pilot": {dns["user"], dns["group_nested"]},
    }
    conn = dc.connection()
    try:
        for key, members in expected.items():
            e = _read(conn, dns[key], ["member", "groupType", "objectGUID"])
            assert {m.lower() for m in e["attributes"]["member"]} == {m.lower() for m in members}, key
            assert int(e["attributes"]["groupType"]) == -2147483646  # global, security
            assert len(e["raw_attributes"]["objectGUID"][0]) == 16
        # zangstrom reaches Pilot Sync only through Sales EMEA (LDAP_MATCHING_RULE_IN_CHAIN)
        conn.search(dns["ou_corp"], f"(memberOf:1.2.840.113556.1.4.1941:={dns['group_pilot']})",
                    attributes=["sAMAccountName"])
        transitive = {r["attributes"]["sAMAccountName"][0] for r in conn.response
                      if r["type"] == "searchResEntry"}
        assert transitive == {"jdoe", "zangstrom", "Sales EMEA"}
    finally:
        conn.unbind()


def test_schema_has_exchange_attributes_on_users_groups_and_contacts(lab):
    dc, info, dns, _ = lab
    assert dc.extend_schema() == []  # seed() added them; running it again changes nothing
    schema = f"CN=Schema,CN=Configuration,{info.base_dn}"
    conn = dc.connection()
    try:
        conn.search(schema, "(objectClass=attributeSchema)", ldap3.LEVEL,
                    attributes=["lDAPDisplayName", "attributeID", "attributeSyntax", "oMSyntax", "isSingleValued"])
        defined = {r["attributes"]["lDAPDisplayName"][0]: r["attributes"] for r in conn.response
                   if r["type"] == "searchResEntry"}
        expected = {"mailNickname": ("1.2.840.113556.1.2.447", "2.5.5.12", 64),
                    "msExchRecipientTypeDetails": ("1.2.840.113556.1.4.7000.102.50746", "2.5.5.16", 65),
                    "extensionAttribute1": ("1.2.840.113556.1.2.423", "2.5.5.12", 64),
                    "extensionAttribute10": ("1.2.840.113556.1.2.432", "2.5.5.12", 64),
                    "extensionAttribute11": ("1.2.840.113556.1.2.599", "2.5.5.12", 64),
                    "extensionAttribute15": ("1.2.840.113556.1.2.603", "2.5.5.12", 64)}
        for name, (oid, syntax, om) in expected.items():
            a = defined[name]
            assert (a["attributeID"][0], a["attributeSyntax"][0], int(a["oMSyntax"][0])) == (oid, syntax, om), name
            assert a["isSingleValued"][0] == "TRUE", name
        assert {f"extensionAttribute{n}" for n in range(1, 16)} <= set(defined)
        assert len({defined[a.name]["attributeID"][0] for a in samba_mod.EXCHANGE_ATTRIBUTES}) == 17
        recipient = _read(conn, f"CN=Mail-Recipient,{schema}", ["mayContain"])["attributes"]["mayContain"]
        assert {a.name.lower() for a in samba_mod.EXCHANGE_ATTRIBUTES} <= {m.lower() for m in recipient}

        # the seed wrote mailNickname on the sample groups (users: test_seeded_users)
        for key, nickname in (("group", "Sales"), ("group_nested", "SalesEMEA"), ("group_pilot", "PilotSync")):
            assert _read(conn, dns[key], ["mailNickname"])["attributes"]["mailNickname"] == nickname

        # writable on a user, a group and a contact; single-valued; a large integer beyond 32 bits
        changes = {"mailNickname": [(ldap3.MODIFY_REPLACE, ["SystemMailbox{1f05a927}"])],
                   "msExchRecipientTypeDetails": [(ldap3.MODIFY_REPLACE, ["34359738368"])],
                   "extensionAttribute7": [(ldap3.MODIFY_REPLACE, ["x7"])]}
        for key in ("user_disabled", "group_pilot", "contact"):
            assert conn.modify(dns[key], changes), (key, conn.result)
            a = _read(conn, dns[key], list(changes))["attributes"]
            assert (a["mailNickname"], a["msExchRecipientTypeDetails"], a["extensionAttribute7"]) == \
                ("SystemMailbox{1f05a927}", "34359738368", "x7"), key
        assert not conn.modify(dns["user_disabled"], {"extensionAttribute7": [(ldap3.MODIFY_ADD, ["second"])]})
        assert not conn.modify(dns["user_disabled"], {"extensionAttribute1": [(ldap3.MODIFY_REPLACE, ["x" * 1025])]})
        assert conn.result["description"] == "invalidAttributeSyntax"  # rangeUpper 1024, as Exchange's
    finally:
        for key in ("user_disabled", "group_pilot", "contact"):
            conn.modify(dns[key], {"msExchRecipientTypeDetails": [(ldap3.MODIFY_DELETE, [])],
                                   "extensionAttribute7": [(ldap3.MODIFY_DELETE, [])]})
        conn.modify(dns["contact"], {"mailNickname": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()
    dc.seed()  # puts the sample's mailNicknames back


def test_special_character_dns_round_trip(lab):
    _, info, dns, _ = lab
    special = dns["user_special"]
    # Samba prints a backslash in a DN as "\\" (RFC 4514 allows that or "\5c").
    assert special == "CN=Rock (Star) *\\\\ Ops,OU=Users,OU=Corp,DC=contoso,DC=com"
    assert dns["user_comma"] == "CN=Smith\\, John,OU=Users,OU=Corp,DC=contoso,DC=com"
    assert dns["user_nonascii"] == "CN=Zoë Ångström,OU=Users,OU=Corp,DC=contoso,DC=com"
    assert parse_dn(special)[0][:2] == ("CN", "Rock (Star) *\\\\ Ops")
    conn = _connector(info)
    try:
        for key, cn in (("user_special", "Rock (Star) *\\ Ops"), ("user_comma", "Smith, John"),
                        ("user_nonascii", "Zoë Ångström")):
            dn = dns[key]
            e = _read(conn, dn, ["cn", "distinguishedName"])
            assert e is not None and e["attributes"]["cn"] == cn
            assert e["dn"] == dn and e["attributes"]["distinguishedName"] == dn
            conn.search(dns["ou_corp"], f"(cn={escape_filter_chars(cn)})", attributes=["cn"])
            found = [r["dn"] for r in conn.response if r["type"] == "searchResEntry"]
            assert found == [dn], key
        # the hex-escaped spelling of the same DN names the same object
        e = _read(conn, "CN=Rock (Star) *\\5c Ops,OU=Users,OU=Corp,DC=contoso,DC=com", ["sAMAccountName"])
        assert e is not None and e["attributes"]["sAMAccountName"] == "rstar"
    finally:
        conn.unbind()


def test_hidden_object_is_invisible_to_the_connector_but_not_to_admin(lab):
    dc, info, dns, _ = lab
    conn = _connector(info)
    try:
        assert _read(conn, dns["hidden"], ["*"]) is None
        assert conn.result["description"] == "noSuchObject"
        conn.search(info.base_dn, "(sAMAccountName=hhidden)", attributes=["cn"])
        assert not [r for r in conn.response if r["type"] == "searchResEntry"]
        # ... while the rest of the sample stays readable with default rights
        assert _read(conn, dns["group_pilot"], ["member"])["attributes"]["member"]
    finally:
        conn.unbind()
    admin = dc.connection()
    try:
        assert _read(admin, dns["hidden"], ["sAMAccountName"])["attributes"]["sAMAccountName"] == "hhidden"
    finally:
        admin.unbind()


def test_seed_is_idempotent_and_restores_the_sample(lab):
    dc, _, dns, _ = lab
    conn = dc.connection()
    try:
        before = {k: _read(conn, dn, ["objectGUID", "uSNChanged"])["raw_attributes"] for k, dn in dns.items()}
        assert dc.seed() == dns
        after = {k: _read(conn, dn, ["objectGUID", "uSNChanged"])["raw_attributes"] for k, dn in dns.items()}
        assert after == before  # nothing recreated, nothing rewritten
        conn.search(dns["ou_corp"], "(sAMAccountName=jdoe)", attributes=["cn"])
        assert len([r for r in conn.response if r["type"] == "searchResEntry"]) == 1

        # a test that changes the sample can put it back with seed()
        assert conn.modify(dns["user"], {"department": [(ldap3.MODIFY_REPLACE, ["Changed"])]})
        assert conn.modify(dns["group_pilot"], {"member": [(ldap3.MODIFY_DELETE, [dns["group_nested"]])]})
        assert dc.seed() == dns
        assert _read(conn, dns["user"], ["department"])["attributes"]["department"] == "Sales"
        members = _read(conn, dns["group_pilot"], ["member"])["attributes"]["member"]
        assert {m.lower() for m in members} == {dns["user"].lower(), dns["group_nested"].lower()}
    finally:
        conn.unbind()


def test_start_refuses_a_busy_address_quickly(lab, tmp_path):
    dc = SambaDC(tmp_path / "dc", ca=lab[3], host=BUSY_HOST)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((BUSY_HOST, 636))
        holder.listen()
        with pytest.raises(LabError, match="636 on 127.0.0.30 is already in use"):
            dc.start()
    assert not dc.is_provisioned()  # refused before provisioning started, so at once


def test_a_upn_held_in_two_forests_is_ambiguous(lab, samba_lab, tmp_path):
    """`pybridge sync UPN` with two AD connectors whose directories both hold the UPN (this module's DC and the
    session's, both seeded with the sample): the UPN names two objects, and the run refuses to guess."""
    import json

    import yaml
    _, info, dns, _ = lab
    samba_lab.emulator.reset()
    path = samba_lab.config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    second = dict(cfg["ad_connectors"][0], name="second-forest", servers=[info.ldaps_url],
                  tls={"validate": True, "ca_file": str(info.ca_file)},
                  account={"username": info.connector_username, "password_file": str(info.connector_password_file)})
    cfg["ad_connectors"].append(second)
    path.write_text(yaml.safe_dump(cfg))
    run = subprocess.run([sys.executable, "-m", "pybridge", "sync", "--config", str(path), "--no-html-report",
                          "jdoe@contoso.com"], capture_output=True, text=True, timeout=180)
    assert run.returncode == 1, run.stderr
    info_ = json.loads(run.stdout)["StatusInfo"]
    assert info_["Status"] == "Failure" and info_["ErrorCode"] == "IdentityAmbiguous"
    assert info_["Reason"].startswith('userPrincipalName "jdoe@contoso.com" names 2 objects: ')
    assert 'connector "contoso.com"' in info_["Reason"] and 'connector "second-forest"' in info_["Reason"]
    assert dns["user"] in info_["Reason"]
    assert "pybridge: Failure: IdentityAmbiguous:" in run.stderr
    assert samba_lab.emulator.requests == []


def test_stop_ends_samba_and_frees_the_ports(lab):
    """Runs last: it stops the module's DC."""
    dc, info, _, _ = lab
    pid = dc.info().pid
    assert pid is not None
    dc.stop()
    assert not dc.is_running() and dc.info().pid is None
    assert samba_mod._proc_start_time(pid) is None
    assert not dc.pid_file.exists()
    with socket.socket() as s:  # 636 is free again: a listener may bind there
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, 636))
    with pytest.raises(OSError):
        socket.create_connection((HOST, 636), timeout=2).close()
    dc.stop()  # stopping again is harmless
