"""The HTML report of a real sync, opened in headless Chromium: tabs, escaping, no console errors, and a page
that leads with what went wrong.

Screenshots (a success, a failure, a large group) are saved under each test's tmp dir and copied to
$PYBRIDGE_REPORT_SCREENS (default: <tmp>/pybridge-report-screens) so that a person can look at them.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import ldap3
import pytest

from tests.integration.conftest import run_cli
from tests.support import missing_prerequisite

pytestmark = pytest.mark.integration
XSS_DEPT = "<script>alert(1)</script>"
XSS_TITLE = '"><img src=x onerror=alert(1)>'
SCREENS = Path(os.environ.get("PYBRIDGE_REPORT_SCREENS") or Path(tempfile.gettempdir()) / "pybridge-report-screens")
VIEWPORT = (1280, 800)


@pytest.fixture
def browser(tmp_path):
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_bin:
        missing_prerequisite("needs Debian's chromium and chromium-driver (CI installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={tmp_path / 'chromium'}",
                "--window-size=1200,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def test_report_in_a_real_browser(lab, tmp_path, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    dn = lab.dns["user"]
    conn = lab.dc.connection()
    try:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, [XSS_DEPT])],
                         "title": [(ldap3.MODIFY_REPLACE, [XSS_TITLE])]})
        r = run_cli("sync", "--config", str(lab.config(tmp_path)), dn)
    finally:
        conn.modify(dn, {"department": [(ldap3.MODIFY_REPLACE, ["Sales"])],
                         "title": [(ldap3.MODIFY_REPLACE, ["Account Manager"])]})
        conn.unbind()
    assert r.code == 0, r.stderr
    report = Path(r.json["ReportPath"])
    assert report.parent == tmp_path / "reports" and f"pybridge: report: {report}" in r.stderr

    browser.get(report.resolve().as_uri())
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - an injected alert() would be open now
    assert browser.find_element(By.ID, "steps").is_displayed()
    assert not browser.find_element(By.ID, "summary").is_displayed()  # tabs work: one section at a time
    expected = {"troubleshooting": "nothing to troubleshoot", "modified": "department", "summary": "pybridge version",
                "steps": "ExportSpecificObject"}
    for tab, text in expected.items():
        browser.find_element(By.CSS_SELECTOR, f'nav [data-tab="{tab}"]').click()
        section = browser.find_element(By.ID, tab)
        assert section.is_displayed(), tab
        assert text in section.text, tab
        for other in expected:
            if other != tab:
                assert not browser.find_element(By.ID, other).is_displayed()
        browser.save_screenshot(str(tmp_path / f"report-{tab}.png"))
    # the directory's markup is shown as text
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="modified"]').click()
    modified = browser.find_element(By.ID, "modified").text
    assert XSS_DEPT in modified and XSS_TITLE in modified
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []
    # a Modified Properties link leads to its row in the export step's attribute table
    browser.find_element(By.CSS_SELECTOR, 'a[href="#export-attr-department"]').click()
    row = browser.find_element(By.ID, "export-attr-department")
    assert row.is_displayed() and browser.find_element(By.ID, "steps").is_displayed()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert (tmp_path / "report-summary.png").stat().st_size > 1000


def test_report_is_readable_without_javascript(lab, tmp_path, browser):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user_comma"], "--staging-mode")
    report = Path(r.json["ReportPath"])
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(report.resolve().as_uri())
    from selenium.webdriver.common.by import By
    for section in ("steps", "troubleshooting", "modified", "summary"):
        assert browser.find_element(By.ID, section).is_displayed(), section
    assert "Staging Mode" in browser.find_element(By.ID, "summary").text


def test_no_html_report(lab, tmp_path):
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"], "--no-html-report", "--what-if")
    assert r.code == 0 and r.json["ReportPath"] is None
    assert not (tmp_path / "reports").exists()


# -- the report leads with what went wrong ----------------------------------------------------------------------
def viewport(browser, width: int = VIEWPORT[0], height: int = VIEWPORT[1], media: str = "screen") -> None:
    """Exactly this viewport (the window's own size includes what headless Chromium reserves)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})


def screenshot(browser, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 5000, name  # a rendered page, not an empty one
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, SCREENS / path.name)
    return path


def rect(browser, element) -> dict:
    return browser.execute_script("var r = arguments[0].getBoundingClientRect();"
                                  "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};", element)


# Every header and every name cell (all but the value cells, which may wrap anywhere) is at least as wide as the
# longest word it holds: no "Deta il". Closed <details> are opened first so that the attribute tables count.
SQUEEZED_CELLS = """
document.querySelectorAll("details").forEach(function (d) { d.open = true; });
var ctx = document.createElement("canvas").getContext("2d"), bad = [];
document.querySelectorAll("th, td:not(.v)").forEach(function (c) {
  if (!c.offsetParent) { return; }
  var s = getComputedStyle(c);
  ctx.font = [s.fontStyle, s.fontWeight, s.fontSize, s.fontFamily].join(" ");
  // a line may break after a hyphen, and between the words of an attribute name's camelCase
  var words = c.innerText.split(/\\s+|(?<=-)|(?<=[a-z0-9])(?=[A-Z])/).filter(Boolean);
  var widths = words.map(function (w) { return ctx.measureText(w).width; });
  var longest = Math.max.apply(null, widths.concat([0]));
  var room = c.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  if (longest > room + 1) { bad.push(c.innerText.slice(0, 60) + " (" + longest.toFixed(0) + " > " + room + ")"); }
});
return bad;
"""
# Tables that run past the page's right edge (in print, what runs past it is lost).
WIDER_THAN_PAGE = """
var page = document.documentElement.clientWidth, bad = [];
document.querySelectorAll("table").forEach(function (t) {
  if (t.offsetParent && t.getBoundingClientRect().right > page + 1) { bad.push(t.innerText.slice(0, 60)); }
});
return bad;
"""


def assert_columns_readable(browser, report: Path) -> None:
    from selenium.webdriver.common.by import By

    for width, media in ((VIEWPORT[0], "screen"), (718, "print")):  # A4 portrait at 96 dpi, 10 mm margins
        viewport(browser, width, VIEWPORT[1], media)
        browser.get(report.resolve().as_uri())
        for tab in ("steps", "troubleshooting", "modified", "summary"):
            if media == "screen":
                browser.find_element(By.CSS_SELECTOR, f'nav [data-tab="{tab}"]').click()
            assert browser.execute_script(SQUEEZED_CELLS) == [], (media, tab)
            assert browser.execute_script(WIDER_THAN_PAGE) == [], (media, tab)
            if media == "print":
                break  # in print every section is shown at once
    viewport(browser)


def test_a_failure_opens_on_troubleshooting_with_the_banner_in_the_first_viewport(lab, tmp_path, browser):
    from selenium.webdriver.common.by import By

    # nine steps succeed, the tenth fails: the case whose red card used to sit below the fold
    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["contact"])
    assert r.code == 1 and r.json["StatusInfo"]["ErrorCode"] == "UnsupportedObjectType", r.stderr
    report = Path(r.json["ReportPath"])
    assert report.name.endswith("-Partner_Contact.htm") and report.name.startswith("ADSyncSingleObjectSyncResult-")
    viewport(browser)
    browser.get(report.resolve().as_uri())
    banner = browser.find_element(By.ID, "banner")
    box = rect(browser, banner)
    assert banner.is_displayed() and 0 <= box["top"] and box["bottom"] <= VIEWPORT[1], box
    assert browser.execute_script("return window.scrollY") == 0
    for text in ("Failure", "UnsupportedObjectType", "Graph offers no write API for organizational contacts",
                 "Recommended action: Sync contacts with Entra Connect or Cloud Sync",
                 "Step 10 (ExportSpecificObject) failed"):
        assert text in banner.text, text
    # it opens on Troubleshooting & Recommendations
    assert browser.find_element(By.ID, "troubleshooting").is_displayed()
    assert not browser.find_element(By.ID, "steps").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="troubleshooting"]').get_attribute(
        "aria-selected") == "true"
    assert "nothing to troubleshoot" not in browser.find_element(By.TAG_NAME, "body").text
    screenshot(browser, tmp_path, "report-failure")
    # the banner's link leads to the failed step, shown on the Steps tab and scrolled into view
    browser.find_element(By.ID, "banner-step").click()
    step = browser.find_element(By.ID, "step-10")
    assert browser.find_element(By.ID, "steps").is_displayed() and step.is_displayed()
    box = rect(browser, step)
    assert box["top"] < VIEWPORT[1] and box["bottom"] > 0, box
    assert "Failure" in step.text and "ExportSpecificObject" in step.text
    screenshot(browser, tmp_path, "report-failure-step")
    # Modified Properties say that nothing was written
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="modified"]').click()
    modified = browser.find_element(By.ID, "modified").text
    assert "not written" in modified or "No properties were modified." in modified
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert_columns_readable(browser, report)


