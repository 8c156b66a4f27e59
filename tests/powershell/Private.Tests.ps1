#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# The module's private helpers, called inside the module. Invoke-PyBridgeEngine runs a real process here:
# a PowerShell script standing in for Python, so the streaming, the exit code and the argument array are
# checked without the engine.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force
}

AfterAll {
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'ConvertFrom-PyBridgeMessage' {
    It 'reads a progress line' {
        InModuleScope ADSyncDiagnostics -Parameters @{ Line = (New-TestProgressLine -Step 4 -Status 'Failure') } {
            param($Line)
            $message = ConvertFrom-PyBridgeMessage -Line $Line
            $message.Kind | Should -Be 'Progress'
            $message.Data.step | Should -Be 4
            $message.Data.status | Should -Be 'Failure'
        }
    }

    It 'reads a report line with a Windows path' {
        InModuleScope ADSyncDiagnostics {
            $message = ConvertFrom-PyBridgeMessage -Line 'PYBRIDGE-REPORT {"path":"C:\\ProgramData\\AADConnect\\r.htm"}'
            $message.Kind | Should -Be 'Report'
            $message.Data.path | Should -Be 'C:\ProgramData\AADConnect\r.htm'
        }
    }

    It 'tells warnings from other messages, and keeps unknown lines' -TestCases @(
        @{ Line = 'pybridge: WARNING: secret expires soon'; Kind = 'Warning'; Text = 'secret expires soon' }
        @{ Line = 'pybridge: error: the DN is required'; Kind = 'Message'; Text = 'error: the DN is required' }
        @{ Line = 'Traceback (most recent call last):'; Kind = 'Message'; Text = 'Traceback (most recent call last):' }
        @{ Line = 'PYBRIDGE-PROGRESS {not json'; Kind = 'Message'; Text = 'PYBRIDGE-PROGRESS {not json' }
        @{ Line = 'pybridge: warning: lower case is a message'; Kind = 'Message'; Text = 'warning: lower case is a message' }
    ) {
        param($Line, $Kind, $Text)
        InModuleScope ADSyncDiagnostics -Parameters @{ Line = $Line; Kind = $Kind; Text = $Text } {
            param($Line, $Kind, $Text)
            $message = ConvertFrom-PyBridgeMessage -Line $Line
            $message.Kind | Should -Be $Kind
            $message.Text | Should -Be $Text
        }
    }
}

Describe 'ConvertFrom-PyBridgeMessage, batch lines' {
    It 'reads a done line with the object''s number and exit code' {
        InModuleScope ADSyncDiagnostics {
            $message = ConvertFrom-PyBridgeMessage -Line 'PYBRIDGE-DONE {"object": 7, "exit": 3}'
            $message.Kind | Should -Be 'Done'
            $message.Data.object | Should -Be 7
            $message.Data.exit | Should -Be 3
        }
    }
}

Describe 'ConvertTo-ProcessCommandLine (the command line of Windows PowerShell 5.1, which has no ArgumentList)' {
    It 'quotes <Name> so that the program reads the same argument back' -TestCases @(
        @{ Name = 'plain words'; Arguments = @('-m', 'pybridge', 'sync', '--input', '-'); Expected = '-m pybridge sync --input -' }
        @{ Name = 'a path with spaces'; Arguments = @('--config', 'C:\Program Files\pybridge\pybridge.yaml'); Expected = '--config "C:\Program Files\pybridge\pybridge.yaml"' }
        @{ Name = 'an empty argument'; Arguments = @('a', '', 'b'); Expected = 'a "" b' }
        @{ Name = 'a double quote'; Arguments = @('say "hi"'); Expected = '"say \"hi\""' }
        @{ Name = 'backslashes before a quote and at the end'; Arguments = @('C:\dir\ x\', 'a\\"b'); Expected = '"C:\dir\ x\\" "a\\\\\"b"' }
        @{ Name = 'backslashes elsewhere'; Arguments = @('C:\dir\file'); Expected = 'C:\dir\file' }
    ) {
        param($Name, $Arguments, $Expected)
        InModuleScope ADSyncDiagnostics -Parameters @{ Arguments = $Arguments; Expected = $Expected } {
            param($Arguments, $Expected)
            ConvertTo-ProcessCommandLine -ArgumentList $Arguments | Should -BeExactly $Expected
        }
    }

    It 'gives a real program back the array it was built from' {
        # .NET splits a command line by the same rules on every platform, and so does Python on Windows.
        $python = Get-TestPython
        if (-not $python) {
            $python = (Get-Command -Name python3 -CommandType Application | Select-Object -First 1).Source
        }
        $arguments = @('-c', 'import json, sys; print(json.dumps(sys.argv[1:]))', 'plain', 'with space', '', 'q"uote', 'tail\', 'x\\"y', "tab`there", 'CN=Smith\, John,DC=contoso')
        $line = InModuleScope ADSyncDiagnostics -Parameters @{ Arguments = $arguments } {
            param($Arguments)
            ConvertTo-ProcessCommandLine -ArgumentList $Arguments
        }
        $info = [System.Diagnostics.ProcessStartInfo]::new($python, $line)
        $info.UseShellExecute = $false
        $info.RedirectStandardOutput = $true
        $process = [System.Diagnostics.Process]::Start($info)
        $echoed = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()

        @($echoed | ConvertFrom-Json) | Should -Be @($arguments[2..($arguments.Count - 1)])
    }
}

Describe 'ConvertTo-EngineDistinguishedName' {
    It 'turns <Given> into <Expected>' -TestCases @(
        @{ Given = 'CN=Jane Doe,OU=Users,DC=contoso,DC=com'; Expected = 'CN=Jane Doe,OU=Users,DC=contoso,DC=com' }
        @{ Given = 'CN=Robert \"Bob\" Smith,DC=contoso,DC=com'; Expected = 'CN=Robert \22Bob\22 Smith,DC=contoso,DC=com' }
        @{ Given = 'CN=a"b,DC=contoso,DC=com'; Expected = 'CN=a\22b,DC=contoso,DC=com' }
        @{ Given = 'CN=a\\"b,DC=contoso,DC=com'; Expected = 'CN=a\\\22b,DC=contoso,DC=com' }
        @{ Given = 'CN=a\\\"b,DC=contoso,DC=com'; Expected = 'CN=a\\\22b,DC=contoso,DC=com' }
    ) {
        param($Given, $Expected)
        InModuleScope ADSyncDiagnostics -Parameters @{ Given = $Given } {
            param($Given)
            ConvertTo-EngineDistinguishedName -DistinguishedName $Given
        } | Should -BeExactly $Expected
    }
}

Describe 'Resolve-LocalPath' {
    It 'makes a relative path absolute against the PowerShell location and drops a trailing separator' {
        Push-Location -LiteralPath $TestDrive
        try {
            $resolved = InModuleScope ADSyncDiagnostics {
                Resolve-LocalPath -Path 'reports/' -SessionState $ExecutionContext.SessionState
            }
        }
        finally {
            Pop-Location
        }
        $resolved | Should -Be (Join-Path -Path $TestDrive -ChildPath 'reports')
    }

    It 'keeps a root as it is' {
        $root = [System.IO.Path]::GetPathRoot($TestDrive)
        InModuleScope ADSyncDiagnostics -Parameters @{ Root = $root } {
            param($Root)
            Resolve-LocalPath -Path $Root -SessionState $ExecutionContext.SessionState
        } | Should -Be $root
    }
}

Describe 'Get-SyncResultStatus' {
    It 'reads the adsync shape' {
        InModuleScope ADSyncDiagnostics -Parameters @{ Json = (New-TestSyncJson -Status Failure -ErrorCode 'InvalidSoftMatch' -Reason 'r' -RecommendedAction 'a') } {
            param($Json)
            $status = Get-SyncResultStatus -Result ($Json | ConvertFrom-Json)
            $status.Status | Should -Be 'Failure'
            $status.ErrorCode | Should -Be 'InvalidSoftMatch'
            $status.Reason | Should -Be 'r'
            $status.RecommendedAction | Should -Be 'a'
        }
    }

    It 'reads the graph shape and spells the status as the adsync shape does' {
        InModuleScope ADSyncDiagnostics -Parameters @{ Json = (New-TestGraphJson -Status skipped) } {
            param($Json)
            $status = Get-SyncResultStatus -Result ($Json | ConvertFrom-Json)
            $status.Status | Should -Be 'Skipped'
            $status.ErrorCode | Should -BeNullOrEmpty
        }
    }
}

Describe 'Resolve-PyBridgeEngine' {
    BeforeEach {
        $script:SavedPython = $env:PYBRIDGE_PYTHON
        InModuleScope ADSyncDiagnostics { $script:PyBridgeEngine = $null }
    }

    AfterEach {
        $env:PYBRIDGE_PYTHON = $script:SavedPython
        InModuleScope ADSyncDiagnostics { $script:PyBridgeEngine = $null }
    }

    It 'names $env:PYBRIDGE_PYTHON and what to do when it points nowhere' {
        $env:PYBRIDGE_PYTHON = Join-Path -Path $TestDrive -ChildPath 'no-such-python'
        { InModuleScope ADSyncDiagnostics { Resolve-PyBridgeEngine } } |
            Should -Throw -ExpectedMessage '*PYBRIDGE_PYTHON*not found*Check $env:PYBRIDGE_PYTHON*'
    }
}

Describe 'Invoke-PyBridgeEngine with a stand-in process' {
    BeforeAll {
        # Prints the arguments it received (as the process saw them, not as PowerShell would bind them) as
        # ASCII JSON on stdout, two lines on stderr, and exits with code 3.
        $script:StandIn = Join-Path -Path $TestDrive -ChildPath 'engine.ps1'
        Set-Content -LiteralPath $script:StandIn -Encoding utf8 -Value @'
$all = [Environment]::GetCommandLineArgs()
$received = $all[([array]::IndexOf($all, '-File') + 2)..($all.Count - 1)]
$json = ConvertTo-Json -Compress -InputObject @($received)
$ascii = [regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
[Console]::Error.WriteLine('PYBRIDGE-PROGRESS {"step":1,"of":10,"name":"ScopingDomain","type":"Scoping","status":"Success","description":"d"}')
[Console]::Out.WriteLine($ascii)
[Console]::Error.WriteLine('pybridge: WARNING: stand-in')
exit 3
'@
        $script:Pwsh = (Get-Process -Id $PID).Path
    }

    It 'passes the argument array intact and streams stdout, stderr and the exit code' {
        $dn = 'CN=Smith\, John \22JJ\22,OU=Users Ö,DC=contoso,DC=com'
        $records = InModuleScope ADSyncDiagnostics -Parameters @{ Pwsh = $script:Pwsh; StandIn = $script:StandIn; Dn = $dn } {
            param($Pwsh, $StandIn, $Dn)
            Mock Resolve-PyBridgeEngine {
                [pscustomobject]@{ Path = $Pwsh; Arguments = @('-NoProfile', '-NonInteractive', '-File', $StandIn); Version = '0.1.0'; Override = $null }
            }
            Invoke-PyBridgeEngine -ArgumentList @('sync', '--distinguished-name', $Dn, '--report-dir', 'C:\My Reports')
        }

        $records[-1].Stream | Should -Be 'Exit'
        $records[-1].ExitCode | Should -Be 3
        $stdout = @($records | Where-Object Stream -EQ 'Output')
        $stdout.Count | Should -Be 1
        $arguments = $stdout[0].Text | ConvertFrom-Json
        $arguments | Should -Be @('-m', 'pybridge', 'sync', '--distinguished-name', $dn, '--report-dir', 'C:\My Reports')
        $stderr = @($records | Where-Object Stream -EQ 'Error' | ForEach-Object Text)
        $stderr[0] | Should -BeLike 'PYBRIDGE-PROGRESS *'
        $stderr[1] | Should -Be 'pybridge: WARNING: stand-in'
    }
}
