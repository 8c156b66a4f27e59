#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# PowerShell remoting over SSH, for real: tests/integration/test_pester.py starts Debian's sshd on loopback
# addresses and a free port, with this pwsh as the 'powershell' subsystem, a generated host key and a
# generated client key, and describes them in $env:PYBRIDGE_PESTER_LAB (ssh):
#   servers     two sync servers with the module on PSModulePath and a lab configuration each
#   no_module   a server whose pwsh cannot find the module
#   unreachable a loopback address where nothing listens on the port
#   closed_port a port where nothing listens on the first server's address
#   key / refused_key  the key in authorized_keys, and one that is not
#   options     ssh -o settings: BatchMode (a refused key is an error, never a prompt), StrictHostKeyChecking
#               with a known_hosts file written by the test (never a host-key question), IdentitiesOnly
# The servers run as the same account on this machine, so their report paths can be checked here too.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force

    $found = Get-TestLab -Ssh
    $script:SkipReason = $found.SkipReason
    if (-not $script:SkipReason) {
        $script:Samples = $found.Lab.samples
        $ssh = $found.Lab.ssh
        $script:Servers = @($ssh.servers)
        $script:NoModule = [string]$ssh.no_module
        $script:Unreachable = [string]$ssh.unreachable
        $script:Options = @{}
        foreach ($property in $ssh.options.PSObject.Properties) {
            $script:Options[$property.Name] = [string]$property.Value
        }
        # What every call below passes; -KeyFilePath or -Port are changed where a test says so.
        $script:Connection = @{
            UserName    = [string]$ssh.user
            KeyFilePath = [string]$ssh.key
            Port        = [int]$ssh.port
            Options     = $script:Options
        }
        $script:RefusedKey = [string]$ssh.refused_key
        $script:ClosedPort = [int]$ssh.closed_port
    }
}