def test_a_failure_without_javascript_still_leads_with_the_banner(lab, tmp_path, browser):
    from selenium.webdriver.common.by import By

    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["contact"])
    viewport(browser)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(Path(r.json["ReportPath"]).resolve().as_uri())
    box = rect(browser, browser.find_element(By.ID, "banner"))
    assert 0 <= box["top"] and box["bottom"] <= VIEWPORT[1]
    trouble, steps = (rect(browser, browser.find_element(By.ID, s)) for s in ("troubleshooting", "steps"))
    assert trouble["top"] < steps["top"]  # the sections follow one another, what went wrong first


def test_a_success_opens_on_steps(lab, tmp_path, browser):
    from selenium.webdriver.common.by import By

    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"])
    assert r.code == 0, r.stderr
    report = Path(r.json["ReportPath"])
    assert report.name.endswith("-Jane_Doe.htm")
    viewport(browser)
    browser.get(report.resolve().as_uri())
    assert browser.find_elements(By.ID, "banner") == [] and browser.find_elements(By.ID, "notice") == []
    assert browser.find_element(By.ID, "steps").is_displayed()
    assert not browser.find_element(By.ID, "troubleshooting").is_displayed()
    screenshot(browser, tmp_path, "report-success")
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="modified"]').click()
    modified = browser.find_element(By.ID, "modified")
    assert "Written to Entra ID, and confirmed by reading the object back." in modified.text
    assert {c.text for c in modified.find_elements(By.CSS_SELECTOR, "td.written")} == {"written"}
    screenshot(browser, tmp_path, "report-success-modified")
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="troubleshooting"]').click()
    assert "Looking good! There's nothing to troubleshoot." in browser.find_element(By.ID, "troubleshooting").text
    assert_columns_readable(browser, report)


