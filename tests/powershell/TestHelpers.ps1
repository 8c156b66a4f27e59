# Shared by the Pester tests: where the module is, and builders for what the engine prints.
# Dot-source it in BeforeAll. Nothing here starts the engine.

$script:RepositoryRoot = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../..')).ProviderPath
$script:ModuleManifest = Join-Path -Path $script:RepositoryRoot -ChildPath 'psmodule/ADSyncDiagnostics/ADSyncDiagnostics.psd1'

function New-TestSyncJson {
    # One compact adsync-shaped result line, as 'pybridge sync' prints it.
    param(
        [string]
        $DistinguishedName = 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com',

        [ValidateSet('Success', 'Failure', 'Skipped')]
        [string]
        $Status = 'Success',

        [string]
        $ErrorCode,

        [string]
        $Reason,

        [string]
        $RecommendedAction,

        [string]
        $ReportPath
    )

    $steps = foreach ($number in 1..10) {
        [ordered]@{
            Status      = if ($Status -eq 'Success' -or $number -lt 5) { 'Success' } elseif ($number -eq 5) { $Status } else { 'Skipped' }
            Type        = 'Scoping'
            Name        = "Step$number"
            Description = "Step $number"
            Timestamp   = '2026-11-25T08:30:00Z'
            Details     = @{}
        }
    }
    $result = [ordered]@{
        Action             = 'Update'
        StartTime          = '2026-11-25T08:30:00Z'
        EndTime            = '2026-11-25T08:30:01Z'
        SourceSystem       = @{ Name = 'Active Directory' }
        TargetSystem       = @{ Name = 'Azure Active Directory' }
        SourceIdentity     = [ordered]@{ Id = 'c3b4e1d2-0000-4000-8000-000000000001'; Type = 'user'; Name = $DistinguishedName }
        TargetIdentity     = [ordered]@{ Id = $null; Type = 'User'; Name = 'jdoe@contoso.com' }
        StatusInfo         = [ordered]@{
            Status            = $Status
            ErrorCode         = if ($ErrorCode) { $ErrorCode } else { $null }
            Reason            = if ($Reason) { $Reason } else { $null }
            AdditionalDetails = $null
            ErrorCategory     = if ($ErrorCode) { 'failure' } else { $null }
            RecommendedAction = if ($RecommendedAction) { $RecommendedAction } else { $null }
        }
        ModifiedProperties = @()
        ProvisioningSteps  = @($steps)
        ReportPath         = if ($ReportPath) { $ReportPath } else { $null }
    }
    ConvertTo-Json -InputObject $result -Depth 6 -Compress
}

function New-TestGraphJson {
    # One compact graph-shaped (provisioningObjectSummary) result line.
    param(
        [ValidateSet('success', 'failure', 'skipped')]
        [string]
        $Status = 'success',

        [string]
        $ErrorCode
    )

    $errorInformation = $null
    if ($ErrorCode) {
        $errorInformation = [ordered]@{ errorCode = $ErrorCode; reason = "Reason for $ErrorCode"; recommendedAction = 'Do this.'; errorCategory = 'failure' }
    }
    $summary = [ordered]@{
        activityDateTime       = '2026-11-25T08:30:00Z'
        provisioningAction     = 'update'
        provisioningStatusInfo = [ordered]@{ status = $Status; errorInformation = $errorInformation }
        provisioningSteps      = @()
    }
    ConvertTo-Json -InputObject $summary -Depth 6 -Compress
}

function New-TestProgressLine {
    param([int]$Step, [string]$Status = 'Success')
    'PYBRIDGE-PROGRESS ' + (ConvertTo-Json -Compress -InputObject ([ordered]@{
                step = $Step; of = 10; name = "Step$Step"; type = 'Scoping'; status = $Status; description = "Step $Step done"
            }))
}

function New-TestEngineRun {
    # What Invoke-PyBridgeEngine emits: stderr lines, stdout lines, then the exit code.
    param(
        [string[]]
        $Stdout = @(),

        [string[]]
        $Stderr = @(),

        [int]
        $ExitCode = 0
    )

    foreach ($line in $Stderr) {
        [pscustomobject]@{ Stream = 'Error'; Text = $line }
    }
    foreach ($line in $Stdout) {
        [pscustomobject]@{ Stream = 'Output'; Text = $line }
    }
    [pscustomobject]@{ Stream = 'Exit'; ExitCode = $ExitCode }
}

