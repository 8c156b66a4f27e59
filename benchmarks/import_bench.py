"""Where a sync process's import time goes: what `pybridge sync` loads beyond the floor's libraries.

    python benchmarks/import_bench.py [--runs 15]

Each figure is the median CPU time of --runs fresh interpreters (bytecode cached in a directory of the
benchmark's own, as an installed package has it), each importing the floor's libraries first (ldap3, msal,
requests: what benchmarks/floor_sync.py loads too), then timing only what follows:

* pybridge's modules for a sync (the CLI, the configuration, the engine and the ten steps);
* of that, msgspec, whose Structs are pybridge's records (they replaced dataclasses, which compiled their
  methods from source in every process: 35-60 ms here);
* the HTML report: pybridge.report.html and markupsafe, which builds the page (jinja2 no longer does);
* PyYAML, which a sync no longer loads when its configuration and rules come from their caches.

No lab is needed. startup_bench.py measures the whole process against the floor; this says which imports
make up pybridge's share of it (docs/performance.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time
import ldap3, msal, requests  # the floor's libraries: not pybridge's cost
c = time.process_time()
if sys.argv[1] == "sync":
    import pybridge.cli, pybridge.config, pybridge.engine
elif sys.argv[1] == "msgspec":
    import msgspec
elif sys.argv[1] == "report":
    import pybridge.cli, pybridge.config, pybridge.engine
    c = time.process_time()
    import pybridge.report.html
elif sys.argv[1] == "yaml":
    import yaml
print(time.process_time() - c)
"""

WHAT = {
    "sync": "pybridge's modules for a sync",
    "msgspec": "  of which msgspec (the records' library)",
    "report": "the report's (markupsafe, pybridge.report.html)",
    "yaml": "PyYAML (not loaded by a cached run)",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15, help="fresh interpreters per figure (medians)")
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="pybridge-import-bench-") as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        samples: dict[str, list[float]] = {k: [] for k in WHAT}
        for i in range(args.runs + 1):  # the first round compiles the bytecode and is not counted
            for kind in WHAT:
                out = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True,
                                     env=env, check=True)
                if i:
                    samples[kind].append(float(out.stdout))
    medians = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    print(f"CPU ms, medians of {args.runs} fresh interpreters (after ldap3, msal and requests are imported):")
    for kind, label in WHAT.items():
        print(f"  {label:<48} {medians[kind]:7.1f}")
    print(json.dumps({k: round(v, 1) for k, v in medians.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
