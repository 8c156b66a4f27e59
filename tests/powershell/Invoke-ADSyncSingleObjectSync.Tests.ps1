#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# Invoke-ADSyncSingleObjectSync with the engine mocked: Invoke-PyBridgeEngine (the one helper that starts
# the engine) returns what the engine would print; the remoting helpers return what servers would answer.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force

    $script:Dn = 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com'
}

AfterAll {
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'Invoke-ADSyncSingleObjectSync, locally (engine mocked)' {
    BeforeEach {
        $script:Runs = @{}
        $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson)
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Path = 'python'; Arguments = @(); Version = '0.1.0'; Override = $null }
        }
        # The run for a DN given in $script:Runs, else $script:DefaultRun.
        Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics {
            $index = [array]::IndexOf($ArgumentList, '--distinguished-name')
            $dn = $ArgumentList[$index + 1]
            if ($script:Runs.ContainsKey($dn)) { $script:Runs[$dn] } else { $script:DefaultRun }
        }
        Mock Write-Progress -ModuleName ADSyncDiagnostics { return }
    }

    Context 'output' {
        It 'writes the engine''s JSON string unchanged, which ConvertFrom-Json reads' {
            $json = New-TestSyncJson
            $script:DefaultRun = New-TestEngineRun -Stdout $json

            $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn)

            $output.Count | Should -Be 1
            $output[0] | Should -BeOfType [string]
            $output[0] | Should -BeExactly $json
            ($output[0] | ConvertFrom-Json).StatusInfo.Status | Should -Be 'Success'
        }

        It 'supports the runbook pattern: -NoHtmlReport -StagingMode | ConvertFrom-Json' {
            $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -NoHtmlReport -StagingMode | ConvertFrom-Json

            $result.StatusInfo.Status | Should -Be 'Success'
            @($result.ProvisioningSteps).Count | Should -Be 10
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $ArgumentList -contains '--staging-mode' -and $ArgumentList -contains '--no-html-report'
            }
        }

        It 'takes the DN by position' {
            Invoke-ADSyncSingleObjectSync $script:Dn | Should -Not -BeNullOrEmpty
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $ArgumentList[0] -eq 'sync' -and $ArgumentList[2] -eq $script:Dn
            }
        }

        It 'emits the parsed result with -AsObject, its ReportPath from the engine''s report line' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson) -Stderr @(
                'PYBRIDGE-REPORT {"path":"/reports/ADSyncSingleObjectSyncResult-20261125083000.htm"}'
            )

            $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -AsObject

            $result | Should -BeOfType [pscustomobject]
            $result.StatusInfo.Status | Should -Be 'Success'
            $result.ReportPath | Should -Be '/reports/ADSyncSingleObjectSyncResult-20261125083000.htm'
        }

        It 'puts the report path on the JSON string as a NoteProperty, leaving the string as it is' {
            $json = New-TestSyncJson
            $script:DefaultRun = New-TestEngineRun -Stdout $json -Stderr @('PYBRIDGE-REPORT {"path":"/reports/r.htm"}')

            $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn

            $output | Should -BeExactly $json
            $output.ReportPath | Should -Be '/reports/r.htm'
        }

        It 'returns the Graph shape with -Format Graph' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestGraphJson)

            $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -Format Graph -AsObject

            $result.provisioningStatusInfo.status | Should -Be 'success'
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -ParameterFilter {
                ($ArgumentList -join ' ') -match '--format graph'
            }
        }
    }

    Context 'pipeline input' {
        It 'syncs a single piped DN in a process of its own (several go to one engine: Pipeline.Tests.ps1)' {
            $dn = 'CN=A,OU=Users,DC=contoso,DC=com'
            $script:Runs[$dn] = New-TestEngineRun -Stdout (New-TestSyncJson -DistinguishedName $dn)

            $output = @($dn | Invoke-ADSyncSingleObjectSync)

            $output.Count | Should -Be 1
            ($output[0] | ConvertFrom-Json).SourceIdentity.Name | Should -Be $dn
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly
        }

        It 'binds the DistinguishedName property of piped objects, as Get-ADUser outputs them' {
            $user = [pscustomobject]@{ Name = 'Jane Doe'; SamAccountName = 'jdoe'; DistinguishedName = $script:Dn }

            $user | Invoke-ADSyncSingleObjectSync | Should -Not -BeNullOrEmpty

            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $ArgumentList -contains $script:Dn
            }
        }

        It 'hands a line of a file written on Windows to the engine as read, surrounding spaces and all' {
            $file = Join-Path -Path $TestDrive -ChildPath 'objects.txt'
            [System.IO.File]::WriteAllText($file, "  CN=B,DC=contoso,DC=com `r`n", [System.Text.UTF8Encoding]::new($true))
            $script:Seen = [System.Collections.Generic.List[string]]::new()
            Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics {
                $script:Seen.Add($ArgumentList[[array]::IndexOf($ArgumentList, '--distinguished-name') + 1])
                $script:DefaultRun
            }

            $output = @(Get-Content -LiteralPath $file | Invoke-ADSyncSingleObjectSync)

            $output.Count | Should -Be 1
            @($script:Seen) | Should -Be @('  CN=B,DC=contoso,DC=com ')
        }

        It 'refuses an empty DN' {
            { Invoke-ADSyncSingleObjectSync -DistinguishedName '' } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        }
    }

    Context 'engine arguments' {
        It 'passes -ConfigPath and -ReportDirectory as absolute paths resolved against the PowerShell location' {
            Push-Location -LiteralPath $TestDrive
            try {
                Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ConfigPath 'pybridge.yaml' -ReportDirectory 'reports/' | Out-Null
            }
            finally {
                Pop-Location
            }
            $config = Join-Path -Path $TestDrive -ChildPath 'pybridge.yaml'
            $reports = Join-Path -Path $TestDrive -ChildPath 'reports'
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $c = [array]::IndexOf($ArgumentList, '--config')
                $r = [array]::IndexOf($ArgumentList, '--report-dir')
                $ArgumentList[$c + 1] -eq $config -and $ArgumentList[$r + 1] -eq $reports
            }
        }

        It 'asks for machine-readable progress and the adsync shape by default' {
            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn | Out-Null
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -ParameterFilter {
                ($ArgumentList -join ' ') -match '--format adsync' -and ($ArgumentList -join ' ') -match '--progress json' -and
                $ArgumentList -notcontains '--staging-mode' -and $ArgumentList -notcontains '--what-if'
            }
        }

        It 'maps -WhatIf to --what-if and still returns the dry run''s result' {
            $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -WhatIf

            $output | Should -Not -BeNullOrEmpty
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $ArgumentList -contains '--what-if'
            }
        }

        It 'passes a DN with a comma and non-ASCII characters as one argument, unchanged' {
            $dn = 'CN=Ångström\, Zoë,OU=Users,OU=Corp,DC=contoso,DC=com'
            Invoke-ADSyncSingleObjectSync -DistinguishedName $dn | Out-Null
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -ParameterFilter { $ArgumentList[2] -ceq $dn }
        }

        It 'passes a double quote in a DN as \22, which Windows PowerShell can hand to a native program' {
            Invoke-ADSyncSingleObjectSync -DistinguishedName 'CN=Robert \"Bob\" Smith,OU=Users,DC=contoso,DC=com' | Out-Null
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -ParameterFilter {
                $ArgumentList[2] -ceq 'CN=Robert \22Bob\22 Smith,OU=Users,DC=contoso,DC=com'
            }
        }
    }

    Context 'errors' {
        It 'writes the JSON, then a non-terminating error with ErrorId, category, DN and advice for a Failure' {
            $json = New-TestSyncJson -Status Failure -ErrorCode 'AttributeValueMustBeUnique' -Reason 'proxyAddresses conflict' -RecommendedAction 'Remove the duplicate.'
            $script:DefaultRun = New-TestEngineRun -Stdout $json -ExitCode 1

            $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors -ErrorAction SilentlyContinue

            $output | Should -BeExactly $json
            $syncErrors.Count | Should -Be 1
            $syncErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.AttributeValueMustBeUnique,Invoke-ADSyncSingleObjectSync'
            $syncErrors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            $syncErrors[0].TargetObject | Should -Be $script:Dn
            $syncErrors[0].ErrorDetails.RecommendedAction | Should -Be 'Remove the duplicate.'
            $syncErrors[0].ToString() | Should -Match 'proxyAddresses conflict'
        }

        It 'sets $? to $false after a Failure' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson -Status Failure -ErrorCode 'GraphUnavailable') -ExitCode 1
            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorAction SilentlyContinue
            $succeeded = $?
            $succeeded | Should -BeFalse
        }

        It 'stops with -ErrorAction Stop, after writing the result' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson -Status Failure -ErrorCode 'LdapServerUnavailable') -ExitCode 1
            $collected = [System.Collections.Generic.List[object]]::new()

            { Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorAction Stop | ForEach-Object { $collected.Add($_) } } |
                Should -Throw -ErrorId 'ADSyncSingleObjectSync.LdapServerUnavailable,Invoke-ADSyncSingleObjectSync'
            $collected.Count | Should -Be 1
        }

        It 'maps <code> to <category>' -TestCases @(
            @{ code = 'ObjectNotAccessible'; category = 'ObjectNotFound' }
            @{ code = 'AuthenticationFailed'; category = 'AuthenticationError' }
            @{ code = 'GraphUnavailable'; category = 'ConnectionError' }
            @{ code = 'InvalidSoftMatch'; category = 'ResourceExists' }
            @{ code = 'IdentityDataValidationFailed'; category = 'InvalidData' }
            @{ code = 'no-start-ma-already-running'; category = 'ResourceBusy' }
            @{ code = 'SomethingNew'; category = 'InvalidOperation' }
        ) {
            param($code, $category)
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson -Status Failure -ErrorCode $code) -ExitCode 1

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors -ErrorAction SilentlyContinue | Out-Null

            $syncErrors[0].CategoryInfo.Category | Should -Be $category
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike "ADSyncSingleObjectSync.$code,*"
        }

        It 'treats a Skipped result (exit code 3) as a result, not an error' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson -Status Skipped -ErrorCode 'ContainerNotInScope') -ExitCode 3

            $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors

            ($output | ConvertFrom-Json).StatusInfo.Status | Should -Be 'Skipped'
            $syncErrors.Count | Should -Be 0
        }

        It 'writes the JSON and an InvalidArgument error for a configuration error with a result (exit code 2)' {
            $json = New-TestSyncJson -Status Failure -ErrorCode 'ConfigurationError' -Reason 'entra.tenant_id is missing'
            $script:DefaultRun = New-TestEngineRun -Stdout $json -Stderr @('pybridge: configuration error: entra.tenant_id is missing') -ExitCode 2

            $output = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors -ErrorAction SilentlyContinue

            $output | Should -BeExactly $json
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ConfigurationError,*'
            $syncErrors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        }

        It 'reports a usage error without a result for that object and goes on with the next one' {
            $bad = 'CN=Bad,DC=contoso,DC=com'
            $script:Runs[$bad] = New-TestEngineRun -Stderr @('pybridge: error: the distinguished name is not valid') -ExitCode 2

            # One call per object (piped objects share one engine, whose usage errors Pipeline.Tests.ps1 covers).
            $output = @($bad, $script:Dn | ForEach-Object { Invoke-ADSyncSingleObjectSync -DistinguishedName $_ -ErrorVariable +syncErrors -ErrorAction SilentlyContinue })

            $output.Count | Should -Be 1
            $syncErrors.Count | Should -Be 1
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.UsageError,*'
            $syncErrors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $syncErrors[0].TargetObject | Should -Be $bad
            $syncErrors[0].ToString() | Should -Match 'the distinguished name is not valid'
        }

        It 'reports output that is not JSON with exactly one error record, in -ErrorVariable and in $Error' {
            $script:DefaultRun = New-TestEngineRun -Stdout @('Traceback (most recent call last):') -ExitCode 1
            $Error.Clear()

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors -ErrorAction SilentlyContinue | Out-Null

            $syncErrors.Count | Should -Be 1
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.InvalidEngineOutput,*'
            $syncErrors[0].TargetObject | Should -Be $script:Dn
            $Error.Count | Should -Be 1
            $Error[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.InvalidEngineOutput,*'
        }

        It 'leaves exactly one record per failed object in -ErrorVariable and $Error, and none for the others' {
            $failing = 'CN=Failing,OU=Users,OU=Corp,DC=contoso,DC=com'
            $broken = 'CN=Broken,OU=Users,OU=Corp,DC=contoso,DC=com'
            $script:Runs[$failing] = New-TestEngineRun -Stdout (New-TestSyncJson -DistinguishedName $failing -Status Failure -ErrorCode 'ObjectNotAccessible') `
                -Stderr @((1..4 | ForEach-Object { New-TestProgressLine -Step $_ }) + 'PYBRIDGE-PROGRESS {not json' + 'pybridge: a message') -ExitCode 1
            $script:Runs[$broken] = New-TestEngineRun -Stdout @('not json either') -ExitCode 1
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson) -Stderr @(1..10 | ForEach-Object { New-TestProgressLine -Step $_ })
            $Error.Clear()

            $output = @($script:Dn, $failing, $broken, $script:Dn |
                    ForEach-Object { Invoke-ADSyncSingleObjectSync -DistinguishedName $_ -ErrorVariable +syncErrors -ErrorAction SilentlyContinue })

            $output.Count | Should -Be 3
            $syncErrors.Count | Should -Be 2
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ObjectNotAccessible,*'
            $syncErrors[0].TargetObject | Should -Be $failing
            $syncErrors[1].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.InvalidEngineOutput,*'
            $syncErrors[1].TargetObject | Should -Be $broken
            $Error.Count | Should -Be 2
        }

        It 'reports an engine that cannot be started with one EngineFailed record' {
            Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics { throw 'The term ''/opt/python'' is not recognized' }
            $Error.Clear()

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors -ErrorAction SilentlyContinue | Out-Null

            $syncErrors.Count | Should -Be 1
            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.EngineFailed,*'
            $syncErrors[0].ToString() | Should -Match 'is not recognized'
            $Error.Count | Should -Be 1
        }

        It 'reads the status of a Graph-shaped Failure' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestGraphJson -Status failure -ErrorCode 'InvalidSoftMatch') -ExitCode 1

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -Format Graph -ErrorVariable syncErrors -ErrorAction SilentlyContinue | Out-Null

            $syncErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.InvalidSoftMatch,*'
            $syncErrors[0].ErrorDetails.RecommendedAction | Should -Be 'Do this.'
        }

        It 'stops with an actionable EngineNotFound error when no engine can be found' {
            Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
                throw 'The pybridge engine was not found. Tried: py -3: not found; python3: not found; python: not found.'
            }

            { Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn } |
                Should -Throw -ErrorId 'ADSyncSingleObjectSync.EngineNotFound,Invoke-ADSyncSingleObjectSync'
            Should -Invoke Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics -Times 0 -Exactly
        }

        It 'records EngineNotFound once, not the search that led to it' {
            Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics {
                throw 'The pybridge engine was not found. Tried: python3: not found.'
            }
            $Error.Clear()

            try {
                Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ErrorVariable syncErrors
            }
            catch {
                $caught = $_
            }

            $caught.FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.EngineNotFound,Invoke-ADSyncSingleObjectSync'
            $syncErrors.Count | Should -Be 1
            $Error.Count | Should -Be 1
        }
    }

    Context 'progress, warnings and verbose messages' {
        It 'writes progress for each of the ten steps as the engine reports them' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson) -Stderr @(1..10 | ForEach-Object { New-TestProgressLine -Step $_ })

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn | Out-Null

            Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 10 -Exactly -ParameterFilter { -not $Completed }
            Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
                $PercentComplete -eq 30 -and $Status -match 'Step 3 of 10: Step3 \(Scoping\): Success'
            }
            Should -Invoke Write-Progress -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter { $Completed }
        }

        It 'turns the engine''s warnings into warnings' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson) -Stderr @('pybridge: WARNING: the client secret expires in 5 days')

            Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -WarningVariable warnings -WarningAction SilentlyContinue | Out-Null

            $warnings.Count | Should -Be 1
            $warnings[0].Message | Should -Be 'the client secret expires in 5 days'
        }

        It 'writes the engine''s other messages with Write-Verbose' {
            $script:DefaultRun = New-TestEngineRun -Stdout (New-TestSyncJson) -Stderr @('pybridge: Success: joined to an existing user')

            $verbose = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }

            $verbose.Message | Should -Contain 'Success: joined to an existing user'
        }
    }
}

Describe 'Invoke-ADSyncSingleObjectSync, on sync servers (remoting mocked)' {
    BeforeEach {
        $script:Json = New-TestSyncJson
        $script:Sessions = @(
            [pscustomobject]@{ ComputerName = 'aadc01'; InstanceId = [guid]'11111111-1111-1111-1111-111111111111' }
            [pscustomobject]@{ ComputerName = 'aadc02'; InstanceId = [guid]'22222222-2222-2222-2222-222222222222' }
        )
        Mock Resolve-PyBridgeEngine -ModuleName ADSyncDiagnostics { throw 'the local engine must not be needed' }
        Mock Invoke-PyBridgeEngine -ModuleName ADSyncDiagnostics { throw 'the local engine must not run' }
        Mock Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics {
            [pscustomobject]@{ Sessions = $script:Sessions; Owned = $true }
        }
        Mock Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics { return }
        # Each server answers with the JSON and its report, as the remote script block packages them.
        Mock Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics {
            $answers = foreach ($item in $Remote.Sessions) {
                [pscustomobject]@{
                    Json           = $script:Json
                    ReportPath     = 'C:\ProgramData\AADConnect\ADSyncObjectDiagnostics\ADSyncSingleObjectSyncResult-20261125083000.htm'
                    ReportSha256   = 'ABCDEF'
                    PSComputerName = $item.ComputerName
                    RunspaceId     = $item.InstanceId
                }
            }
            [pscustomobject]@{ Output = @($answers); Errors = @() }
        }
        Mock Receive-ADSyncRemoteReport -ModuleName ADSyncDiagnostics {
            Join-Path -Path (Join-Path -Path $Destination -ChildPath $Session.ComputerName) -ChildPath 'ADSyncSingleObjectSyncResult-20261125083000.htm'
        }
    }

    It 'returns one unchanged JSON string per computer, each with a ComputerName NoteProperty' {
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName 'aadc01', 'aadc02' -ReportDirectory $TestDrive)

        $output.Count | Should -Be 2
        $output | ForEach-Object { $_ | Should -BeExactly $script:Json }
        $output.ComputerName | Should -Be @('aadc01', 'aadc02')
        ($output[0] | ConvertFrom-Json).StatusInfo.Status | Should -Be 'Success'
        $output[1].ReportPath | Should -Be (Join-Path -Path (Join-Path -Path $TestDrive -ChildPath 'aadc02') -ChildPath 'ADSyncSingleObjectSyncResult-20261125083000.htm')
    }

    It 'returns objects with ComputerName, the local ReportPath and the server''s path with -AsObject' {
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName 'aadc01', 'aadc02' -ReportDirectory $TestDrive -AsObject)

        $output[0].ComputerName | Should -Be 'aadc01'
        $output[0].StatusInfo.Status | Should -Be 'Success'
        $output[0].ReportPath | Should -BeLike '*aadc01*ADSyncSingleObjectSyncResult-20261125083000.htm'
        $output[0].RemoteReportPath | Should -BeLike 'C:\ProgramData\*'
    }

    It 'runs the module''s own function remotely with the caller''s options, the DN as a value' {
        Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName aadc01 -StagingMode -ConfigPath 'D:\pybridge\pybridge.yaml' -WhatIf | Out-Null

        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $CommandName -eq 'Invoke-ADSyncSingleObjectSync' -and
            $Parameters.DistinguishedName -eq $script:Dn -and
            $Parameters.StagingMode -and $Parameters.WhatIf -and
            $Parameters.ConfigPath -eq 'D:\pybridge\pybridge.yaml' -and
            -not $Parameters.ContainsKey('AsObject') -and -not $Parameters.ContainsKey('ReportDirectory')
        }
    }

    It 'passes the connection parameters to the session helper and closes the sessions at the end' {
        $credential = [pscredential]::new('CONTOSO\admin', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))

        Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName aadc01 -Credential $credential -UseSSL -Port 5986 -ThrottleLimit 4 | Out-Null

        Should -Invoke Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly -ParameterFilter {
            $BoundParameters.Credential.UserName -eq 'CONTOSO\admin' -and $BoundParameters.UseSSL -and $BoundParameters.Port -eq 5986
        }
        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -ParameterFilter { $ThrottleLimit -eq 4 }
        Should -Invoke Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }

    It 'sends each piped DN to every server' {
        'CN=A,DC=contoso,DC=com', 'CN=B,DC=contoso,DC=com' | Invoke-ADSyncSingleObjectSync -ComputerName 'aadc01', 'aadc02' | Out-Null

        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -Times 2 -Exactly
        Should -Invoke Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }

    It 'copies no report with -NoHtmlReport' {
        Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName aadc01 -NoHtmlReport | Out-Null

        Should -Invoke Receive-ADSyncRemoteReport -ModuleName ADSyncDiagnostics -Times 0 -Exactly
    }

    It 'still returns the result when the report copy fails, then reports ReportCopyFailed' {
        Mock Receive-ADSyncRemoteReport -ModuleName ADSyncDiagnostics { throw 'The copy has SHA256 0000, the server''s file ABCDEF' }

        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName 'aadc01', 'aadc02' -ErrorVariable copyErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 2
        $copyErrors.Count | Should -Be 2
        $copyErrors | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ReportCopyFailed,*' }
        $copyErrors[0].ToString() | Should -Match 'SHA256'
        $output | ForEach-Object { $_.ReportPath | Should -BeNullOrEmpty }
    }

    It 'puts exactly the two ReportCopyFailed records in $Error' {
        Mock Receive-ADSyncRemoteReport -ModuleName ADSyncDiagnostics { throw 'The copy has SHA256 0000, the server''s file ABCDEF' }
        $Error.Clear()

        $null = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName 'aadc01', 'aadc02' -ErrorAction SilentlyContinue

        $Error.Count | Should -Be 2
        $Error | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ReportCopyFailed,*' }
    }

    It 'writes one error for a server without the module, asks it no more, and keeps the other server''s results' {
        $script:Asked = [System.Collections.Generic.List[string]]::new()
        Mock Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics {
            $errors = @()
            $answers = foreach ($item in @($Remote.Sessions)) {
                $script:Asked.Add($item.ComputerName)
                if ($item.ComputerName -eq 'aadc02') {
                    # what becomes of the remote script block's answer where the module is missing
                    $errors += [System.Management.Automation.ErrorRecord]::new([System.InvalidOperationException]::new('[aadc02] not installed'), "$ErrorIdPrefix.ModuleNotFound", 'NotInstalled', 'aadc02')
                    $Remote.Sessions = @($Remote.Sessions | Where-Object { $_.ComputerName -ne 'aadc02' })
                    continue
                }
                [pscustomobject]@{ Json = $script:Json; ReportPath = $null; ReportSha256 = $null; PSComputerName = $item.ComputerName; RunspaceId = $item.InstanceId }
            }
            [pscustomobject]@{ Output = @($answers); Errors = $errors }
        }

        $output = @('CN=A,DC=contoso,DC=com', 'CN=B,DC=contoso,DC=com', 'CN=C,DC=contoso,DC=com' |
                Invoke-ADSyncSingleObjectSync -ComputerName 'aadc01', 'aadc02' -NoHtmlReport -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 3
        $output.ComputerName | Should -Be @('aadc01', 'aadc01', 'aadc01')
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -BeLike 'ADSyncSingleObjectSync.ModuleNotFound,*'
        ($script:Asked | Where-Object { $_ -eq 'aadc02' }).Count | Should -Be 1
    }

    It 'asks no server when none could be reached' {
        Mock Open-ADSyncRemoteSession -ModuleName ADSyncDiagnostics { [pscustomobject]@{ Sessions = @(); Owned = $true } }

        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName 'aadc01')

        $output.Count | Should -Be 0
        Should -Invoke Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics -Times 0 -Exactly
        Should -Invoke Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }

    It 'closes the sessions it opened even when a server''s error stops the command' {
        Mock Invoke-ADSyncRemoteCommand -ModuleName ADSyncDiagnostics { throw 'connection lost' }

        { Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Dn -ComputerName aadc01 } | Should -Throw '*connection lost*'
        Should -Invoke Close-ADSyncRemoteSession -ModuleName ADSyncDiagnostics -Times 1 -Exactly
    }
}
