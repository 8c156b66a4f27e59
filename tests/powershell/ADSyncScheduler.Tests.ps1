#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# Get-ADSyncScheduler and Set-ADSyncScheduler with the engine mocked.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force
}

AfterAll {
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'Get-ADSyncScheduler' {
    BeforeEach {
        $script:Run = New-TestEngineRun -Stdout (New-TestSchedulerJson)
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Path = 'python'; Arguments = @(); Version = '0.1.0'; Override = $null }
        }
        Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics { $script:Run }
    }

    It 'returns the original''s properties, in its order' {
        $settings = Get-ADSyncScheduler

        $settings.PSObject.Properties.Name | Should -Be @(
            'AllowedSyncCycleInterval', 'CurrentlyEffectiveSyncCycleInterval', 'CustomizedSyncCycleInterval',
            'NextSyncCyclePolicyType', 'NextSyncCycleStartTimeInUTC', 'PurgeRunHistoryInterval', 'SyncCycleEnabled',
            'MaintenanceEnabled', 'StagingModeEnabled', 'SchedulerSuspended', 'SyncCycleInProgress')
        $settings.PSObject.TypeNames[0] | Should -Be 'Microsoft.IdentityManagement.PowerShell.ObjectModel.SchedulerSettings'
    }

    It 'types intervals as TimeSpan, the next start as a UTC DateTime and flags as Boolean' {
        $settings = Get-ADSyncScheduler

        $settings.AllowedSyncCycleInterval | Should -BeOfType [TimeSpan]
        $settings.AllowedSyncCycleInterval | Should -Be ([TimeSpan]::FromMinutes(30))
        $settings.PurgeRunHistoryInterval | Should -Be ([TimeSpan]::FromDays(7))
        $settings.CustomizedSyncCycleInterval | Should -BeNullOrEmpty
        $settings.NextSyncCycleStartTimeInUTC | Should -BeOfType [datetime]
        $settings.NextSyncCycleStartTimeInUTC.Kind | Should -Be 'Utc'
        $settings.NextSyncCycleStartTimeInUTC | Should -Be ([datetime]::new(2026, 11, 25, 9, 0, 0, [DateTimeKind]::Utc))
        $settings.SyncCycleEnabled | Should -BeOfType [bool]
        $settings.SyncCycleInProgress | Should -BeFalse
    }

    It 'serves the runbook pattern of waiting while a sync cycle runs' {
        (Get-ADSyncScheduler).SyncCycleInProgress | Should -BeFalse
    }

    It 'asks the engine for the settings, with -ConfigPath as an absolute path' {
        Push-Location -LiteralPath $TestDrive
        try {
            Get-ADSyncScheduler -ConfigPath 'pybridge.yaml' | Out-Null
        }
        finally {
            Pop-Location
        }
        $config = Join-Path -Path $TestDrive -ChildPath 'pybridge.yaml'
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            ($ArgumentList[0..1] -join ' ') -eq 'scheduler get' -and $ArgumentList[2] -eq '--config' -and $ArgumentList[3] -eq $config
        }
    }

    It 'writes an error, not settings, when the engine fails' {
        $script:Run = New-TestEngineRun -Stderr @('pybridge: configuration error: state.path is not writable') -ExitCode 2

        $settings = Get-ADSyncScheduler -ErrorVariable schedulerErrors -ErrorAction SilentlyContinue

        $settings | Should -BeNullOrEmpty
        $schedulerErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncScheduler.UsageError,Get-ADSyncScheduler'
        $schedulerErrors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $schedulerErrors[0].ToString() | Should -Match 'state.path is not writable'
    }

    It 'reads the settings of sync servers through remoting, with -ConfigPath as the server''s path' {
        Mock Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Sessions = @([pscustomobject]@{ ComputerName = 'aadc01'; InstanceId = [guid]::NewGuid() }); Owned = $true }
        }
        Mock Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics { return }
        Mock Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Output = @([pscustomobject]@{ PSComputerName = 'aadc01'; StagingModeEnabled = $true }); Errors = @() }
        }

        $settings = Get-ADSyncScheduler -ComputerName aadc01 -ConfigPath 'D:\pybridge\pybridge.yaml'

        $settings.PSComputerName | Should -Be 'aadc01'
        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $CommandName -eq 'Get-ADSyncScheduler' -and $Parameters.ConfigPath -eq 'D:\pybridge\pybridge.yaml'
        }
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 0 -Exactly
        Should -Invoke Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }
}

