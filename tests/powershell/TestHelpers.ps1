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