def test_staging_says_would_be_written(lab, tmp_path, browser):
    from selenium.webdriver.common.by import By

    r = run_cli("sync", "--config", str(lab.config(tmp_path)), lab.dns["user"], "--staging-mode")
    assert r.code == 0, r.stderr
    viewport(browser)
    browser.get(Path(r.json["ReportPath"]).resolve().as_uri())
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="modified"]').click()
    modified = browser.find_element(By.ID, "modified")
    assert "Staging mode: these changes would be written; nothing was sent to Entra ID." in modified.text
    assert {c.text for c in modified.find_elements(By.CSS_SELECTOR, "td.written")} == {"would be written (staging)"}


BIG_OU = "OU=Big Report,OU=Corp,DC=contoso,DC=com"
BIG_GROUP = f"CN=Big Report Group,{BIG_OU}"
BIG_N = 230  # more than the report lists (200), so that the rest is counted
BIG_SYNCED = 3


@pytest.fixture(scope="module")
def big_group(samba_lab):
    conn = samba_lab.dc.connection()
    users = [f"CN=Big Member {i:03d},{BIG_OU}" for i in range(BIG_N)]
    try:
        assert conn.add(BIG_OU, ["top", "organizationalUnit"]), conn.result
        for i, dn in enumerate(users):
            assert conn.add(dn, ["top", "person", "organizationalPerson", "user"],
                            {"sAMAccountName": f"bigrep{i:03d}", "userPrincipalName": f"bigrep{i:03d}@contoso.com",
                             "userAccountControl": 514}), conn.result
        assert conn.add(BIG_GROUP, ["top", "group"], {"sAMAccountName": "bigreportgroup", "member": users}), \
            conn.result
        yield users
    finally:
        for dn in [BIG_GROUP, *users, BIG_OU]:
            conn.delete(dn)
        conn.unbind()


