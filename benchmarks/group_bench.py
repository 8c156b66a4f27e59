"""Sync a group of 50,000 members (real Samba AD DC, Graph emulator): wall time, HTTP requests, peak memory.

    sudo python benchmarks/group_bench.py [--members 50000] [--host 127.0.0.51]

Creates the users and the group in a throw-away Samba AD DC, records the users as already synced
(in the state store and in the emulator, as earlier runs would have left them), then runs
`pybridge sync` on the group in a child process: first the create (all members added), then an
unchanged run. The floor for the create is about 50,000 / 20 / 20 = 125 $batch requests.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

from benchlab import BenchLab

from pybridge.store import ENTRA, CSObject, RunWrites, Store


def run_child(cmd: list[str], workdir: Path) -> tuple[float, int, int]:
    """Run *cmd*, its output going to files (a 50,000-member result does not fit a pipe's buffer)."""
    out_path, err_path = workdir / "child.out", workdir / "child.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err_path.read_text()[-2000:], file=sys.stderr)
    return wall, code, usage.ru_maxrss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--host", default="127.0.0.51")
    args = ap.parse_args()
    n = args.members
    with BenchLab(args.host) as lab:
        ou = f"OU=Bench,{lab.info.base_dn}"
        group = f"CN=All Staff,{ou}"
        t0 = time.perf_counter()
        dns = lab.add_users(ou, n)
        conn = lab.dc.connection()
        conn.add(group, ["top", "group"], {"sAMAccountName": "allstaff"})
        for i in range(0, n, 5000):
            conn.modify(group, {"member": [("MODIFY_ADD", dns[i:i + 5000])]})
        conn.unbind()
        seed_ad = time.perf_counter() - t0
        cfg_path = lab.config()
        # the members as earlier runs would have left them: in Entra, and joined in the state store
        t0 = time.perf_counter()
        writes = RunWrites()
        for i, dn in enumerate(dns):
            user = lab.emulator.add_user(userPrincipalName=f"bench{i:06d}@contoso.com", displayName=f"Bench {i}",
                                         mailNickname=f"bench{i:06d}", accountEnabled=False)
            ad_anchor, mv = str(uuid.uuid4()), str(uuid.uuid4())
            writes.connector_space += [CSObject("contoso.com", ad_anchor, dn, "user", {}),
                                       CSObject(ENTRA, user["id"], None, "user", {"id": user["id"]})]
            writes.metaverse.append((mv, "person", f"anchor{i}", {}))
            writes.joins += [("contoso.com", ad_anchor, mv), (ENTRA, user["id"], mv)]
        store = Store.open(lab.root / "state" / "pybridge.db")
        store.commit(writes)
        store.close()
        seed_state = time.perf_counter() - t0

        cmd = [sys.executable, "-m", "pybridge", "sync", "--config", str(cfg_path), "--progress", "none",
               "--no-html-report", group]
        lab.emulator.clear_log()
        wall, code, rss_kb = run_child(cmd, lab.root)
        log = lab.emulator.requests
        http = len([r for r in log if not r.get("batch")])
        batches = len([r for r in log if r["path"] == "/v1.0/$batch"])
        members = len(lab.emulator.group_members(next(iter(lab.emulator.groups))))
        lab.emulator.clear_log()
        wall2, code2, rss2_kb = run_child(cmd, lab.root)
        http2 = len([r for r in lab.emulator.requests if not r.get("batch")])
    rows = [("machine", f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"),
            ("members", f"{n:,}"),
            ("(setup) users + group created in Samba", f"{seed_ad:.1f} s"),
            ("(setup) members recorded as synced", f"{seed_state:.1f} s"),
            ("create: wall time / exit code", f"{wall:.2f} s / {code}"),
            ("create: HTTP requests (top level)", f"{http} ({batches} $batch)"),
            ("create: members in Entra afterwards", f"{members:,}"),
            ("create: peak memory (max RSS)", f"{rss_kb / 1024:.0f} MiB"),
            ("unchanged run: wall time / exit code", f"{wall2:.2f} s / {code2}"),
            ("unchanged run: HTTP requests", str(http2)),
            ("unchanged run: peak memory (max RSS)", f"{rss2_kb / 1024:.0f} MiB")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
