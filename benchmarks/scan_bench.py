"""`pybridge scan` at scale, and batch `pybridge sync --input` (real Samba AD DC, Graph emulator).

    sudo python benchmarks/scan_bench.py [--sizes 1000,5000,10000] [--batch 1000] [--host 127.0.0.71] [--repeat 2]

Builds a throw-away directory in steps (1,000 users, then up to 5,000, then 10,000, by default), with
about 4% problem objects (a UPN a cloud-only user holds: AttributeValueMustBeUnique; a UPN with a space:
IdentityDataValidationFailed), groups of 20 members, and a matching population in the emulator (90% of the
users already synced there, by source anchor). At each size it runs `pybridge scan` --repeat times in a child process
and prints, for the fastest run, objects per second, Graph requests per 100 objects, LDAP operations and peak memory (the
child's maxrss; each child has a bytecode cache, as installed packages do). Then it syncs --batch new users with `pybridge sync --input` (create), and twice again
(unchanged), and prints objects per second for each.
"""
from __future__ import annotations

import argparse
import base64
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchlab import BenchLab

OU = "OU=ScanBench,DC=contoso,DC=com"
USER_CLASSES = ["top", "person", "organizationalPerson", "user"]


def child(cmd: list[str], workdir: Path, stdin: Path | None = None) -> tuple[float, int, int, str]:
    """Run *cmd* (output to files: a scan's stdout is large); wall time, exit code, maxrss KiB, stderr.

    The child gets a bytecode cache of its own, as an installed package has (pip compiles at install), even
    where the environment says PYTHONDONTWRITEBYTECODE: a benchmark of pybridge, not of Python's compiler."""
    out_path, err_path = workdir / "child.out", workdir / "child.err"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    with open(out_path, "wb") as out, open(err_path, "wb") as err, \
            open(stdin or os.devnull, "rb") as inp:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=inp, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    return wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss, err_path.read_text(errors="replace")


def grow(lab: BenchLab, start: int, stop: int) -> None:
    """Users start..stop-1 in AD (every 25th with a UPN a cloud-only user holds, every 50th with a space in
    its UPN), groups of 20 for every 20 users, and the cloud side: 90% already synced by source anchor."""
    conn = lab.dc.connection()
    try:
        conn.add(OU, ["top", "organizationalUnit"])
        for i in range(start, stop):
            upn = f"bench{i:06d}@contoso.com" if i % 50 != 7 else f"bench {i:06d}@contoso.com"
            conn.add(f"CN=Bench User {i:06d},{OU}", USER_CLASSES,
                     {"sAMAccountName": f"bench{i:06d}", "userPrincipalName": upn, "givenName": "Bench",
                      "sn": f"User {i}", "displayName": f"Bench User {i:06d}", "userAccountControl": 514})
            if i % 20 == 19:
                members = [f"CN=Bench User {j:06d},{OU}" for j in range(i - 19, i + 1)]
                conn.add(f"CN=Bench Group {i // 20:05d},{OU}", ["top", "group"],
                         {"sAMAccountName": f"benchgroup{i // 20:05d}", "groupType": str(-2147483646),
                          "member": members})
        conn.search(OU, "(&(objectClass=user)(sAMAccountName=bench*))", attributes=["sAMAccountName", "objectGUID"],
                    paged_size=1000)
        guids = {}
        cookie = True
        while cookie:
            for entry in conn.response:
                if entry.get("type") == "searchResEntry":
                    sam = entry["attributes"]["sAMAccountName"]  # single-valued, yet a list unless the schema says so
                    guids[str(sam[0] if isinstance(sam, list) else sam)] = entry["raw_attributes"]["objectGUID"][0]
            cookie = conn.result.get("controls", {}).get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            if cookie:
                conn.search(OU, "(&(objectClass=user)(sAMAccountName=bench*))",
                            attributes=["sAMAccountName", "objectGUID"], paged_size=1000, paged_cookie=cookie)
    finally:
        conn.unbind()
    for i in range(start, stop):
        sam = f"bench{i:06d}"
        if i % 25 == 3:  # a cloud-only user holds the UPN this user would get
            lab.emulator.add_user(userPrincipalName=f"{sam}@contoso.com", displayName=f"Cloud {sam}",
                                  mailNickname=f"cloud{sam}", accountEnabled=True)
        elif i % 10 != 0 and i % 50 != 7:  # already synced, unchanged
            lab.emulator.add_user(userPrincipalName=f"{sam}@contoso.com", displayName=f"Bench User {i:06d}",
                                  givenName="Bench", surname=f"User {i}", mailNickname=sam, accountEnabled=False,
                                  onPremisesImmutableId=base64.b64encode(guids[sam]).decode(),
                                  onPremisesSyncEnabled=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--host", default="127.0.0.71")
    ap.add_argument("--repeat", type=int, default=2, help="scans per size; the fastest is printed (default 2)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    py = sys.executable
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    with BenchLab(args.host) as lab:
        cfg = lab.config()
        grow(lab, 0, 20)  # a first, throw-away scan fills the bytecode cache
        child([py, "-m", "pybridge", "scan", "--config", str(cfg), "--no-html-report", "--search-base", OU], lab.root)
        done = 20
        for size in sizes:
            grow(lab, done, size)
            done = size
            runs = []
            for _ in range(args.repeat):  # the DC may still be busy with the users just added: the faster run
                lab.emulator.clear_log()
                runs.append(child([py, "-m", "pybridge", "scan", "--config", str(cfg), "--no-html-report",
                                   "--search-base", OU], lab.root))
            wall, code, rss, err = min(runs, key=lambda r: r[0])
            graph = sum(1 for r in lab.emulator.requests if r["path"].startswith("/v1.0/"))
            scanned = next((int(line.split()[2].replace(",", "")) for line in err.splitlines()
                            if " object(s) scanned" in line), 0)
            ldap = next((line for line in err.splitlines() if "LDAP operation" in line), "").strip()
            print(f"scan of {size:>6,} users (+{size // 20:,} groups): exit {code}, {scanned:,} objects in "
                  f"{wall:.1f} s = {scanned / wall:,.0f} objects/s; {graph:,} Graph requests = "
                  f"{100 * graph / max(scanned, 1):.2f} per 100 objects; {ldap.replace('pybridge scan: ', '')}; "
                  f"peak memory {rss / 1024:,.0f} MiB")
        # batch sync: new users (create), then again (unchanged)
        dns = lab.add_users("OU=BatchBench,DC=contoso,DC=com", args.batch, prefix="batch")
        listing = lab.root / "dns.txt"
        listing.write_text("\n".join(dns) + "\n")
        for label in ("create", "unchanged", "unchanged, again"):
            lab.emulator.clear_log()
            wall, code, rss, err = child([py, "-m", "pybridge", "sync", "--config", str(cfg), "--no-html-report",
                                          "--input", "-"], lab.root, stdin=listing)
            graph = sum(1 for r in lab.emulator.requests if r["path"].startswith("/v1.0/"))
            print(f"sync --input of {args.batch:,} DNs ({label}): exit {code}, {wall:.1f} s = "
                  f"{args.batch / wall:,.1f} objects/s, {graph:,} Graph requests, peak memory {rss / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