def test_a_large_group_with_members_left_out_says_so(lab, tmp_path, browser, big_group):
    from selenium.webdriver.common.by import By

    config = str(lab.config(tmp_path))
    for dn in big_group[:BIG_SYNCED]:
        assert run_cli("sync", "--config", config, "--no-html-report", dn).code == 0
    r = run_cli("sync", "--config", config, BIG_GROUP)
    assert r.code == 0 and r.json["Action"] == "Create", r.stderr
    report = Path(r.json["ReportPath"])
    assert report.name.endswith("-Big_Report_Group.htm")
    group_id = r.json["TargetIdentity"]["Id"]
    members = set(lab.emulator.group_members(group_id))
    assert len(members) == BIG_SYNCED
    viewport(browser)
    browser.get(report.resolve().as_uri())
    # a success with warnings opens on Steps, and says at the top that there is something to read
    notice = browser.find_element(By.ID, "notice")
    assert rect(browser, notice)["bottom"] <= VIEWPORT[1]
    assert f"Group members: {BIG_SYNCED} of {BIG_N}" in notice.text
    notice.find_element(By.CSS_SELECTOR, 'a[href="#troubleshooting"]').click()
    trouble = browser.find_element(By.ID, "troubleshooting")
    assert trouble.is_displayed() and "nothing to troubleshoot" not in trouble.text
    assert f"Entra ID holds {BIG_SYNCED} of the {BIG_N} members this group has in Active Directory" in trouble.text
    left_out = BIG_N - BIG_SYNCED
    assert f"{left_out} not in Entra ID" in trouble.text
    assert f"and {left_out - 200} more" in trouble.get_attribute("textContent")
    trouble.find_element(By.CSS_SELECTOR, ".finding summary").click()  # the members left out, by name and DN
    first = trouble.find_element(By.CSS_SELECTOR, ".finding .who")
    assert first.text.startswith("Big Member ") and first.text.endswith(f",{BIG_OU} not in Entra ID")
    screenshot(browser, tmp_path, "report-large-group")
    # the members written are shown by name and DN with their Entra id
    browser.find_element(By.CSS_SELECTOR, 'nav [data-tab="modified"]').click()
    browser.execute_script("document.querySelectorAll('#modified details').forEach(function (d) { d.open = true; })")
    modified = browser.find_element(By.ID, "modified")
    shown = modified.find_elements(By.CSS_SELECTOR, ".who")
    assert len(shown) == BIG_SYNCED
    for who in shown:
        name = who.find_element(By.TAG_NAME, "strong").text
        assert name.startswith("Big Member ") and f"CN={name},{BIG_OU}" in who.text
        assert who.find_element(By.CSS_SELECTOR, "code.id").text in members
    screenshot(browser, tmp_path, "report-large-group-modified")
    assert_columns_readable(browser, report)


def test_a_report_that_cannot_be_rendered_never_costs_the_sync_its_record(lab, tmp_path, monkeypatch):
    """The report is written before the run is committed: a bug in it must not leave a created object
    unrecorded (the next run would create it a second time)."""
    from pybridge.report import html

    def broken(result, bytecode_cache=None):  # html.render's signature
        raise TypeError("a bug in the template")

    monkeypatch.setattr(html, "render", broken)
    config = str(lab.config(tmp_path))
    first = run_cli("sync", "--config", config, lab.dns["group_pilot"])
    assert first.code == 0 and first.json["Action"] == "Create", first.stderr
    assert first.json["ReportPath"] is None
    assert "the HTML report could not be rendered (TypeError: a bug in the template)" in first.stderr
    again = run_cli("sync", "--config", config, lab.dns["group_pilot"], "--no-html-report")
    assert again.code == 0 and again.json["Action"] == "Other", again.stderr  # recorded: found, not re-created
    assert again.json["TargetIdentity"]["Id"] == first.json["TargetIdentity"]["Id"]
