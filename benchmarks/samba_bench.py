"""The lab's Samba AD DC: how long provisioning, start and seeding take.

    sudo python benchmarks/samba_bench.py [--host 127.0.0.61] [--runs 3]

Each run provisions a throw-away DC in a new directory, starts it, seeds the sample directory and
stops it, then starts the provisioned DC again and re-seeds it (what a second `pybridge lab up`
costs). Prints each phase per run and the median; "first lab up" (provision + start + seed) is
the figure tests/integration/test_samba_lab.py used to assert (under 45 s).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pybridge_lab.ca import create_ca  # noqa: E402
from pybridge_lab.errors import LabError  # noqa: E402
from pybridge_lab.samba import SambaDC, check_prerequisites  # noqa: E402

PHASES = ("provision", "start", "seed", "first lab up", "stop", "start again", "seed again")


def one_run(host: str) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="pybridge-samba-bench-"))
    t: dict[str, float] = {}
    try:
        dc = SambaDC(root / "dc", ca=create_ca(root / "ca"), host=host)
        try:
            t0 = time.perf_counter()
            dc.provision()
            t1 = time.perf_counter()
            dc.start()
            t2 = time.perf_counter()
            dc.seed()
            t3 = time.perf_counter()
            dc.stop()
            t4 = time.perf_counter()
            dc.start()
            t5 = time.perf_counter()
            dc.seed()
            t6 = time.perf_counter()
        finally:
            dc.stop()
        t.update({"provision": t1 - t0, "start": t2 - t1, "seed": t3 - t2, "first lab up": t3 - t0,
                  "stop": t4 - t3, "start again": t5 - t4, "seed again": t6 - t5})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.61", help="loopback address of the throw-away DC")
    ap.add_argument("--runs", type=int, default=3, help="provision a new DC this many times (default 3)")
    args = ap.parse_args()
    try:
        check_prerequisites()
    except LabError as exc:
        print(f"samba_bench: {exc}", file=sys.stderr)
        return 2
    runs = []
    for i in range(max(args.runs, 1)):
        print(f"samba_bench: run {i + 1} of {args.runs} on {args.host}", file=sys.stderr)
        runs.append(one_run(args.host))
    rows = [("machine", f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                        f"load average {os.getloadavg()[0]:.2f}"),
            ("runs", str(len(runs)))]
    for phase in PHASES:
        values = [r[phase] for r in runs]
        each = ", ".join(f"{v:.2f}" for v in values)
        rows.append((phase, f"{statistics.median(values):.2f} s median ({each})"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
