#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# The module against the real engine and a real lab (a Samba AD DC and the Graph emulator): the lab that
# tests/integration/test_pester.py passes in $env:PYBRIDGE_PESTER_LAB, or, by hand, the one of
# 'pybridge lab up'. Without a lab the tests skip with the reason; under CI they fail instead.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force

    $script:SavedPython = $env:PYBRIDGE_PYTHON
    $found = Get-TestLab
    $script:SkipReason = $found.SkipReason
    if (-not $script:SkipReason) {
        $env:PYBRIDGE_PYTHON = Get-TestPython -Lab $found.Lab
        $script:Config = [string]$found.Lab.config
        $script:Samples = $found.Lab.samples
    }
}

AfterAll {
    $env:PYBRIDGE_PYTHON = $script:SavedPython
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'ADSyncDiagnostics against the real engine and the lab' -Tag 'Lab' {
    BeforeEach {
        if ($script:SkipReason) {
            Set-ItResult -Skipped -Because $script:SkipReason
        }
        $Error.Clear()
    }

    It 'runs the runbook pattern: -NoHtmlReport -StagingMode | ConvertFrom-Json' {
        if ($script:SkipReason) { return }
        $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $script:Config -NoHtmlReport -StagingMode -ErrorVariable syncErrors | ConvertFrom-Json

        $result.StatusInfo.Status | Should -Be 'Success'
        @($result.ProvisioningSteps).Count | Should -Be 10
        $result.ProvisioningSteps[-1].Description | Should -BeLike '`[Staging Mode`]*'
        $syncErrors.Count | Should -Be 0
        $Error.Count | Should -Be 0
    }

    It 'syncs a DN with a comma and one with non-ASCII characters from the pipeline, as a dry run' {
        if ($script:SkipReason) { return }
        $results = @($script:Samples.user_comma, $script:Samples.user_nonascii |
                Invoke-ADSyncSingleObjectSync -ConfigPath $script:Config -NoHtmlReport -WhatIf -AsObject)

        $results.Count | Should -Be 2
        $results | ForEach-Object { $_.StatusInfo.Status | Should -Be 'Success' }
        $results[1].SourceIdentity.Name | Should -Match 'Zo.+ngstr'
    }

    It 'returns Skipped without an error for an object out of scope' {
        if ($script:SkipReason) { return }
        $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user_excluded -ConfigPath $script:Config -NoHtmlReport -WhatIf -AsObject -ErrorVariable syncErrors

        $result.StatusInfo.Status | Should -Be 'Skipped'
        $syncErrors.Count | Should -Be 0
        $Error.Count | Should -Be 0
    }

    It 'writes exactly one error record for an object the connector account cannot read' {
        if ($script:SkipReason) { return }
        $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.hidden -ConfigPath $script:Config -NoHtmlReport -WhatIf -AsObject -ErrorVariable syncErrors -ErrorAction SilentlyContinue

        $result.StatusInfo.Status | Should -Be 'Failure'
        $syncErrors.Count | Should -Be 1
        $syncErrors[0].FullyQualifiedErrorId | Should -BeLike "ADSyncSingleObjectSync.$($result.StatusInfo.ErrorCode),*"
        $syncErrors[0].TargetObject | Should -Be $script:Samples.hidden
        $syncErrors[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $Error.Count | Should -Be 1
    }

    It 'keeps one record per failed object when several fail in one pipeline, and goes on after each' {
        if ($script:SkipReason) { return }
        $dns = $script:Samples.hidden, $script:Samples.user, 'CN=Nobody,OU=Users,OU=Corp,DC=contoso,DC=com', $script:Samples.user_excluded
        $results = @($dns | Invoke-ADSyncSingleObjectSync -ConfigPath $script:Config -NoHtmlReport -WhatIf -AsObject -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $results.Count | Should -Be 4
        @($results.StatusInfo.Status) | Should -Be @('Failure', 'Success', 'Failure', 'Skipped')
        $syncErrors.Count | Should -Be 2
        @($syncErrors.TargetObject) | Should -Be @($dns[0], $dns[2])
        $Error.Count | Should -Be 2
    }

    It 'writes one UsageError, and no other record, for a configuration file that does not exist' {
        if ($script:SkipReason) { return }
        $missing = Join-Path -Path $TestDrive -ChildPath 'missing.yaml'
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $missing -NoHtmlReport -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $syncErrors.Count | Should -Be 1
        $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ConfigurationError,*'
        $syncErrors[0].ToString() | Should -Match ([regex]::Escape('missing.yaml'))
        $output.Count | Should -Be 1
        ($output[0] | ConvertFrom-Json).StatusInfo.ErrorCode | Should -Be 'ConfigurationError'
        $Error.Count | Should -Be 1
    }

    It 'writes the HTML report into -ReportDirectory and says where' {
        if ($script:SkipReason) { return }
        $reports = Join-Path -Path $TestDrive -ChildPath 'reports'
        $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $script:Config -WhatIf -ReportDirectory $reports

        $output.ReportPath | Should -Not -BeNullOrEmpty
        $output.ReportPath | Should -BeLike (Join-Path -Path $reports -ChildPath 'ADSyncSingleObjectSyncResult-*.htm')
        Test-Path -LiteralPath $output.ReportPath | Should -BeTrue
    }

    It 'shows progress for the ten steps and the engine''s messages with -Verbose' {
        if ($script:SkipReason) { return }
        $verbose = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $script:Config -NoHtmlReport -WhatIf -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })

        @($verbose.Message | Where-Object { $_ -match '^Step \d+ of 10: ' }).Count | Should -Be 10
        $verbose.Message | Should -Contain 'Step 10 of 10: ExportSpecificObject (Export): Success'
    }

    It 'sends three piped DNs to one engine process and writes their results in order' {
        if ($script:SkipReason) { return }
        # A python that notes each start, then is the real one: the engine processes are counted, not assumed.
        $starts = Join-Path -Path $TestDrive -ChildPath 'starts.log'
        $shim = Join-Path -Path $TestDrive -ChildPath 'python-counted'
        Set-Content -LiteralPath $shim -Value "#!/bin/sh`nprintf '%s\n' `"`$*`" >> '$starts'`nexec '$($env:PYBRIDGE_PYTHON)' `"`$@`"`n"
        chmod +x $shim
        $real = $env:PYBRIDGE_PYTHON
        $env:PYBRIDGE_PYTHON = $shim
        try {
            $dns = $script:Samples.user, $script:Samples.user_comma, $script:Samples.user_nonascii
            $results = @($dns | Invoke-ADSyncSingleObjectSync -ConfigPath $script:Config -NoHtmlReport -StagingMode -AsObject -ErrorVariable syncErrors)
        }
        finally {
            $env:PYBRIDGE_PYTHON = $real
        }

        $results.Count | Should -Be 3
        @($results.SourceIdentity.Name) | Should -Be $dns
        @($results.StatusInfo.Status) | Should -Be @('Success', 'Success', 'Success')
        $results | ForEach-Object { $_.ProvisioningSteps[-1].Description | Should -BeLike '`[Staging Mode`]*' }
        $syncErrors.Count | Should -Be 0
        $Error.Count | Should -Be 0
        $syncs = @(Get-Content -LiteralPath $starts | Where-Object { $_ -match ' sync ' })
        $syncs.Count | Should -Be 1
        $syncs[0] | Should -Match '--input - --input-format json'
    }

    It 'gives each piped object its own HTML report from the one engine' {
        if ($script:SkipReason) { return }
        $reports = Join-Path -Path $TestDrive -ChildPath 'batch-reports'
        $dns = $script:Samples.user, $script:Samples.user_comma

        $output = @($dns | Invoke-ADSyncSingleObjectSync -ConfigPath $script:Config -WhatIf -ReportDirectory $reports)

        $output.Count | Should -Be 2
        $output | ForEach-Object {
            $_.ReportPath | Should -BeLike (Join-Path -Path $reports -ChildPath 'ADSyncSingleObjectSyncResult-*.htm')
            Test-Path -LiteralPath $_.ReportPath | Should -BeTrue
        }
        $output[0].ReportPath | Should -Not -Be $output[1].ReportPath
        for ($i = 0; $i -lt 2; $i++) {
            # each report is its own object's: the engine's numbered report line is matched to its object
            $name = ($output[$i] | ConvertFrom-Json).SourceIdentity.Name
            $name | Should -Be $dns[$i]
            Get-Content -LiteralPath $output[$i].ReportPath -Raw | Should -Match ([regex]::Escape([System.Net.WebUtility]::HtmlEncode($dns[$i])))
        }
    }

    It 'reads the scheduler settings, typed' {
        if ($script:SkipReason) { return }
        $settings = Get-ADSyncScheduler -ConfigPath $script:Config

        $settings.AllowedSyncCycleInterval | Should -Be ([TimeSpan]::FromMinutes(30))
        $settings.SyncCycleInProgress | Should -BeOfType [bool]
    }
}