AfterAll {
    Get-PSSession | Remove-PSSession -ErrorAction SilentlyContinue
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'Remoting over SSH to local sshd servers' -Tag 'Lab' {
    BeforeEach {
        if ($script:SkipReason) {
            Set-ItResult -Skipped -Because $script:SkipReason
        }
        $Error.Clear()
    }

    It 'syncs on two servers by -HostName, copies both reports and checks them against the servers'' files' {
        if ($script:SkipReason) { return }
        $reports = Join-Path -Path $TestDrive -ChildPath 'two-servers'
        $results = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -HostName $script:Servers @script:Connection `
                -StagingMode -ReportDirectory $reports -AsObject -ErrorVariable remoteErrors)

        $results.Count | Should -Be 2
        @($results.ComputerName | Sort-Object) | Should -Be @($script:Servers | Sort-Object)
        foreach ($result in $results) {
            $result.StatusInfo.Status | Should -Be 'Success'
            $result.ProvisioningSteps[-1].Description | Should -BeLike '`[Staging Mode`]*'
            $result.ReportPath | Should -BeLike (Join-Path -Path (Join-Path -Path $reports -ChildPath $result.ComputerName) -ChildPath 'ADSyncSingleObjectSyncResult-*.htm')
            Test-Path -LiteralPath $result.ReportPath | Should -BeTrue
            # Same machine: the server's own file is readable here, and the copy must be identical.
            $result.RemoteReportPath | Should -Not -Be $result.ReportPath
            (Get-FileHash -LiteralPath $result.ReportPath -Algorithm SHA256).Hash |
                Should -Be (Get-FileHash -LiteralPath $result.RemoteReportPath -Algorithm SHA256).Hash
        }
        # Each server has a configuration (and state) of its own.
        $results[0].RemoteReportPath | Should -Not -Be $results[1].RemoteReportPath
        $remoteErrors.Count | Should -Be 0
        $Error.Count | Should -Be 0
    }

    It 'sends every piped DN to both servers, the JSON strings tagged with the server, one error per failed object per server' {
        if ($script:SkipReason) { return }
        $dns = $script:Samples.user, $script:Samples.hidden, $script:Samples.user_comma
        $output = @($dns | Invoke-ADSyncSingleObjectSync -HostName $script:Servers @script:Connection -WhatIf -NoHtmlReport `
                -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 6
        foreach ($server in $script:Servers) {
            $mine = @($output | Where-Object { $_.ComputerName -eq $server })
            $mine.Count | Should -Be 3
            @($mine | ForEach-Object { ($_ | ConvertFrom-Json).SourceIdentity.Name }) | Should -Be $dns
        }
        $output | ForEach-Object { $_ | Should -BeOfType [string] }
        $remoteErrors.Count | Should -Be 2
        foreach ($record in $remoteErrors) {
            $record.FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ObjectNotAccessible,Invoke-ADSyncSingleObjectSync'
            $record.TargetObject | Should -Be $script:Samples.hidden
            $record.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        }
        @($remoteErrors.OriginInfo.PSComputerName | Sort-Object) | Should -Be @($script:Servers | Sort-Object)
        $Error.Count | Should -Be 2
    }

    It 'writes one non-terminating error for a server without the module, and the other server still answers every object' {
        if ($script:SkipReason) { return }
        $dns = $script:Samples.user, $script:Samples.user_comma
        $output = @($dns | Invoke-ADSyncSingleObjectSync -HostName $script:Servers[0], $script:NoModule @script:Connection -WhatIf -NoHtmlReport -AsObject `
                -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)
        $completed = $?

        $completed | Should -BeFalse
        $output.Count | Should -Be 2
        $output | ForEach-Object { $_.ComputerName | Should -Be $script:Servers[0] }
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ModuleNotFound,Invoke-ADSyncSingleObjectSync'
        $remoteErrors[0].CategoryInfo.Category | Should -Be 'NotInstalled'
        $remoteErrors[0].ToString() | Should -Match ([regex]::Escape("[$($script:NoModule)]"))
        $remoteErrors[0].ErrorDetails.RecommendedAction | Should -Match 'docs/powershell.md'
        $Error.Count | Should -Be 1
    }

    It 'writes one clear error for a refused key, and asks nothing' {
        if ($script:SkipReason) { return }
        $connection = $script:Connection.Clone()
        $connection.KeyFilePath = $script:RefusedKey
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -HostName $script:Servers[0] @connection -NoHtmlReport `
                -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 0
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ConnectionFailed,Invoke-ADSyncSingleObjectSync'
        $remoteErrors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        $remoteErrors[0].TargetObject | Should -Be $script:Servers[0]
        $remoteErrors[0].ToString() | Should -Match ([regex]::Escape($script:Servers[0]))
        $remoteErrors[0].ErrorDetails.RecommendedAction | Should -Match 'authorized_keys'
        $Error.Count | Should -Be 1
    }

    It 'writes one clear error for an unreachable host, and the reachable server answers' {
        if ($script:SkipReason) { return }
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -HostName $script:Unreachable, $script:Servers[1] @script:Connection -WhatIf -NoHtmlReport `
                -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 1
        $output[0].ComputerName | Should -Be $script:Servers[1]
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ConnectionFailed,Invoke-ADSyncSingleObjectSync'
        $remoteErrors[0].TargetObject | Should -Be $script:Unreachable
        $Error.Count | Should -Be 1
    }

    It 'writes one clear error for a closed port' {
        if ($script:SkipReason) { return }
        $connection = $script:Connection.Clone()
        $connection.Port = $script:ClosedPort
        $output = @(Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -HostName $script:Servers[0] @connection -NoHtmlReport `
                -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 0
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncSingleObjectSync.ConnectionFailed,Invoke-ADSyncSingleObjectSync'
        $remoteErrors[0].ErrorDetails.RecommendedAction | Should -Match "port $($script:ClosedPort)"
        $Error.Count | Should -Be 1
    }

    It 'stops with -ErrorAction Stop at a server''s failure, as PowerShell''s preference says' {
        if ($script:SkipReason) { return }
        { Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -HostName $script:NoModule @script:Connection -NoHtmlReport -ErrorAction Stop } |
            Should -Throw -ErrorId 'ADSyncSingleObjectSync.ModuleNotFound,Invoke-ADSyncSingleObjectSync'
    }

    It 'keeps working with an SSH session of the caller''s (-Session), and leaves it open' {
        if ($script:SkipReason) { return }
        $session = New-PSSession -HostName $script:Servers[0] -UserName $script:Connection.UserName -KeyFilePath $script:Connection.KeyFilePath `
            -Port $script:Connection.Port -Options $script:Options
        try {
            $reports = Join-Path -Path $TestDrive -ChildPath 'session'
            $first = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user -Session $session -StagingMode -ReportDirectory $reports
            $second = Invoke-ADSyncSingleObjectSync -DistinguishedName $script:Samples.user_comma -Session $session -WhatIf -NoHtmlReport -AsObject

            ($first | ConvertFrom-Json).StatusInfo.Status | Should -Be 'Success'
            $first.ComputerName | Should -Be $script:Servers[0]
            $first.ReportPath | Should -BeLike (Join-Path -Path $reports -ChildPath "$($script:Servers[0])*")
            Test-Path -LiteralPath $first.ReportPath | Should -BeTrue
            $second.StatusInfo.Status | Should -Be 'Success'
            $session.State | Should -Be 'Opened'
            $Error.Count | Should -Be 0
        }
        finally {
            Remove-PSSession -Session $session
        }
    }

    It 'reads and changes the scheduler settings of both servers by -HostName' {
        if ($script:SkipReason) { return }
        $before = @(Get-ADSyncScheduler -HostName $script:Servers @script:Connection)
        $before.Count | Should -Be 2
        @($before.PSComputerName | Sort-Object) | Should -Be @($script:Servers | Sort-Object)
        $before | ForEach-Object { $_.AllowedSyncCycleInterval | Should -Be ([TimeSpan]::FromMinutes(30)) }

        $changed = @(Set-ADSyncScheduler -HostName $script:Servers[1] @script:Connection -MaintenanceEnabled $false -Force -PassThru)
        try {
            $changed.Count | Should -Be 1
            $changed[0].MaintenanceEnabled | Should -BeFalse
            $changed[0].PSComputerName | Should -Be $script:Servers[1]
            (Get-ADSyncScheduler -HostName $script:Servers[0] @script:Connection).MaintenanceEnabled | Should -BeTrue
        }
        finally {
            Set-ADSyncScheduler -HostName $script:Servers[1] @script:Connection -MaintenanceEnabled $true -Force
        }
        $Error.Count | Should -Be 0
    }

    It 'reports a server without the module once from the scheduler functions too' {
        if ($script:SkipReason) { return }
        $settings = @(Get-ADSyncScheduler -HostName $script:Servers[0], $script:NoModule @script:Connection -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)

        $settings.Count | Should -Be 1
        $remoteErrors.Count | Should -Be 1
        $remoteErrors[0].FullyQualifiedErrorId | Should -Be 'ADSyncScheduler.ModuleNotFound,Get-ADSyncScheduler'
    }
}
