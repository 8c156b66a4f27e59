# Runs the Pester tests in this folder; exits with the number of failed tests (0 when all pass).
# Called by run.sh; works on its own too: pwsh -File tests/powershell/run.ps1 [-Output Detailed]
[CmdletBinding()]
param(
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string]
    $Output = 'Detailed'
)

$pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version -ge [version]'5.2.0' } |
    Sort-Object -Property Version -Descending | Select-Object -First 1
if (-not $pester) {
    $message = 'tests/powershell: Pester 5.2 or later is not installed (Install-Module Pester -MinimumVersion 5.2.0 -Scope CurrentUser)'
    if ($env:CI -eq 'true') {
        Write-Error "$message; CI must run these tests." -ErrorAction Continue
        exit 1
    }
    [Console]::Error.WriteLine("$message; SKIPPED.")
    exit 0
}
Import-Module -Name $pester.Path -Force

$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
$configuration.Run.Exit = $true
$configuration.Output.Verbosity = $Output
Invoke-Pester -Configuration $configuration
