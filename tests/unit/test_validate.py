"""What Entra ID refuses in identity data (pybridge.core.validate), the IdFix rules included, and that a run
stops at the sync step on them without writing anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from pybridge.core import validate
from pybridge.core.model import Status, StepKey
from pybridge.sync.state import Options
from pybridge.sync.steps import run_steps
from tests.unit.fakes import BASE, FakeDirectory, FakeTenant, environment, user_attributes

GOOD = {"userPrincipalName": "jane.doe@contoso.com", "displayName": "Jane Doe", "mailNickname": "jane.doe",
        "accountEnabled": True, "mail": "jane.doe@contoso.com"}


def test_good_values_pass():
    assert validate.problems("user", GOOD, True, ["SMTP:jane.doe@contoso.com", "X500:/o=Contoso/cn=jane"]) == []


@pytest.mark.parametrize("change, words", [
    ({"mail": "jane doe@contoso.com"}, 'mail "jane doe@contoso.com" is not a valid address'),
    ({"mail": "jane.doe@contoso"}, "is not a valid address"),
    ({"mail": "a" * 250 + "@contoso.com"}, "at most 256 characters"),
    ({"mailNickname": ".jane"}, "begins or ends with a period"),
    ({"mailNickname": "jane."}, "begins or ends with a period"),
    ({"userPrincipalName": "jane@" + "d" * 45 + ".com"}, "characters after the @; Entra ID allows at most 48"),
])
def test_values_entra_refuses(change, words):
    found = validate.problems("user", {**GOOD, **change}, True)
    assert len(found) == 1 and words in found[0], found


@pytest.mark.parametrize("proxy, words", [
    ("smtp:jane doe@contoso.com", "is not a valid SMTP address"),
    ("SMTP:jane<doe>@contoso.com", "is not a valid SMTP address"),
    ("smtp:jane@contoso", "is not a valid SMTP address"),
    ("smtp:" + "j" * 260 + "@contoso.com", "allows at most 256 per value"),
])
def test_proxy_addresses_entra_refuses(proxy, words):
    found = validate.problems("user", GOOD, False, ["SMTP:jane.doe@contoso.com", proxy])
    assert len(found) == 1 and words in found[0], found


def test_a_bad_proxy_address_stops_the_run_at_the_sync_step_and_nothing_is_written(tmp_path: Path):
    dn = f"CN=Jane Doe,OU=Users,OU=Corp,{BASE}"
    directory, tenant = FakeDirectory(), FakeTenant()
    directory.add(dn, **user_attributes("Jane Doe", mail="jane.doe@contoso.com",
                                        proxyAddresses=["SMTP:jane.doe@contoso.com", "smtp:jane doe@contoso.com"]))
    env = environment(tmp_path, directory, tenant)
    try:
        result = run_steps(env, dn, Options())
    finally:
        env.store.close()
    assert result.status_info.status == Status.FAILURE
    assert result.status_info.error_code == "IdentityDataValidationFailed"
    assert "smtp:jane doe@contoso.com" in (result.status_info.reason or "")
    assert result.step(StepKey.SYNC).status == Status.FAILURE
    assert [c for c in tenant.calls if c[0] in ("create", "update", "change_members")] == []
