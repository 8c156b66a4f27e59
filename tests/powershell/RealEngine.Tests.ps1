#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# The module against the real engine and the lab of 'pybridge lab up' (a Samba AD DC and the Graph
# emulator). Skipped, with the reason, when the engine or a running lab is not available.
#   engine: $env:PYBRIDGE_PYTHON, else the repository's .venv
#   lab:    $env:PYBRIDGE_LAB_DIR, else <repository>/lab (start it with: .venv/bin/pybridge lab up)

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force

    $script:SkipReason = $null
    $script:SavedPython = $env:PYBRIDGE_PYTHON
    $python = $env:PYBRIDGE_PYTHON
    if (-not $python) {
        foreach ($candidate in '.venv/bin/python', '.venv/Scripts/python.exe') {
            $path = Join-Path -Path $script:RepositoryRoot -ChildPath $candidate
            if (Test-Path -LiteralPath $path) {
                $python = $path
                break
            }
        }
    }
    $labDir = $env:PYBRIDGE_LAB_DIR
    if (-not $labDir) {
        $labDir = Join-Path -Path $script:RepositoryRoot -ChildPath 'lab'
    }
    $labState = Join-Path -Path $labDir -ChildPath 'lab.json'

    if (-not $python) {
        $script:SkipReason = 'no pybridge engine: set $env:PYBRIDGE_PYTHON or run scripts/setup to create .venv'
    }
    elseif (-not (Test-Path -LiteralPath $labState)) {
        $script:SkipReason = "no lab at $labDir (start one with: pybridge lab up; or set `$env:PYBRIDGE_LAB_DIR)"
    }
    else {
        $statusArguments = @('-m', 'pybridge', 'lab', '--dir', $labDir, 'status')
        $null = & $python @statusArguments 2>&1
        if ($LASTEXITCODE -ne 0) {
            $script:SkipReason = "the lab at $labDir is not running (pybridge lab status exited with $LASTEXITCODE; start it with: pybridge lab up)"
        }
    }
    if (-not $script:SkipReason) {
        $env:PYBRIDGE_PYTHON = $python
        $lab = Get-Content -LiteralPath $labState -Raw | ConvertFrom-Json
        $script:Config = [string]$lab.config
        $script:Samples = $lab.samples
    }
}

AfterAll {
    $env:PYBRIDGE_PYTHON = $script:SavedPython
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'ADSyncDiagnostics against the real engine and the lab' {
    BeforeEach {
        if ($script:SkipReason) {
            Set-ItResult -Skipped -Because $script:SkipReason
        }
    }

    It 'runs the runbook pattern: -NoHtmlReport -StagingMode | ConvertFrom-Json' {
        if ($script:SkipReason) { return }
        $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $script:Config -NoHtmlReport -StagingMode | ConvertFrom-Json

        $result.StatusInfo.Status | Should -Be 'Success'
        @($result.ProvisioningSteps).Count | Should -Be 10
        $result.ProvisioningSteps[-1].Description | Should -BeLike '`[Staging Mode`]*'
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
    }

    It 'writes an error record for an object the connector account cannot read' {
        if ($script:SkipReason) { return }
        $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.hidden -ConfigPath $script:Config -NoHtmlReport -WhatIf -AsObject -ErrorVariable syncErrors -ErrorAction SilentlyContinue

        $result.StatusInfo.Status | Should -Be 'Failure'
        $syncErrors.Count | Should -Be 1
        $syncErrors[0].FullyQualifiedErrorId | Should -BeLike "ADSyncSingleObjectSync.$($result.StatusInfo.ErrorCode),*"
        $syncErrors[0].TargetObject | Should -Be $script:Samples.hidden
    }

    It 'writes the HTML report into -ReportDirectory and says where' {
        if ($script:SkipReason) { return }
        $reports = Join-Path -Path $TestDrive -ChildPath 'reports'
        $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -ConfigPath $script:Config -WhatIf -ReportDirectory $reports

        $output.ReportPath | Should -Not -BeNullOrEmpty
        $output.ReportPath | Should -BeLike (Join-Path -Path $reports -ChildPath 'ADSyncSingleObjectSyncResult-*.htm')
        Test-Path -LiteralPath $output.ReportPath | Should -BeTrue
    }

    It 'reads the scheduler settings, typed' {
        if ($script:SkipReason) { return }
        $settings = Get-ADSyncScheduler -ConfigPath $script:Config

        $settings.AllowedSyncCycleInterval | Should -Be ([TimeSpan]::FromMinutes(30))
        $settings.SyncCycleInProgress | Should -BeOfType [bool]
    }
}
