"""HTML report of a group with 50,000 members: render time and file size.

    python benchmarks/report_bench.py [--members 50000] [--runs 5]

The result is built in memory with the shape a real sync of such a group produces
(the member list in the AD import, sync and export steps), so no lab is needed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybridge.core.model import (Action, AttributeInfo, ModifiedProperty, ProvisioningIdentity, Status,  # noqa: E402
                                 SyncResult)
from pybridge.report import adsync, html  # noqa: E402
from pybridge.sync.details import show_attributes  # noqa: E402
from pybridge.sync.steps import new_steps  # noqa: E402


def big_group(members: int) -> SyncResult:
    now = dt.datetime.now(dt.timezone.utc)
    r = SyncResult("CN=All Staff,OU=Groups,DC=contoso,DC=com", now, now + dt.timedelta(seconds=3),
                   Action.CREATE, ProvisioningIdentity("g", "group", "CN=All Staff,OU=Groups,DC=contoso,DC=com"),
                   ProvisioningIdentity("e", "group", "All Staff"), steps=new_steps())
    dns = "; ".join(f"CN=User {i:05d},OU=Users,OU=Corp,DC=contoso,DC=com" for i in range(members))
    ids = "; ".join(f"{i:08d}-0000-4000-8000-000000000000" for i in range(members))
    for st in r.steps:
        st.status, st.timestamp = Status.SUCCESS, now
    show_attributes(r.steps[6], [AttributeInfo("member", True, "Reference", dns, data_source="contoso.com")])
    show_attributes(r.steps[8], [AttributeInfo("member", True, "Reference", dns, operation="Add"),
                                 AttributeInfo("members", True, "Reference", dns, operation="Add")])
    show_attributes(r.steps[9], [AttributeInfo("members", True, "Reference", f"{members} value(s)", add=ids,
                                               operation="Update")])
    r.modified_properties = [ModifiedProperty("members - Count", None, str(members))]
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    result = big_group(args.members)
    times = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.runs):
            t0 = time.perf_counter()
            path = html.write(result, Path(d))
            times.append(time.perf_counter() - t0)
        size = path.stat().st_size
    json_size = len(adsync.dumps(result).encode())
    rows = [("machine", f"{platform.machine()}, Python {platform.python_version()}"),
            ("members", f"{args.members:,}"),
            (f"render + write, median of {args.runs}", f"{statistics.median(times):.3f} s (max {max(times):.3f} s)"),
            ("HTML file size", f"{size / 1024:.0f} KiB"),
            ("JSON result size (for comparison)", f"{json_size / 1024 / 1024:.1f} MiB")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
