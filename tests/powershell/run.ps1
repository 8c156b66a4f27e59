# Runs the Pester tests in this folder; exits with the number of failures (0 when all pass).
# Called by run.sh; works on its own too: pwsh -File tests/powershell/run.ps1 [-Output Detailed]
#   -Tag / -ExcludeTag  select suites by tag (the suites that need the lab are tagged Lab)
#   -ResultFile         also writes a JSON summary there: counts, and every test that did not pass
#                       with its messages (tests/unit/test_pester.py and tests/integration/test_pester.py read it)
[CmdletBinding()]
param(
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string]
    $Output = 'Detailed',

    [string[]]
    $Tag,

    [string[]]
    $ExcludeTag,

    [string]
    $ResultFile
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
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = $Output
if ($Tag) {
    $configuration.Filter.Tag = $Tag
}
if ($ExcludeTag) {
    $configuration.Filter.ExcludeTag = $ExcludeTag
}
$result = Invoke-Pester -Configuration $configuration

# A failed BeforeAll or a file that does not load fails its tests without running them: count those too.
$selected = @($result.Tests | Where-Object { $_.ShouldRun })
$notRun = @($selected | Where-Object { $_.Result -eq 'NotRun' })
$failures = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount + $notRun.Count

if ($ResultFile) {
    $problems = foreach ($test in $selected) {
        if ($test.Result -eq 'Passed') {
            continue
        }
        [ordered]@{
            Path     = $test.ExpandedPath
            Result   = [string]$test.Result
            Messages = @($test.ErrorRecord | ForEach-Object { [string]$_ })
        }
    }
    # Containers and blocks that failed on their own (a file that does not load, a BeforeAll that throws).
    $blocks = foreach ($container in @($result.Containers)) {
        if (@($container.ErrorRecord).Count -gt 0) {
            [ordered]@{ Path = [string]$container.Item; Result = [string]$container.Result; Messages = @($container.ErrorRecord | ForEach-Object { [string]$_ }) }
        }
    }
    $blocks = @($blocks) + @(foreach ($block in @($result.Failed | Where-Object { $_ -is [Pester.Block] })) {
            [ordered]@{ Path = $block.ExpandedPath; Result = 'Failed'; Messages = @($block.ErrorRecord | ForEach-Object { [string]$_ }) }
        })
    $summary = [ordered]@{
        Passed          = $result.PassedCount
        Failed          = $result.FailedCount
        Skipped         = $result.SkippedCount
        NotRun          = $notRun.Count
        FailedBlocks    = $result.FailedBlocksCount
        FailedContainers = $result.FailedContainersCount
        Total           = $selected.Count
        Tests           = @($problems)
        Blocks          = @($blocks)
    }
    $summary | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath $ResultFile -Encoding utf8
}
exit ([math]::Min(255, $failures))
