"""The HTML report of a real sync, opened in headless Chromium: tabs, escaping, no console errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import ldap3
import pytest

from tests.integration.conftest import run_cli
from tests.support import missing_prerequisite

pytestmark = pytest.mark.integration
XSS_DEPT = "<script>alert(1)</script>"
XSS_TITLE = '"><img src=x onerror=alert(1)>'


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
