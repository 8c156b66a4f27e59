"""The fixed cost of one `pybridge sync` process, against the floor: the plainest script making its round trips.

    sudo python benchmarks/startup_bench.py [--pairs 10] [--warmup 2] [--host 127.0.7.71] [--lab-dir DIR]
                                            [--keep] [--no-bytecode-cache] [--floor-metadata auto|fetch|cache]
                                            [--floor-token cache|fetch] [--api 20] [--api-runs 5]
                                            [--source DIR]

Starts a lab (pybridge-lab: a Samba AD DC on --host and the Graph emulator; a throw-away directory unless
--lab-dir names one, which is then kept), creates the sample user with one sync, then runs, alternately and
in a rotating order, the floor (floor_sync.py: one LDAPS bind and BASE read with ldap3, one msal
client-credential token with its cache in a file, one Graph GET by onPremisesImmutableId) and `pybridge sync`
of the same unchanged user without the HTML report, with it, and with --staging-mode. The floor runs twice:
as it is, and with --frozen-start (the garbage collector treated as a pybridge process treats it, see
floor_sync.py), so that the ratios are given against both. Each process is timed
from its start to its exit (wall) and charged its own user+sys CPU time and peak RSS (os.wait4). Prints the
medians and the ratios to the floor, the load average before and after, then the in-process API: import and
configuration, the first sync and the following ones of `pybridge.sync_object` in one process (wall and CPU,
medians over --api-runs processes), over the lab's sample users.

Fairness: the floor keeps msal's token cache in a file as pybridge does (neither asks for a token when warm;
--floor-token fetch makes the floor a script without one). msal's OpenID metadata: with --floor-metadata auto
(the default) the floor keeps it in msal's HTTP cache exactly when pybridge does (seen in the emulator's
request log), so both make the same round trips (pybridge reads the manager reference in its one Graph
GET, with $expand). --source DIR runs pybridge from an exported source tree (the "before" column).
Bytecode: by default the processes get a bytecode cache of their own (PYTHONPYCACHEPREFIX in the work
directory), as any installed package has (pip compiles at install); --no-bytecode-cache runs them with the
environment as it is (here PYTHONDONTWRITEBYTECODE=1 and an editable install: every start compiles pybridge).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
DEFAULT_DN = "CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com"
FROZEN_FLOOR = "floor, start-up frozen (--frozen-start)"


# Processes are started by a small launcher of their own: Linux carries a parent's peak RSS into a child
# forked from it, so children of this process (pybridge and the lab loaded) would all show its RSS.
LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    cmd, env = json.loads(line)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                      os.waitstatus_to_exitcode(status)]), flush=True)
"""


class Launcher:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
        """(wall s, user+sys CPU s, peak RSS MiB, exit code) of one process."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([cmd, env]) + "\n")
        self.proc.stdin.flush()
        wall, cpu, rss, rc = json.loads(self.proc.stdout.readline())
        return wall, cpu, rss, rc

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def emulator_log(graph_url: str, verify: str, clear: bool = False) -> list[dict]:
    url = f"{graph_url}/_emulator/requests"
    if clear:
        requests.delete(url, verify=verify, timeout=10)
        return []
    return requests.get(url, verify=verify, timeout=10).json()


API_CHILD = r"""
import json, sys, time
W, C = time.perf_counter, time.process_time
w0, c0 = W(), C()
import pybridge
from pybridge import config as configlib
cfg = configlib.load(sys.argv[1])
dns = json.loads(sys.argv[2]); n = int(sys.argv[3]); report = sys.argv[4] == "report"
w1, c1 = W(), C()
first = pybridge.sync_object(dns[0], cfg, report_dir=cfg.report_dir if report else None)
w2, c2 = W(), C()
walls, cpus = [], []
for i in range(n):
    w, c = W(), C()
    r = pybridge.sync_object(dns[i % len(dns)], cfg, report_dir=cfg.report_dir if report else None)
    walls.append(W() - w); cpus.append(C() - c)
