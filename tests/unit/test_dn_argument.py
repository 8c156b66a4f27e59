"""The DN argument as runbooks pass it: normalised once at the entrance, or recognised as another identity."""
from __future__ import annotations

import pytest

from pybridge.cli_args import GUID, SAM, UPN, identity_kind, normalize_argument, resolve_dn
from pybridge.core import dn as dnlib

JANE = "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"


@pytest.mark.parametrize("typed", [
    " " + JANE, "\t" + JANE, JANE + "\r", JANE + "\n", JANE + "\r\n", "  " + JANE + " \r\n",
    "CN=Jane Doe, OU=Users, OU=Corp, DC=contoso, DC=com",
    "CN=Jane Doe , OU=Users ,OU=Corp,DC=contoso,DC=com",
    "CN = Jane Doe,OU= Users,OU =Corp,DC=contoso,DC=com",
    " CN=Jane Doe, OU=Users, OU=Corp, DC=contoso, DC=com\r\n",
])
def test_runbook_spellings_become_the_one_dn(typed):
    notes: list[str] = []
    assert resolve_dn(None, typed, note=notes.append) == JANE
    assert notes, "every change is said"


def test_a_dn_as_typed_is_left_alone_and_nothing_is_said():
    notes: list[str] = []
    assert resolve_dn(JANE, None, note=notes.append) == JANE and notes == []


@pytest.mark.parametrize("typed,expected", [
    # escaped spaces at the ends of a value belong to the value (RFC 4514): they stay, as typed
    ("CN=Xavier Excluded,OU=Excluded\\ ,OU=Corp,DC=contoso,DC=com",
     "CN=Xavier Excluded,OU=Excluded\\ ,OU=Corp,DC=contoso,DC=com"),
    ("CN=Xavier Excluded, OU=Excluded\\20, OU=Corp,DC=contoso,DC=com",
     "CN=Xavier Excluded,OU=Excluded\\20,OU=Corp,DC=contoso,DC=com"),
    ("CN=\\ Leading,DC=contoso,DC=com", "CN=\\ Leading,DC=contoso,DC=com"),
    ("CN=Trailing\\ ", "CN=Trailing\\ "),  # the argument's own end: the escaped space is not white space
    ("CN=Trailing\\ \r\n", "CN=Trailing\\ "),
    # an escaped backslash before a space: that space is not escaped, so it goes
    ("CN=Back\\\\ ,DC=contoso,DC=com", "CN=Back\\\\,DC=contoso,DC=com"),
    ("CN=Smith\\, John, OU=Users,DC=contoso,DC=com", "CN=Smith\\, John,OU=Users,DC=contoso,DC=com"),
    ("CN=Rock (Star) *\\\\ Ops, OU=Users", "CN=Rock (Star) *\\\\ Ops,OU=Users"),
    ("CN=a+SN=b , DC=x", "CN=a+SN=b,DC=x"),
    ("CN=Zoë Ångström, DC=x", "CN=Zoë Ångström,DC=x"),
    ("CN=Jane Doe;OU=Users", "CN=Jane Doe;OU=Users"),  # RFC 1779's ';' is left for the DN check to refuse
    ("CN=x'; Remove-Item C:\\ -Recurse #,OU=Corp", "CN=x'; Remove-Item C:\\ -Recurse #,OU=Corp"),
])
def test_escapes_stay_exactly_as_typed(typed, expected):
    assert normalize_argument(typed) == expected


def test_the_tidied_dn_splits_as_the_directory_reads_it():
    tidied = dnlib.tidy("CN=Smith\\, John , OU=Users, DC=contoso, DC=com")
    assert dnlib.split(tidied) == dnlib.split("CN=Smith\\, John,OU=Users,DC=contoso,DC=com")
    assert dnlib.rdn_value(dnlib.tidy("OU=Excluded\\ , DC=x")) == "Excluded "


def test_what_is_not_a_dn_is_returned_for_the_dn_check_to_refuse():
    for text in ("not a dn", "CN", ",,,", "=", "CN=a,garbage"):
        assert normalize_argument(text) in (text, dnlib.tidy(text))


@pytest.mark.parametrize("text,kind,value", [
    ("jdoe@contoso.com", UPN, "jdoe@contoso.com"),
    ("o'brien+x@contoso.com", UPN, "o'brien+x@contoso.com"),
    ("CONTOSO\\jdoe", SAM, "CONTOSO\\jdoe"),
    ("contoso.com\\j@doe", SAM, "contoso.com\\j@doe"),
    ("0beec449-c4ac-4699-bff7-5cb69dc422e2", GUID, "0beec449-c4ac-4699-bff7-5cb69dc422e2"),
    ("{0BEEC449-C4AC-4699-BFF7-5CB69DC422E2}", GUID, "{0BEEC449-C4AC-4699-BFF7-5CB69DC422E2}"),
    ("<GUID=0beec449-c4ac-4699-bff7-5cb69dc422e2>", GUID, "0beec449-c4ac-4699-bff7-5cb69dc422e2"),
])
def test_other_identities_are_recognised(text, kind, value):
    assert identity_kind(text) == (kind, value)
    assert normalize_argument(" " + text + "\r\n") == text  # only stripped, never tidied as a DN


@pytest.mark.parametrize("text", [JANE, "CN=a@b,DC=c", "CN=Back\\\\slash,DC=c", "jdoe", "CONTOSO\\", "\\jdoe",
                                  "@contoso.com", "jdoe@", "A\\b\\c"])
def test_dns_and_other_text_are_not_identities(text):
    assert identity_kind(text) is None


def test_blank_and_missing_arguments_keep_their_messages():
    assert resolve_dn(None, " \r\n") == " \r\n"  # left to the DN check, which refuses it as a result
