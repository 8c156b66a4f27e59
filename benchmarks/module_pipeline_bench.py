"""Piped objects through the PowerShell module: 1, 20 and 200 DNs into Invoke-ADSyncSingleObjectSync.

    sudo .venv/bin/python benchmarks/module_pipeline_bench.py [--host 127.0.0.72] [--pwsh PATH]

Starts its own lab (a Samba AD DC on --host and the Graph emulator in this process, benchmarks/benchlab.py),
adds 200 users, and times, in one PowerShell 7 session with the module imported,
`$dns | Invoke-ADSyncSingleObjectSync -ConfigPath ... -StagingMode -NoHtmlReport` for 1, 20 and 200 piped DNs
(piped objects go to one engine process), and for comparison 20 DNs one call each (one engine process per
object, what a pipeline cost before). Every object is synced once first, so the measured runs are of unchanged
objects with a warm token cache. Prints the times and the ratio 20 piped / 1 (target: at most 4).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlab import ROOT, BenchLab  # noqa: E402

OU = "OU=Pipeline,DC=contoso,DC=com"

# Times each case in one PowerShell session (the module imported once, as a runbook has it).
SCRIPT = r'''
param($Manifest, $Config, $DnFile, $Runs1, $Runs20)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$dns = @(Get-Content -LiteralPath $DnFile -Encoding utf8)
$common = @{ ConfigPath = $Config; StagingMode = $true; NoHtmlReport = $true; ErrorAction = 'SilentlyContinue' }
function Measure-Case([string]$Name, [int]$Count, [int]$Runs, [scriptblock]$Run) {
    $times = foreach ($i in 1..$Runs) {
        $results = $null
        $seconds = (Measure-Command { $script:results = @(& $Run) }).TotalSeconds
        if ($script:results.Count -ne $Count) { throw "$Name gave $($script:results.Count) results, not $Count" }
        $seconds
    }
    $sorted = @($times | Sort-Object)
    [pscustomobject]@{ case = $Name; objects = $Count; runs = $Runs; median = $sorted[[int][math]::Floor(($sorted.Count - 1) / 2)]; min = $sorted[0] } |
        ConvertTo-Json -Compress
}
# warm-up: every object synced once (the first staging run records them), the engine found and cached
$null = @($dns | Invoke-ADSyncSingleObjectSync @common)
Measure-Case 'piped' 1 $Runs1 { $dns[0] | Invoke-ADSyncSingleObjectSync @common }
Measure-Case 'piped' 20 $Runs20 { $dns[0..19] | Invoke-ADSyncSingleObjectSync @common }
Measure-Case 'piped' 200 1 { $dns | Invoke-ADSyncSingleObjectSync @common }
Measure-Case 'one call each' 20 1 { $dns[0..19] | ForEach-Object { Invoke-ADSyncSingleObjectSync -DistinguishedName $_ @common } }
'''


def find_pwsh(given: str | None) -> str:
    if given:
        return given
    found = subprocess.run(["bash", str(ROOT / "scripts" / "find-pwsh")], capture_output=True, text=True)
    path = found.stdout.strip().splitlines()[-1] if found.returncode == 0 and found.stdout.strip() else None
    return path or shutil.which("pwsh") or "pwsh"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.72")
    ap.add_argument("--pwsh", help="PowerShell 7 (default: scripts/find-pwsh's)")
    ap.add_argument("--runs", type=int, default=5, help="runs of the 1-object case (the 20-object case: 3)")
    args = ap.parse_args()
    pwsh = find_pwsh(args.pwsh)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}; pwsh {pwsh}")
    with BenchLab(args.host) as lab:
        cfg = lab.config()
        dns = lab.add_users(OU, 200, prefix="pipe")
        dn_file = lab.root / "dns.txt"
        dn_file.write_text("\n".join(dns) + "\n", encoding="utf-8")
        script = lab.root / "bench.ps1"
        script.write_text(SCRIPT, encoding="utf-8")
        env = dict(os.environ, PYBRIDGE_PYTHON=sys.executable)
        proc = subprocess.Popen([pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(script),
                                 str(ROOT / "psmodule" / "ADSyncDiagnostics" / "ADSyncDiagnostics.psd1"), str(cfg),
                                 str(dn_file), str(args.runs), "3"], stdout=subprocess.PIPE, text=True, env=env)
        cases = []
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):
                case = json.loads(line)
                cases.append(case)
                print(f"{case['objects']:>4} DNs, {case['case']:<13}: {case['median']:6.2f} s (median of "
                      f"{case['runs']}, min {case['min']:.2f} s) = {case['median'] / case['objects']:.3f} s per object",
                      flush=True)
        if proc.wait() != 0:
            print(f"PowerShell exited with {proc.returncode}", file=sys.stderr)
            return 1
    one = next(c["median"] for c in cases if c["case"] == "piped" and c["objects"] == 1)
    twenty = next(c["median"] for c in cases if c["case"] == "piped" and c["objects"] == 20)
    each = next(c["median"] for c in cases if c["case"] == "one call each")
    print(f"ratio 20 piped / 1: {twenty / one:.2f} (target <= 4); 20 one call each / 20 piped: {each / twenty:.1f}; "
          f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
