"""One `pybridge sync` against the lab: wall time, CLI import time, LDAP operations and Graph requests.

    python benchmarks/sync_bench.py [--lab-dir lab] [--runs 10] [--dn DN]

Brings the lab up if it is not running (needs root and Samba), syncs the sample user once so that the
measured runs are of an unchanged user with a cached token, then prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_seconds(cmd: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab-dir", default=str(ROOT / "lab"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--dn", default="CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com")
    args = ap.parse_args()

    from pybridge_lab import orchestrator
    lab_dir = Path(args.lab_dir).resolve()
    state = orchestrator.up(lab_dir, log=lambda m: print(f"lab: {m}", file=sys.stderr))
    config = state["config"]
    py = sys.executable
    sync_cmd = [py, "-m", "pybridge", "sync", "--config", config, "--progress", "none", args.dn]
    subprocess.run(sync_cmd, check=False, stdout=subprocess.DEVNULL)  # create / warm the token cache

    wall, wall_min = _median_seconds(sync_cmd, args.runs)
    imp, imp_min = _median_seconds([py, "-c", "import pybridge.cli"], args.runs)
    full, _ = _median_seconds([py, "-c", "import pybridge.cli, pybridge.engine, pybridge.report.html"], args.runs)
    base, _ = _median_seconds([py, "-c", "pass"], args.runs)

    # Counts, in process: LDAP operations after the bind, Graph requests seen by the emulator.
    from pybridge import config as configlib
    from pybridge import engine
    from pybridge.connectors.ad import ADSession
    cfg = configlib.load(config)
    sessions: list[ADSession] = []

    def counting_ad(connector):  # type: ignore[no-untyped-def]
        s = engine.ad_session(connector)
        sessions.append(s)
        return s

    verify = str(lab_dir / "ca" / "ca.pem")
    log_url = f"{state['graph_url']}/_emulator/requests"
    requests.delete(log_url, verify=verify, timeout=10)
    from pybridge.store import Store
    from pybridge.sync.state import Environment, Options
    from pybridge.sync.steps import run_steps
    store = Store.open(cfg.state_path)
    env = Environment(config=cfg, store=store, rules=engine.load_rules(cfg), directory_for=counting_ad,
                      tenant_for=engine.graph_client)
    result = run_steps(env, args.dn, Options())
    store.close()
    graph_log = requests.get(log_url, verify=verify, timeout=10).json()
    token_requests = sum(1 for r in graph_log if r["path"].endswith("/oauth2/v2.0/token"))
    discovery = sum(1 for r in graph_log if "/.well-known/openid-configuration" in r["path"])
    graph_requests = sum(1 for r in graph_log if r["path"].startswith("/v1.0/"))
    ldap_ops = sum(s.operations for s in sessions)

    rows = [
        ("machine", f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"),
        ("object", args.dn),
        ("result of the measured run", f"{result.action.value} / {result.status_info.status.value}"),
        (f"pybridge sync wall time, median of {args.runs}", f"{wall:.3f} s (min {wall_min:.3f} s)"),
        ("CLI import time (import pybridge.cli), median", f"{imp - base:.3f} s over a bare interpreter "
                                                          f"({imp:.3f} s total)"),
        ("import of everything a sync loads (engine, ldap3, msal, rules, report)", f"{full - base:.3f} s"),
        ("LDAP operations after the bind", str(ldap_ops)),
        ("Graph requests (v1.0)", str(graph_requests)),
        ("token requests (cached token expected: 0)", str(token_requests)),
        ("authority metadata reads (0: msal's HTTP cache, kept in the state directory)", str(discovery)),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(json.dumps({"wall_median_s": round(wall, 4), "import_s": round(imp - base, 4),
                      "full_import_s": round(full - base, 4), "ldap_ops": ldap_ops,
                      "graph_requests": graph_requests, "token_requests": token_requests,
                      "authority_metadata_reads": discovery}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