print(json.dumps({"import_config": [w1 - w0, c1 - c0], "first": [w2 - w1, c2 - c1], "next_wall": walls,
                  "next_cpu": cpus, "status": [first.status_info.status.value, r.status_info.status.value]}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=10, help="measured rounds (each runs every command once)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    ap.add_argument("--host", default="127.0.7.71", help="loopback address of the lab's DC and emulator")
    ap.add_argument("--lab-dir", help="a lab directory to use and keep (default: a throw-away one)")
    ap.add_argument("--keep", action="store_true", help="leave the throw-away lab running")
    ap.add_argument("--dn", default=DEFAULT_DN)
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="run the processes with the environment as it is (see above)")
    ap.add_argument("--floor-metadata", choices=("auto", "fetch", "cache"), default="auto",
                    help="the floor keeps msal's OpenID metadata as pybridge does (auto), or reads it every run")
    ap.add_argument("--floor-token", choices=("cache", "fetch"), default="cache",
                    help="the floor keeps its token in a file as pybridge does (cache, the fair default), or "
                    "fetches one every run, as a script without a token cache would")
    ap.add_argument("--api", type=int, default=20, help="in-process syncs after the first (0: skip)")
    ap.add_argument("--api-runs", type=int, default=5, help="in-process API processes per mode (medians)")
    ap.add_argument("--source", metavar="DIR", help="run pybridge from this source tree (e.g. `git archive COMMIT "
                    "pybridge | tar -x -C DIR`) instead of the installed one: how the before/after table is made")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from pybridge_lab import orchestrator

    throwaway = args.lab_dir is None
    lab_dir = Path(args.lab_dir or tempfile.mkdtemp(prefix="pybridge-startup-")).resolve()
    work = Path(tempfile.mkdtemp(prefix="pybridge-startup-work-"))
    state = orchestrator.up(lab_dir, log=lambda m: print(f"lab: {m}", file=sys.stderr), host=args.host)
    try:
        return bench(args, lab_dir, work, state)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if throwaway and not args.keep:
            orchestrator.down(lab_dir)
            shutil.rmtree(lab_dir, ignore_errors=True)


def bench(args: argparse.Namespace, lab_dir: Path, work: Path, state: dict) -> int:
    from pybridge import __version__
    from pybridge import config as configlib
    from pybridge import engine
    from pybridge.sync.scoping_steps import BASE_ATTRIBUTES, RANGED

    config = state["config"]
    # every process starts in the work directory: `python -m` and `-c` put the current directory first on
    # sys.path, and a checkout there would shadow --source
    os.chdir(work)
    cfg = configlib.load(config)
    rules = engine.load_rules(cfg)
    verify = str(lab_dir / "ca" / "ca.pem")
    env = dict(os.environ)
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(args.source).resolve()),
                                                          env.get("PYTHONPATH")]))
    py = sys.executable
    script = Path(py).with_name("pybridge")
    # another source tree (--source) may predate the installed console script's entry point
    pybridge = [str(script)] if script.exists() and not args.source else [py, "-m", "pybridge"]
    sync = [*pybridge, "sync", "--config", config, "--progress", "none", args.dn]
    subprocess.run([*pybridge, "scheduler", "set", "--config", config, "--sync-cycle-enabled", "false"],
                   check=True, stdout=subprocess.DEVNULL, env=env)
    first = subprocess.run([*sync, "--no-html-report"], capture_output=True, text=True, env=env, check=False)
    if first.returncode != 0:
        sys.stderr.write(first.stdout + first.stderr)
        raise SystemExit(f"the first sync of {args.dn} failed")

    # What one unchanged run asks Graph, seen by the emulator.
    emulator_log(state["graph_url"], verify, clear=True)
    subprocess.run([*sync, "--no-html-report"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=False)
    log = emulator_log(state["graph_url"], verify)
    metadata_reads = sum(1 for r in log if "/.well-known/openid-configuration" in r["path"])
    token_requests = sum(1 for r in log if r["path"].endswith("/oauth2/v2.0/token"))
    graph_gets = sum(1 for r in log if r["path"].startswith("/v1.0/"))
    floor_metadata = args.floor_metadata
    if floor_metadata == "auto":
        floor_metadata = "fetch" if metadata_reads else "cache"

    ad = cfg.ad_connectors[0]
    wanted = dict.fromkeys([*BASE_ATTRIBUTES, cfg.sync.source_anchor,
                            *sorted(rules.source_attributes(), key=str.lower)])
    from pybridge.connectors.entra import USER_SELECT
    settings = {
        "dn": args.dn, "ldap_host": args.host, "ldap_ca_file": str(ad.tls.ca_file), "ldap_user": ad.username,
        "ldap_password_file": str(lab_dir / "samba" / "secrets" / "connector.password"),
        "attributes": [a for a in wanted if a.lower() not in RANGED], "anchor": cfg.sync.source_anchor,
        "graph_ca_file": str(cfg.entra.ca_file), "client_id": cfg.entra.client_id,
        "client_secret_file": str(lab_dir / "secrets" / "client-secret"),
        "authority": f"{cfg.entra.authority_host}/{cfg.entra.tenant_id}", "graph_endpoint": cfg.entra.graph_endpoint,
        "token_cache": str(work / "floor-token-cache.json") if args.floor_token == "cache" else None,
        "http_cache": str(work / "floor-http-cache.bin") if floor_metadata == "cache" else None,
        "select": ",".join(USER_SELECT),
    }
    settings_file = work / "floor.json"
    settings_file.write_text(json.dumps(settings), encoding="utf-8")

    commands = {
        "floor (floor_sync.py)": [py, str(HERE / "floor_sync.py"), str(settings_file)],
        FROZEN_FLOOR: [py, str(HERE / "floor_sync.py"), str(settings_file), "--frozen-start"],
        "pybridge sync --no-html-report": [*sync, "--no-html-report"],
        "pybridge sync (HTML report)": sync,
        "pybridge sync --staging-mode --no-html-report": [*sync, "--staging-mode", "--no-html-report"],
    }
    names = list(commands)
    launcher = Launcher()
    run_timed = launcher.run
    for _ in range(args.warmup):
        for name in names:
            _, _, _, rc = run_timed(commands[name], env)
            if rc != 0:
                raise SystemExit(f"{name} exited {rc}: {commands[name]}")
    load_before = os.getloadavg()
    samples: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for i in range(args.pairs):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            wall, cpu, rss, rc = run_timed(commands[name], env)
            if rc != 0:
                raise SystemExit(f"{name} exited {rc}")
            samples[name].append((wall, cpu, rss))
    load_after = os.getloadavg()
    launcher.close()

    med = {n: tuple(statistics.median(s[k] for s in samples[n]) for k in range(3)) for n in names}
    floor = med[names[0]]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pybridge {__version__} from {args.source or 'the installed package'}")
    print(f"load average (1, 5, 15 min): before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)}")
    print(f"bytecode: {'as the environment has it' if args.no_bytecode_cache else 'cached (PYTHONPYCACHEPREFIX)'}; "
          f"one unchanged pybridge run: {metadata_reads} OpenID metadata read(s), {token_requests} token "
          f"request(s), {graph_gets} Graph GET(s); the floor's metadata: {floor_metadata}, token: {args.floor_token}")
    print(f"{args.pairs} rounds after {args.warmup} warm-up rounds, medians:")
    width = max(len(n) for n in names)
    print(f"{'':<{width}}  {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8}   {'wall x':>6} {'CPU x':>6} {'RSS x':>6}")
    out = {}
    for n in names:
        w, c, r = med[n]
        print(f"{n:<{width}}  {w:7.3f} {c:7.3f} {r:8.1f}   {w / floor[0]:6.2f} {c / floor[1]:6.2f} {r / floor[2]:6.2f}")
        out[n] = {"wall_s": round(w, 4), "cpu_s": round(c, 4), "rss_mib": round(r, 1),
                  "wall_ratio": round(w / floor[0], 3), "cpu_ratio": round(c / floor[1], 3),
                  "rss_ratio": round(r / floor[2], 3)}

    frozen = med[FROZEN_FLOOR]
    print(f"against the floor with pybridge's start-up collector regime (--frozen-start: wall "
          f"{frozen[0]:.3f} s, CPU {frozen[1]:.3f} s): " + "; ".join(
              f"{n.removeprefix('pybridge ')} {med[n][0] / frozen[0]:.2f}x / {med[n][1] / frozen[1]:.2f}x"
              for n in names if n.startswith("pybridge")))
    for n in names:
        if n.startswith("pybridge"):
            out[n]["wall_ratio_frozen_floor"] = round(med[n][0] / frozen[0], 3)
            out[n]["cpu_ratio_frozen_floor"] = round(med[n][1] / frozen[1], 3)

    if args.api:
        dns = [args.dn, *[dn for key, dn in state["samples"].items()
                          if key in ("user_comma", "user_nonascii", "user_special") and dn != args.dn]]
        for dn in dns[1:]:  # created once, so that the loop below syncs unchanged users
            subprocess.run([*pybridge, "sync", "--config", config, "--progress", "none", "--no-html-report", dn],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        runs: dict[str, list[dict]] = {"no report": [], "report": []}
        for _ in range(args.api_runs):  # processes of their own, the two modes alternating
            for mode in runs:
                res = subprocess.run([py, "-c", API_CHILD, config, json.dumps(dns), str(args.api),
                                      "report" if mode == "report" else "none"],
                                     capture_output=True, text=True, env=env, check=False)
                if res.returncode != 0:
                    sys.stderr.write(res.stderr)
                    raise SystemExit("the in-process API run failed")
                runs[mode].append(json.loads(res.stdout.strip().splitlines()[-1]))
        for mode, results in runs.items():
            med = lambda key, i: statistics.median(r[key][i] for r in results)  # noqa: E731
            nxt_wall = statistics.median(v for r in results for v in r["next_wall"])
            nxt_cpu = statistics.median(v for r in results for v in r["next_cpu"])
            print(f"in-process API ({mode}), medians of {args.api_runs} processes: import + configuration "
                  f"{med('import_config', 0):.3f} s wall / {med('import_config', 1):.3f} s CPU, first sync "
                  f"{med('first', 0):.3f} / {med('first', 1):.3f} s, then {nxt_wall * 1000:.1f} / "
                  f"{nxt_cpu * 1000:.1f} ms per object ({args.api} syncs of {len(dns)} unchanged users, "
                  f"{'/'.join(results[-1]['status'])})")
            out[f"api ({mode})"] = {"import_config_s": [round(med("import_config", i), 4) for i in (0, 1)],
                                    "first_s": [round(med("first", i), 4) for i in (0, 1)],
                                    "next_s": [round(nxt_wall, 4), round(nxt_cpu, 4)]}
    print(json.dumps({"load_before": load_before, "load_after": load_after, "floor_metadata": floor_metadata,
                      "floor_token": args.floor_token,
                      "bytecode_cache": not args.no_bytecode_cache, "results": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
