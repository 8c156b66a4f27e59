#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# Piped objects go to one engine process (issue 18 item 5). The engine here is FakeEngine.py, a real process
# behind the module's own seam for the engine command (Resolve-PyBridgeEngine names the program the module
# starts): it speaks the engine's batch protocol, logs every process started and every object read, and
# can hold answers back, fail, exit early or be killed, as its plan ($env:FAKE_ENGINE_PLAN) says.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force

    $script:Python = Get-TestPython
    if (-not $script:Python) {
        $script:Python = (Get-Command -Name python3 -CommandType Application | Select-Object -First 1).Source
    }
    $script:FakeEngine = Join-Path -Path $PSScriptRoot -ChildPath 'FakeEngine.py'
    $script:Dns = 1..5 | ForEach-Object { "CN=User $_,OU=Users,OU=Corp,DC=contoso,DC=com" }

    function Set-FakeEnginePlan {
        # Writes the plan the fake engine follows; the log, seen and answered files live under $TestDrive.
        param([hashtable]$Plan = @{})
        $folder = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $folder
        $Plan['log'] = Join-Path -Path $folder -ChildPath 'starts.log'
        $Plan['seen'] = Join-Path -Path $folder -ChildPath 'seen.log'
        $Plan['answered'] = $folder
        $file = Join-Path -Path $folder -ChildPath 'plan.json'
        ConvertTo-Json -InputObject $Plan -Depth 6 | Set-Content -LiteralPath $file -Encoding utf8
        $env:FAKE_ENGINE_PLAN = $file
        $script:Plan = [pscustomobject]$Plan
    }

    function Get-FakeEngineStart {
        # One object per engine process the fake saw started: pid and argv.
        if (-not (Test-Path -LiteralPath $script:Plan.log)) { return @() }
        @(Get-Content -LiteralPath $script:Plan.log | ForEach-Object { $_ | ConvertFrom-Json })
    }

    function Get-FakeEngineSeen {
        # The DNs the fake read from its stdin, in order.
        if (-not (Test-Path -LiteralPath $script:Plan.seen)) { return @() }
        @(Get-Content -LiteralPath $script:Plan.seen -Encoding utf8 | ForEach-Object { $_ | ConvertFrom-Json })
    }
}

