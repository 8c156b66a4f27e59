"""The full default rule set over 10,000 user objects in one process: objects per second and ms per object.

    python benchmarks/rules_bench.py [--objects 10000] [--repeat 3] [--rules config/rules/example-custom.yaml]

Each object goes through what Single Object Sync's sync step runs: the inbound rules of its connector and class
(scoping, join, every flow with precedence, AttributeInfo for each contribution), then the outbound rules to
Graph properties. The users vary (enabled and disabled, with and without UPN, mail, proxyAddresses, managers,
extension attributes, Exchange recipient types; some cloudFiltered) so that every branch of the defaults runs.
Loading (parsing and compiling the YAML) is timed separately: it happens once per process.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pybridge.core.rules import RuleSet  # noqa: E402

CTX = {"Domain.FQDN": "contoso.com", "Domain.Netbios": "CONTOSO", "Forest.FQDN": "contoso.com",
       "Connector.Name": "contoso.com"}
FIRST = ["Jane", "John", "Åsa", "Mário", "Li", "Olga", "Zoë", "Ahmed"]
LAST = ["Doe", "Smith", "Müller", "Ørsted", "Nakamura", "O'Neil", "García", "Ng"]


def make_user(i: int) -> dict[str, list]:
    given, sn = FIRST[i % len(FIRST)], LAST[(i // 8) % len(LAST)]
    sam = f"u{i:05d}"
    guid = i.to_bytes(16, "little")
    sid = bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0]) + (1000 + i).to_bytes(4, "little") * 3 + \
        (1100 + i).to_bytes(4, "little")
    u: dict[str, list] = {
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "cn": [f"{given} {sn} {i}"], "sAMAccountName": [sam], "objectGUID": [guid], "objectSid": [sid],
        "distinguishedName": [f"CN={given} {sn} {i},OU=Users,OU=Corp,DC=contoso,DC=com"],
        "userAccountControl": [514 if i % 10 == 0 else 512], "givenName": [f" {given} "], "sn": [sn],
        "title": ["Engineer"], "department": [f"Dept {i % 40}"], "company": ["Contoso"],
        "telephoneNumber": [f"+1 555 {i:04d}"], "l": ["Oslo"], "co": ["Norway"], "c": ["NO"],
        "whenCreated": ["20240102030405.0Z"],
    }
    if i % 3:
        u["userPrincipalName"] = [f"{given.lower()}.{i}@contoso.com"]
    if i % 2:
        u["mail"] = [f"{sam}@contoso.com"]
        u["proxyAddresses"] = [f"SMTP:{sam}@contoso.com", f"smtp:{sam}@contoso.mail.onmicrosoft.com",
                               f"smtp:{sam}@contoso.com "]
        u["mailNickname"] = [sam]
        u["msExchRecipientTypeDetails"] = [1]
    if i % 5 == 0:
        u["manager"] = [f"CN=Boss {i % 50},OU=Users,OU=Corp,DC=contoso,DC=com"]
    if i % 7 == 0:
        u["extensionAttribute1"] = ["cost-center-7"]
        u["mS-DS-ConsistencyGuid"] = [guid[::-1]]
    if i % 97 == 0:
        u["sAMAccountName"] = [f"AAD_{i:08x}"]  # a sync service account: cloudFiltered
    if i % 101 == 0:
        u["description"] = ["  " + "long description " * 40]
    return u


def run(rs: RuleSet, users: list[dict[str, list]]) -> tuple[float, int, int]:
    excluded = exported = 0
    t0 = time.perf_counter()
    for u in users:
        inbound = rs.inbound("contoso.com", "user", u, CTX)
        if inbound.excluded is not None:
            excluded += 1
            continue
        mv = {k: v if isinstance(v, list) else [v] for k, v in inbound.values.items()}
        out = rs.outbound(inbound.mv_type or "person", mv, CTX)
        exported += len(out.values)
    return time.perf_counter() - t0, excluded, exported


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the objects (the median is shown)")
    ap.add_argument("--rules", action="append", default=[], help="extra rule files or directories")
    args = ap.parse_args()

    t0 = time.perf_counter()
    rs = RuleSet.load([Path(p) for p in args.rules])
    load_s = time.perf_counter() - t0
    users = [make_user(i) for i in range(args.objects)]
    run(rs, users[:200])  # warm the per-type plans
    passes = [run(rs, users) for _ in range(args.repeat)]
    seconds = statistics.median(p[0] for p in passes)
    _, excluded, exported = passes[0]
    flows = sum(len(r.flows) for r in rs.rules)
    print(f"Python {platform.python_version()} on {platform.machine()}, {len(rs.rules)} rules, {flows} flows")
    print(f"load (parse + compile, once):  {load_s * 1000:8.1f} ms")
    print(f"objects:                       {args.objects:8d}  ({excluded} excluded as cloudFiltered)")
    print(f"Graph property values:         {exported:8d}")
    print(f"time (median of {args.repeat}):           {seconds:8.3f} s")
    print(f"objects per second:            {args.objects / seconds:8.0f}")
    print(f"ms per object:                 {seconds * 1000 / args.objects:8.3f}  (goal: well under 1 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