function New-TestSchedulerJson {
    param(
        [bool]
        $SyncCycleEnabled = $true,

        [string]
        $CustomizedSyncCycleInterval
    )

    $customized = if ($CustomizedSyncCycleInterval) { $CustomizedSyncCycleInterval } else { $null }
    $effective = if ($CustomizedSyncCycleInterval) { $CustomizedSyncCycleInterval } else { '00:30:00' }
    ConvertTo-Json -Compress -InputObject ([ordered]@{
            AllowedSyncCycleInterval            = '00:30:00'
            CurrentlyEffectiveSyncCycleInterval = $effective
            CustomizedSyncCycleInterval         = $customized
            NextSyncCyclePolicyType             = 'Delta'
            NextSyncCycleStartTimeInUTC         = '2026-11-25T09:00:00Z'
            PurgeRunHistoryInterval             = '7.00:00:00'
            SyncCycleEnabled                    = $SyncCycleEnabled
            MaintenanceEnabled                  = $true
            StagingModeEnabled                  = $false
            SchedulerSuspended                  = $false
            SyncCycleInProgress                 = $false
        })
}

function Get-TestLab {
    <#
    The lab that the suites tagged Lab run against, and why they must skip when there is none.

    First $env:PYBRIDGE_PESTER_LAB: a JSON file that tests/integration/test_pester.py writes for the lab
    the integration tests start (config, samples, configs, python, ssh). Else the lab.json of
    'pybridge lab up' in $env:PYBRIDGE_LAB_DIR or <repository>/lab (config and samples only, so the SSH
    suite skips there). Returns Lab (the parsed JSON) and SkipReason. Under CI a lab that is missing is
    an error, never a skip: the suite's BeforeAll throws.
    #>
    param(
        # the lab must describe the SSH servers too
        [switch]
        $Ssh
    )

    $lab = $null
    $reason = $null
    if ($env:PYBRIDGE_PESTER_LAB) {
        if (Test-Path -LiteralPath $env:PYBRIDGE_PESTER_LAB) {
            $lab = Get-Content -LiteralPath $env:PYBRIDGE_PESTER_LAB -Raw | ConvertFrom-Json
        }
        else {
            $reason = "`$env:PYBRIDGE_PESTER_LAB names $($env:PYBRIDGE_PESTER_LAB), which does not exist"
        }
    }
    else {
        $labDir = $env:PYBRIDGE_LAB_DIR
        if (-not $labDir) {
            $labDir = Join-Path -Path $script:RepositoryRoot -ChildPath 'lab'
        }
        $labState = Join-Path -Path $labDir -ChildPath 'lab.json'
        $python = Get-TestPython
        if (-not $python) {
            $reason = 'no pybridge engine: set $env:PYBRIDGE_PYTHON or run scripts/setup to create .venv'
        }
        elseif (-not (Test-Path -LiteralPath $labState)) {
            $reason = "no lab: run tests/integration/test_pester.py (pytest), or start one with 'pybridge lab up' (`$env:PYBRIDGE_LAB_DIR, default $labDir)"
        }
        else {
            $statusArguments = @('-m', 'pybridge', 'lab', '--dir', $labDir, 'status')
            $null = & $python @statusArguments 2>&1
            if ($LASTEXITCODE -ne 0) {
                $reason = "the lab at $labDir is not running (pybridge lab status exited with $LASTEXITCODE; start it with: pybridge lab up)"
            }
            else {
                $lab = Get-Content -LiteralPath $labState -Raw | ConvertFrom-Json
            }
        }
    }
    if ($lab -and $Ssh -and -not ($lab.PSObject.Properties['ssh'] -and $lab.ssh)) {
        $reason = 'no SSH servers: tests/integration/test_pester.py starts them (Debian''s openssh-server, on loopback)'
    }
    if ($reason -and $env:CI -eq 'true') {
        throw "CI must run this suite, but: $reason"
    }
    [pscustomobject]@{ Lab = $lab; SkipReason = $reason }
}

function Get-TestPython {
    # The python with pybridge that the module starts: the lab's, $env:PYBRIDGE_PYTHON, or the repository's .venv.
    param([object]$Lab)

    if ($Lab -and $Lab.PSObject.Properties['python'] -and $Lab.python) {
        return [string]$Lab.python
    }
    if ($env:PYBRIDGE_PYTHON) {
        return $env:PYBRIDGE_PYTHON
    }
    foreach ($candidate in '.venv/bin/python', '.venv/Scripts/python.exe') {
        $path = Join-Path -Path $script:RepositoryRoot -ChildPath $candidate
        if (Test-Path -LiteralPath $path) {
            return $path
        }
    }
    $null
}
