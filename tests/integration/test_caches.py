"""The caches of one sync process, through the real CLI against the lab: what a run leaves in the state
directory, what the next process no longer asks for, --what-if leaving everything as it was, and planted or
damaged cache files changing nothing but the time a run takes."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.conftest import Run

REPO = Path(__file__).resolve().parents[2]
KINDS = ("rules", "msal-http", "state-checked")  # state-checked: from the second run (the first creates the file)


def pybridge(*args: str) -> Run:
    """A process of its own: nothing kept in memory from an earlier run of this test session."""
    proc = subprocess.run([sys.executable, "-m", "pybridge", *args], cwd=REPO, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def state_dir(cfg: Path) -> Path:
    return Path(yaml.safe_load(cfg.read_text())["state"]["path"]).parent


def listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def timeless(doc: dict) -> dict:
    """A result without what differs from run to run: times and the report's path."""
    out = {k: v for k, v in doc.items() if k not in ("StartTime", "EndTime", "ReportPath")}
    out["ProvisioningSteps"] = [{k: v for k, v in s.items() if k != "Timestamp"} for s in doc["ProvisioningSteps"]]
    return out


def metadata_reads(emulator) -> int:
    return sum(1 for r in emulator.requests if "/.well-known/openid-configuration" in r["path"])


def test_a_run_keeps_its_caches_owner_only_and_the_next_process_asks_less(lab, tmp_path):
    cfg = lab.config(tmp_path)
    dn = lab.dns["user"]
    first = pybridge("sync", "--config", str(cfg), dn)
    assert first.code == 0, first.stderr
    cache = state_dir(cfg) / "cache"
    # the rules load before the first run creates the state directory: they are kept from the second run on
    assert sorted(p.name for p in cache.iterdir()) == ["msal-http.cache"]
    assert pybridge("sync", "--config", str(cfg), dn, "--no-html-report").code == 0
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{k}.cache" for k in KINDS)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in cache.iterdir()} == {f"{k}.cache": 0o600 for k in KINDS}
    lab.emulator.clear_log()
    second = pybridge("sync", "--config", str(cfg), dn)
    assert second.code == 0 and second.json["Action"] == "Other", second.stderr
    assert metadata_reads(lab.emulator) == 0  # msal found the authority's metadata in its cache
    assert Path(second.json["ReportPath"]).read_text(encoding="utf-8").count("ExportSpecificObject") >= 1
    third = pybridge("sync", "--config", str(cfg), dn, "--no-html-report")
    assert timeless(third.json) == timeless(second.json)


def test_what_if_writes_no_cache_and_no_token(lab, tmp_path):
    cfg = lab.config(tmp_path)
    assert pybridge("scheduler", "get", "--config", str(cfg)).code == 0  # the state directory exists
    before = listing(state_dir(cfg))
    r = pybridge("sync", "--config", str(cfg), lab.dns["user"], "--what-if")
    assert r.code == 0, r.stderr
    assert Path(r.json["ReportPath"]).exists()  # the report is output, and is written
    after = listing(state_dir(cfg))
    after.pop("pybridge.lock", None)  # the sync lock (one sync at a time) is taken under --what-if too
    assert after == before  # no cache, no token cache, no state


def test_planted_and_damaged_caches_change_nothing_but_time(lab, tmp_path):
    cfg = lab.config(tmp_path)
    dn = lab.dns["user"]
    assert pybridge("sync", "--config", str(cfg), dn, "--staging-mode").code == 0
    cache = state_dir(cfg) / "cache"
    good = pybridge("sync", "--config", str(cfg), dn, "--staging-mode")
    # a link planted at one cache path, damage in the other
    outside = tmp_path / "outside"
    outside.write_bytes(b"not for pybridge")
    (cache / "rules.cache").unlink()
    (cache / "rules.cache").symlink_to(outside)
    raw = (cache / "msal-http.cache").read_bytes()
    (cache / "msal-http.cache").write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    lab.emulator.clear_log()
    r = pybridge("sync", "--config", str(cfg), dn, "--staging-mode")
    assert r.code == 0, r.stderr
    assert timeless(r.json) == timeless(good.json)
    assert metadata_reads(lab.emulator) == 1  # the damaged metadata cache was not trusted
    assert outside.read_bytes() == b"not for pybridge"
    assert not (cache / "rules.cache").is_symlink()  # replaced by a cache of pybridge's own
    for kind in KINDS:
        assert stat.S_IMODE(os.lstat(cache / f"{kind}.cache").st_mode) == 0o600
    lab.emulator.clear_log()
    assert pybridge("sync", "--config", str(cfg), dn, "--staging-mode").code == 0
    assert metadata_reads(lab.emulator) == 0  # rebuilt, and trusted again


def test_a_changed_rule_file_takes_effect_in_the_next_process(lab, tmp_path):
    rules = tmp_path / "rules.yaml"
    rule = {"name": "In from AD - User Department Test", "direction": "inbound", "source_object_type": "user",
            "target_object_type": "person", "precedence": 40,
            "flows": [{"target": "department", "type": "Constant", "value": "First"}]}
    rules.write_text(yaml.safe_dump({"rules": [rule]}))
    cfg = lab.config(tmp_path, **{"rules.files": [str(rules)]})
    dn = lab.dns["user_comma"]

    def department() -> str:
        r = pybridge("sync", "--config", str(cfg), dn, "--staging-mode", "--no-html-report")
        assert r.code == 0, r.stderr
        return r.stdout

    assert "First" in department()
    rule["flows"][0]["value"] = "Second"
    rules.write_text(yaml.safe_dump({"rules": [rule]}))
    text = department()
    assert "Second" in text and "First" not in text
