"""The in-process API for many users: objects per second of `pybridge.sync_object`.

    sudo python benchmarks/api_bench.py [--users 1000] [--host 127.0.0.52]

Creates the users in a throw-away Samba AD DC, then syncs each once (create) and once more (unchanged)
in one process, against the Graph emulator. Also shows that the msal token cache persists: a second
process asks for no token.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from benchlab import BenchLab

from pybridge import config as configlib
from pybridge import sync_object


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--host", default="127.0.0.52")
    args = ap.parse_args()
    with BenchLab(args.host) as lab:
        t0 = time.perf_counter()
        dns = lab.add_users(f"OU=Api,{lab.info.base_dn}", args.users, prefix="api")
        setup = time.perf_counter() - t0
        cfg_path = lab.config(report={"directory": str(lab.root / "reports")})
        cfg = configlib.load(cfg_path)
        rows = [("machine", f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"),
                ("users", f"{args.users:,}"), ("(setup) users created in Samba", f"{setup:.1f} s")]
        for label in ("create", "unchanged"):
            lab.emulator.clear_log()
            t0 = time.perf_counter()
            statuses = [sync_object(dn, cfg).status_info.status.value for dn in dns]
            wall = time.perf_counter() - t0
            ok = statuses.count("Success")
            graph = len([r for r in lab.emulator.requests if r["path"].startswith("/v1.0/")])
            rows.append((f"{label}: objects per second", f"{len(dns) / wall:.1f} ({wall:.1f} s, {ok} Success)"))
            rows.append((f"{label}: Graph requests per object", f"{graph / len(dns):.2f}"))
        # the token cache: a new process with a warm cache makes no token request
        lab.emulator.clear_log()
        subprocess.run([sys.executable, "-m", "pybridge", "sync", "--config", str(cfg_path), "--progress", "none",
                        "--no-html-report", dns[0]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        tokens = len([r for r in lab.emulator.requests if r["path"].endswith("/oauth2/v2.0/token")])
        cache = next(cfg.state_path.parent.glob("msal-token-cache-*.json"), None)
        mode = oct(cache.stat().st_mode & 0o777) if cache else "missing"
        rows.append(("new process, warm token cache: token requests", f"{tokens} (cache file mode {mode})"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