AfterAll {
    Remove-Item -Path Env:FAKE_ENGINE_PLAN -ErrorAction SilentlyContinue
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'Invoke-ADSyncSingleObjectSync with piped objects: one engine process' {
    BeforeEach {
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Path = $script:Python; Arguments = @($script:FakeEngine); Version = '0.1.0'; Override = $null }
        }
        Set-FakeEnginePlan
    }

    It 'sends N piped DNs to one engine process and writes N results, in order' {
        $output = @($script:Dns | Invoke-ADSyncSingleObjectSync)

        $starts = Get-FakeEngineStart
        $starts.Count | Should -Be 1
        ($starts[0].argv -join ' ') | Should -Match ([regex]::Escape('sync --input - --input-format json --format adsync --progress json'))
        Get-FakeEngineSeen | Should -Be $script:Dns
        $output.Count | Should -Be 5
        $output | ForEach-Object { $_ | Should -BeOfType [string] }
        @($output | ForEach-Object { ($_ | ConvertFrom-Json).SourceIdentity.Name }) | Should -Be $script:Dns
    }

    It 'keeps the output contract: the JSON string unchanged with ReportPath, or -AsObject objects' {
        $json = New-TestSyncJson -DistinguishedName $script:Dns[1]
        Set-FakeEnginePlan @{ results = @{ $script:Dns[1] = @{ json = $json } } }

        $strings = @($script:Dns[0..2] | Invoke-ADSyncSingleObjectSync)
        $objects = @($script:Dns[0..2] | Invoke-ADSyncSingleObjectSync -AsObject)

        $strings[1] | Should -BeExactly $json
        $strings[1].PSObject.Properties['ReportPath'] | Should -Not -BeNullOrEmpty
        $objects.Count | Should -Be 3
        $objects | ForEach-Object { $_ | Should -BeOfType [pscustomobject] }
        $objects[2].SourceIdentity.Name | Should -Be $script:Dns[2]
        $objects[2].PSObject.Properties['ReportPath'] | Should -Not -BeNullOrEmpty
    }

    It 'gives the one engine the switches: <Switches>' -TestCases @(
        @{ Switches = '-StagingMode -NoHtmlReport'; Parameters = @{ StagingMode = $true; NoHtmlReport = $true }; Expected = @('--staging-mode', '--no-html-report') }
        @{ Switches = '-WhatIf -Format Graph'; Parameters = @{ WhatIf = $true; Format = 'Graph' }; Expected = @('--what-if', 'graph') }
        @{ Switches = '-ConfigPath -ReportDirectory (relative)'; Parameters = @{ ConfigPath = 'pybridge.yaml'; ReportDirectory = 'reports' }; Expected = @('--config', 'CONFIG', '--report-dir', 'REPORTS') }
    ) {
        param($Switches, $Parameters, $Expected)
        Push-Location -LiteralPath $TestDrive
        try {
            $null = $script:Dns[0..2] | Invoke-ADSyncSingleObjectSync @Parameters -ErrorAction SilentlyContinue
        }
        finally {
            Pop-Location
        }

        $starts = Get-FakeEngineStart
        $starts.Count | Should -Be 1
        $want = $Expected | ForEach-Object {
            switch ($_) {
                'CONFIG' { Join-Path -Path $TestDrive -ChildPath 'pybridge.yaml' }
                'REPORTS' { Join-Path -Path $TestDrive -ChildPath 'reports' }
                default { $_ }
            }
        }
        foreach ($argument in $want) {
            $starts[0].argv | Should -Contain $argument
        }
        if (-not $Parameters.ContainsKey('WhatIf')) {
            $starts[0].argv | Should -Not -Contain '--what-if'
        }
        Get-FakeEngineSeen | Should -Be $script:Dns[0..2]
    }

    It 'writes the first result before the last object is sent, and before the engine has finished the last' {
        # The fake answers objects 1 and 2 at once and object 3 only when its input ends.
        Set-FakeEnginePlan @{ hold_from = 3 }
        $events = [System.Collections.Generic.List[string]]::new()
        $answered = Join-Path -Path $script:Plan.answered -ChildPath 'answered-1'

        & {
            $script:Dns[0]
            $events.Add('sent 1')
            $script:Dns[1]
            $events.Add('sent 2')
            # The engine has the first two objects now; wait until it has answered the first.
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Test-Path -LiteralPath $answered) -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 50
            }
            Start-Sleep -Milliseconds 500
            $events.Add('third object next')
            $script:Dns[2]
            $events.Add('sent 3')
        } | Invoke-ADSyncSingleObjectSync -AsObject | ForEach-Object { $events.Add("result $($_.SourceIdentity.Name)") }

        Test-Path -LiteralPath $answered | Should -BeTrue
        # The first result is out while the third object is being handed over (or earlier, when the engine
        # is quicker than the module), never only at the end; the held third object comes last.
        $first = $events.IndexOf("result $($script:Dns[0])")
        $first | Should -BeGreaterOrEqual 1
        $first | Should -BeLessThan $events.IndexOf('sent 3')
        $events[$events.Count - 1] | Should -Be "result $($script:Dns[2])"
        @($events | Where-Object { $_ -like 'result *' }) | Should -Be @($script:Dns[0..2] | ForEach-Object { "result $_" })
        (Get-FakeEngineStart).Count | Should -Be 1
    }

    It 'writes progress for each object under its own activity, and completes it' {
        Mock Write-Progress -ModuleName ADSyncDiagnostics { return }

        $null = $script:Dns[0..1] | Invoke-ADSyncSingleObjectSync

        foreach ($dn in $script:Dns[0..1]) {
            Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 10 -Exactly -ParameterFilter {
                -not $Completed -and $Activity -eq "Single Object Sync: $dn"
            }
            Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $Completed -and $Activity -eq "Single Object Sync: $dn"
            }
        }
        Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $PercentComplete -eq 30 -and $Status -match 'Step 3 of 10' -and $Activity -eq "Single Object Sync: $($script:Dns[1])"
        }
    }

    It 'turns the engine''s warnings into the cmdlet''s warnings' {
        Set-FakeEnginePlan @{ results = @{ $script:Dns[1] = @{ warnings = @('the client secret expires in 5 days') } } }

        $null = $script:Dns[0..2] | Invoke-ADSyncSingleObjectSync -WarningVariable warnings -WarningAction SilentlyContinue

        $warnings.Count | Should -Be 1
        $warnings[0].Message | Should -Be "$($script:Dns[1]): the client secret expires in 5 days"
    }

    It 'loses no other object''s result to one object''s failure: one record per failed object, nothing else' {
        $failing = $script:Dns[1]
        $broken = $script:Dns[2]
        Set-FakeEnginePlan @{ results = @{
                $failing = @{ exit = 1; json = (New-TestSyncJson -DistinguishedName $failing -Status Failure -ErrorCode 'ObjectNotAccessible' -RecommendedAction 'Grant read access.') }
                $broken  = @{ exit = 1; json = 'not json' }
            }
        }
        $Error.Clear()

        $output = @($script:Dns[0..3] | Invoke-ADSyncSingleObjectSync -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 3
        @($output | ForEach-Object { ($_ | ConvertFrom-Json).SourceIdentity.Name }) | Should -Be @($script:Dns[0], $failing, $script:Dns[3])
        $syncErrors.Count | Should -Be 2
        $syncErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ObjectNotAccessible,Invoke-ADSyncSingleObjectSync'
        $syncErrors[0].TargetObject | Should -Be $failing
        $syncErrors[0].ErrorDetails.RecommendedAction | Should -Be 'Grant read access.'
        $syncErrors[1].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.InvalidEngineOutput,*'
        $syncErrors[1].TargetObject | Should -Be $broken
        $Error.Count | Should -Be 2
        (Get-FakeEngineStart).Count | Should -Be 1
    }

    It 'reports an engine killed mid-batch as one error per object it had not answered, and keeps the answered ones' {
        Set-FakeEnginePlan @{ crash_at = 3 }
        $Error.Clear()

        $output = @($script:Dns | Invoke-ADSyncSingleObjectSync -AsObject -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        @($output.SourceIdentity.Name) | Should -Be $script:Dns[0..1]
        $syncErrors.Count | Should -Be 3
        @($syncErrors.TargetObject) | Should -Be $script:Dns[2..4]
        $syncErrors | ForEach-Object {
            $_.FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.EngineFailed,Invoke-ADSyncSingleObjectSync'
            $_.ToString() | Should -Match 'ended .*before it answered for this object \(2 of 5 objects answered\)'
        }
        $Error.Count | Should -Be 3
        $enginePid = (Get-FakeEngineStart)[0].pid
        Get-Process -Id $enginePid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'reports an engine that exits early with its exit code and last message, once per unanswered object' {
        Set-FakeEnginePlan @{ exit_at = 2; exit_code = 1 }
        $Error.Clear()

        $output = @($script:Dns[0..2] | Invoke-ADSyncSingleObjectSync -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 1
        $syncErrors.Count | Should -Be 2
        @($syncErrors.TargetObject) | Should -Be $script:Dns[1..2]
        $syncErrors[0].ToString() | Should -Match 'exit code 1 .*the fake engine stops here'
        $Error.Count | Should -Be 2
    }

    It 'gives each object a UsageError when the engine refuses the whole command (exit code 2)' {
        Set-FakeEnginePlan @{ exit_at = 1; exit_code = 2 }

        $output = @($script:Dns[0..1] | Invoke-ADSyncSingleObjectSync -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 0
        $syncErrors.Count | Should -Be 2
        $syncErrors | ForEach-Object {
            $_.FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.UsageError,*'
            $_.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $_.ToString() | Should -Match 'the fake engine stops here'
        }
    }

    It 'reports an engine process that cannot be started with one EngineFailed record per object' {
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Path = (Join-Path -Path $TestDrive -ChildPath 'no-such-python'); Arguments = @(); Version = '0.1.0'; Override = $null }
        }
        $Error.Clear()

        $output = @($script:Dns[0..2] | Invoke-ADSyncSingleObjectSync -ErrorVariable syncErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 0
        $syncErrors.Count | Should -Be 3
        @($syncErrors.TargetObject) | Should -Be $script:Dns[0..2]
        $syncErrors | ForEach-Object {
            $_.FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.EngineFailed,Invoke-ADSyncSingleObjectSync'
            $_.ToString() | Should -Match 'The engine could not be run'
        }
        $Error.Count | Should -Be 3
    }

    It 'stops the engine when the pipeline stops early (Select-Object -First 1)' {
        # The fake holds objects from the third on until its input ends, which a stopped pipeline never does.
        Set-FakeEnginePlan @{ hold_from = 3 }
        $answered = Join-Path -Path $script:Plan.answered -ChildPath 'answered-1'

        $first = @(& {
                $script:Dns[0]
                $script:Dns[1]
                $deadline = [DateTime]::UtcNow.AddSeconds(60)
                while (-not (Test-Path -LiteralPath $answered) -and [DateTime]::UtcNow -lt $deadline) {
                    Start-Sleep -Milliseconds 50
                }
                Start-Sleep -Milliseconds 500
                $script:Dns[2..4]
            } | Invoke-ADSyncSingleObjectSync | Select-Object -First 1)

        $first.Count | Should -Be 1
        Get-FakeEngineSeen | Should -Not -Contain $script:Dns[4]
        $enginePid = (Get-FakeEngineStart)[0].pid
        Get-Process -Id $enginePid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'stops at a Failure with -ErrorAction Stop, after writing its result, and stops the engine' {
        $failing = $script:Dns[1]
        Set-FakeEnginePlan @{ hold_from = 4; results = @{ $failing = @{ exit = 1; json = (New-TestSyncJson -DistinguishedName $failing -Status Failure -ErrorCode 'LdapServerUnavailable') } } }
        $collected = [System.Collections.Generic.List[object]]::new()

        { $script:Dns | Invoke-ADSyncSingleObjectSync -AsObject -ErrorAction Stop | ForEach-Object { $collected.Add($_) } } |
            Should -Throw -ErrorId 'ADSyncSingleObjectSync.LdapServerUnavailable,Invoke-ADSyncSingleObjectSync'

        @($collected.SourceIdentity.Name) | Should -Be $script:Dns[0..1]
        $enginePid = (Get-FakeEngineStart)[0].pid
        Get-Process -Id $enginePid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'hands each line of a file written on Windows to the one engine as read, surrounding spaces and all' {
        $file = Join-Path -Path $TestDrive -ChildPath 'objects.txt'
        [System.IO.File]::WriteAllText($file, "CN=A,DC=contoso,DC=com`r`n  CN=B,DC=contoso,DC=com `r`n`tCN=C,DC=contoso,DC=com`r`n", [System.Text.UTF8Encoding]::new($true))

        $output = @(Get-Content -LiteralPath $file | Invoke-ADSyncSingleObjectSync)

        $output.Count | Should -Be 3
        Get-FakeEngineSeen | Should -Be @('CN=A,DC=contoso,DC=com', '  CN=B,DC=contoso,DC=com ', "`tCN=C,DC=contoso,DC=com")
        (Get-FakeEngineStart).Count | Should -Be 1
    }

    It 'hands a DN with a comma, non-ASCII letters, a double quote or a line end over as one object' {
        $dns = @('CN=Ångström\, Zoë,OU=Users,DC=contoso,DC=com', 'CN=Robert \"Bob\" Smith,OU=Users,DC=contoso,DC=com', "CN=Two`nLines,DC=contoso,DC=com", '   ')

        $output = @($dns | Invoke-ADSyncSingleObjectSync)

        $output.Count | Should -Be 4
        Get-FakeEngineSeen | Should -Be @($dns[0], 'CN=Robert \22Bob\22 Smith,OU=Users,DC=contoso,DC=com', $dns[2], $dns[3])
    }

    It 'runs a single piped object in its own process, exactly as a DN given as a parameter' {
        Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics { New-TestEngineRun -Stdout (New-TestSyncJson) }

        $piped = @($script:Dns[0] | Invoke-ADSyncSingleObjectSync)
        $given = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dns[0])

        $piped | Should -BeExactly $given
        Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 2 -Exactly -ParameterFilter {
            $ArgumentList[0] -eq 'sync' -and $ArgumentList[1] -eq '--distinguished-name' -and $ArgumentList[2] -eq $script:Dns[0]
        }
        (Get-FakeEngineStart).Count | Should -Be 0
    }
}

Describe 'Invoke-ADSyncSingleObjectSync with piped objects: -WhatIf and -Confirm, per object' {
    # ShouldProcess talks to the host: a PowerShell of its own shows what it says and takes the answers.
    BeforeAll {
        $script:Pwsh = (Get-Process -Id $PID).Path
        $script:Child = Join-Path -Path $TestDrive -ChildPath 'child.ps1'
        Set-Content -LiteralPath $script:Child -Encoding utf8 -Value @'
param($Manifest, $Python, $FakeEngine, $Mode)
Import-Module $Manifest
$env:PYBRIDGE_PYTHON = $Python
$dns = 'CN=A,DC=contoso,DC=com', 'CN=B,DC=contoso,DC=com', 'CN=C,DC=contoso,DC=com'
# The module starts $env:PYBRIDGE_PYTHON with '-m pybridge ...': a python that runs the fake instead.
$output = if ($Mode -eq 'WhatIf') { @($dns | Invoke-ADSyncSingleObjectSync -WhatIf) } else { @($dns | Invoke-ADSyncSingleObjectSync -Confirm) }
"results: $($output.Count)"
'@
        $script:Shim = Join-Path -Path $TestDrive -ChildPath 'python'
        Set-Content -LiteralPath $script:Shim -Value "#!/bin/sh`nexec '$($script:Python)' '$($script:FakeEngine)' `"`$@`"`n"
        if (-not $IsWindows) {
            chmod +x $script:Shim
        }
    }

    BeforeEach {
        Set-FakeEnginePlan
    }

    It 'says "What if" for each object and runs them all, with --what-if, in one engine' -Skip:$IsWindows {
        $said = @(& $script:Pwsh -NoProfile -NonInteractive -File $script:Child $script:ModuleManifest $script:Shim $script:FakeEngine WhatIf)

        $whatIf = @($said | Where-Object { $_ -like 'What if: Performing the operation "Synchronize to Microsoft Entra ID" on target "CN=*' })
        $whatIf.Count | Should -Be 3
        $said | Should -Contain 'results: 3'
        $starts = @(Get-FakeEngineStart | Where-Object { $_.argv -contains 'sync' })
        $starts.Count | Should -Be 1
        $starts[0].argv | Should -Contain '--what-if'
    }

    It 'asks -Confirm for each object before sending it: an object refused never reaches the engine' -Skip:$IsWindows {
        $said = @("Y`nN`nY`n" | & $script:Pwsh -NoProfile -File $script:Child $script:ModuleManifest $script:Shim $script:FakeEngine Confirm)

        @($said | Where-Object { $_ -match 'Are you sure you want to perform this action' }).Count | Should -Be 3
        $said | Should -Contain 'results: 2'
        Get-FakeEngineSeen | Should -Be @('CN=A,DC=contoso,DC=com', 'CN=C,DC=contoso,DC=com')
        @(Get-FakeEngineStart | Where-Object { $_.argv -contains 'sync' }).Count | Should -Be 1
    }
}