Describe 'Set-ADSyncScheduler' {
    BeforeEach {
        $script:Run = New-TestEngineRun -Stdout (New-TestSchedulerJson -SyncCycleEnabled $false)
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Path = 'python'; Arguments = @(); Version = '0.1.0'; Override = $null }
        }
        Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics { $script:Run }
    }

    It 'passes -SyncCycleEnabled $false as the engine''s false, and returns nothing, as the original' {
        $output = Set-ADSyncScheduler -SyncCycleEnabled $false -Force

        $output | Should -BeNullOrEmpty
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            ($ArgumentList -join ' ') -eq 'scheduler set --sync-cycle-enabled false'
        }
    }

    It 'returns the new settings with -PassThru' {
        $settings = Set-ADSyncScheduler -SyncCycleEnabled $false -Force -PassThru

        $settings.SyncCycleEnabled | Should -BeFalse
    }

    It 'writes time spans as d.hh:mm:ss and $null as null' -TestCases @(
        @{ Value = [TimeSpan]::FromHours(1); Expected = '01:00:00' }
        @{ Value = [TimeSpan]::FromDays(7); Expected = '7.00:00:00' }
        @{ Value = [TimeSpan]::new(1, 2, 3, 4, 500); Expected = '1.02:03:04' }
        @{ Value = $null; Expected = 'null' }
    ) {
        param($Value, $Expected)
        Set-ADSyncScheduler -CustomizedSyncCycleInterval $Value -Force

        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $ArgumentList[2] -eq '--customized-sync-cycle-interval' -and $ArgumentList[3] -eq $Expected
        }
    }

    It 'passes every setting given, with the engine''s option names' {
        $settings = @{
            SyncCycleEnabled        = $true
            NextSyncCyclePolicyType = 'Initial'
            PurgeRunHistoryInterval = [TimeSpan]::FromDays(3)
            MaintenanceEnabled      = $false
            SchedulerSuspended      = $true
        }
        Set-ADSyncScheduler @settings -Force

        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $line = $ArgumentList -join ' '
            $line -match '--sync-cycle-enabled true' -and $line -match '--next-sync-cycle-policy-type Initial' -and
            $line -match '--purge-run-history-interval 3\.00:00:00' -and $line -match '--maintenance-enabled false' -and
            $line -match '--scheduler-suspended true'
        }
    }

    It 'changes nothing with -WhatIf' {
        Set-ADSyncScheduler -SyncCycleEnabled $false -WhatIf

        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 0 -Exactly
    }

    It 'does not ask for confirmation with -Force, even when $ConfirmPreference asks for everything' {
        $saved = $global:ConfirmPreference
        $global:ConfirmPreference = 'Low'
        try {
            Set-ADSyncScheduler -SchedulerSuspended $false -Force
        }
        finally {
            $global:ConfirmPreference = $saved
        }
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }

    It 'refuses a call without any setting' {
        { Set-ADSyncScheduler -Force } | Should -Throw -ErrorId 'ADSyncScheduler.NothingToSet,Set-ADSyncScheduler'
    }

    It 'refuses a policy type the original does not know' {
        { Set-ADSyncScheduler -NextSyncCyclePolicyType Weekly -Force } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'reports the engine''s refusal of a value' {
        $script:Run = New-TestEngineRun -Stderr @('pybridge: error: CustomizedSyncCycleInterval must be at least 00:30:00') -ExitCode 2

        Set-ADSyncScheduler -CustomizedSyncCycleInterval ([TimeSpan]::FromMinutes(5)) -Force -ErrorVariable schedulerErrors -ErrorAction SilentlyContinue

        $schedulerErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncScheduler.UsageError,Set-ADSyncScheduler'
        $schedulerErrors[0].ToString() | Should -Match 'at least 00:30:00'
    }

    It 'changes sync servers through remoting without asking them again' {
        Mock Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Sessions = @([pscustomobject]@{ ComputerName = 'aadc01'; InstanceId = [guid]::NewGuid() }); Owned = $true }
        }
        Mock Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics { return }
        Mock Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics { [pscustomobject]@{ Output = @(); Errors = @() } }

        Set-ADSyncScheduler -SyncCycleEnabled $false -ComputerName aadc01 -Force

        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $CommandName -eq 'Set-ADSyncScheduler' -and $Parameters.SyncCycleEnabled -eq $false -and
            $Parameters.Force -and $Parameters.Confirm -eq $false
        }
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 0 -Exactly
    }
}
