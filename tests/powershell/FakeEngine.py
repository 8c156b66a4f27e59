"""A stand-in for `python -m pybridge sync --input - --input-format json --progress json`, for the Pester tests
of the module's one-engine pipeline (Pipeline.Tests.ps1). It speaks the engine's batch protocol (one JSON
string per stdin line; per object: progress lines, one result line on stdout, PYBRIDGE-DONE on stderr) and
does what the plan in $FAKE_ENGINE_PLAN (a JSON file) says:

  log       a file that gets one line per process started: {"pid": ..., "argv": [...]} (the tests count them)
  seen      a file that gets one line per object read: the DN as received
  answered  a folder that gets a file answered-N once object N is answered, for tests that wait for it
  results   {"<DN>": {"json": "<result line>", "exit": 1}}: what to answer for a DN (default: a Success result
            naming the DN)
  hold_from N: objects from N on are answered only once stdin has ended (so they are not done before then)
  crash_at  N: on reading object N, write a traceback line and kill this process (SIGKILL)
  exit_at   N: on reading object N, exit at once with exit_code (default 1)
"""
from __future__ import annotations

import json
import os
import signal
import sys


def result_line(dn: str) -> str:
    steps = [{"Status": "Success", "Type": "Scoping", "Name": f"Step{n}", "Description": f"Step {n}",
              "Timestamp": "2026-11-25T08:30:00Z", "Details": {}} for n in range(1, 11)]
    return json.dumps({"Action": "Update", "SourceIdentity": {"Id": None, "Type": "user", "Name": dn},
                       "StatusInfo": {"Status": "Success", "ErrorCode": None, "Reason": None,
                                      "AdditionalDetails": None, "ErrorCategory": None, "RecommendedAction": None},
                       "ModifiedProperties": [], "ProvisioningSteps": steps, "ReportPath": None},
                      separators=(",", ":"))


def main() -> int:
    if "--version" in sys.argv:
        print("pybridge 0.1.0")
        return 0
    plan = json.load(open(os.environ["FAKE_ENGINE_PLAN"], encoding="utf-8"))
    with open(plan["log"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:]}) + "\n")
    results = plan.get("results", {})
    held: list[tuple[int, str]] = []

    def answer(number: int, dn: str) -> None:
        for step in range(1, 11):
            sys.stderr.write("PYBRIDGE-PROGRESS " + json.dumps({"object": number, "step": step, "of": 10,
                                                                "name": f"Step{step}", "type": "Scoping",
                                                                "status": "Success", "description": "d"}) + "\n")
        given = results.get(dn, {})
        sys.stdout.write(given.get("json", result_line(dn)) + "\n")
        sys.stdout.flush()
        for warning in given.get("warnings", []):
            sys.stderr.write(f"pybridge: WARNING: {dn}: {warning}\n")
        sys.stderr.write("PYBRIDGE-DONE " + json.dumps({"object": number, "exit": given.get("exit", 0)}) + "\n")
        sys.stderr.flush()
        if plan.get("answered"):
            open(os.path.join(plan["answered"], f"answered-{number}"), "w").close()

    number = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        number += 1
        dn = json.loads(line)
        if plan.get("seen"):
            with open(plan["seen"], "a", encoding="utf-8") as seen:
                seen.write(json.dumps(dn) + "\n")
        if plan.get("crash_at") == number:
            sys.stderr.write("Traceback (most recent call last): the fake engine was killed\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        if plan.get("exit_at") == number:
            sys.stderr.write("pybridge: error: the fake engine stops here\n")
            sys.stderr.flush()
            os._exit(plan.get("exit_code", 1))
        if plan.get("hold_from") and number >= plan["hold_from"]:
            held.append((number, dn))
            continue
        answer(number, dn)
    for number, dn in held:
        answer(number, dn)
    sys.stderr.write(f"pybridge: {number} object(s) synced\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
