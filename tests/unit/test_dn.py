import pytest

from pybridge.core import dn


@pytest.mark.parametrize("text, value", [
    (r"CN=Smith\, John,OU=Users,DC=contoso,DC=com", "Smith, John"),
    (r"CN=Rock (Star) *\5c Ops,OU=Users,DC=contoso,DC=com", "Rock (Star) *\\ Ops"),
    (r"CN=\#hash\ ,DC=contoso,DC=com", "#hash "),
    (r"CN=Zo\C3\AB,DC=contoso,DC=com", "Zoë"),
    ("CN=Zoë Ångström,DC=contoso,DC=com", "Zoë Ångström"),
    (r"CN=a\"b,DC=contoso,DC=com", 'a"b'),
    (r"CN=a\\b,DC=contoso,DC=com", "a\\b"),
    (r"CN=a\+b,DC=contoso,DC=com", "a+b"),
    (r"CN=\ lead,DC=contoso,DC=com", " lead"),
    (r"CN=x\;y\<z\>\=,DC=contoso,DC=com", "x;y<z>="),
])
def test_rfc4514_escapes_are_read_exactly(text, value):
    assert dn.rdn_value(text) == value


def test_equivalent_spellings_compare_equal():
    assert dn.canonical(r"CN=Zo\C3\AB,OU=Users,DC=contoso,DC=com") == dn.canonical("cn=ZOË,ou=users,dc=CONTOSO,dc=com")
    assert dn.canonical(r"CN=Smith\2C John,DC=x") == dn.canonical(r"CN=Smith\, John,DC=x")
    assert dn.canonical("CN=a,DC=x") != dn.canonical("CN=b,DC=x")


def test_multi_valued_rdn():
    assert dn.split(r"CN=a\+b+SN=c,DC=x")[0] == (("cn", "a+b"), ("sn", "c"))


@pytest.mark.parametrize("bad", ["", "   ", "garbage", "CN=a,,DC=x", "CN=a\\", r"CN=a\zz,DC=x", "CN=a\x00b,DC=x",
                                 "=a", "CN=,DC=x", "CN=" + "a" * 70000 + ",DC=x", r"CN=\C3,DC=x"])
def test_malformed_dns_raise_pybridge_error(bad):
    with pytest.raises(dn.InvalidDnError) as info:
        dn.split(bad)
    assert info.value.error_code == "InvalidDistinguishedName"
    assert "\x00" not in info.value.message


def test_containment():
    assert dn.is_descendant(r"CN=Smith\, John,OU=Users,OU=Corp,DC=contoso,DC=com", "ou=corp,dc=contoso,dc=com")
    assert dn.is_descendant("OU=Corp,DC=contoso,DC=com", "OU=Corp,DC=contoso,DC=com")
    assert not dn.is_descendant("CN=x,OU=Corporate,DC=contoso,DC=com", "OU=Corp,DC=contoso,DC=com")
    assert not dn.is_descendant("DC=contoso,DC=com", "OU=Corp,DC=contoso,DC=com")
    assert dn.domain_fqdn("CN=x,OU=y,DC=contoso,DC=co,DC=uk") == "contoso.co.uk"


def test_a_kept_answer_is_never_shared_and_a_refusal_is_given_every_time():
    text = r"CN=Smith\, John,OU=Users,DC=contoso,DC=com"
    first = dn.split(text)
    first.pop()  # a caller changing its list cannot change the next caller's
    assert dn.split(text) == [(("cn", "Smith, John"),), (("ou", "Users"),), (("dc", "contoso"),), (("dc", "com"),)]
    for _ in range(2):
        with pytest.raises(dn.InvalidDnError):
            dn.split("CN=a,,DC=x")
        with pytest.raises(dn.InvalidDnError):
            dn.canonical(None)  # type: ignore[arg-type]
