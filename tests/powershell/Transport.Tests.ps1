#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# Remoting transports that cannot exist here, with the real New-PSSession (nothing mocked): WinRM (WSMan)
# on Linux and macOS. Each cmdlet must stop with one clear error that names -HostName and -Session.

BeforeDiscovery {
    # WinRM exists in Windows PowerShell and in PowerShell on Windows; these tests are for the others.
    $script:HasWSMan = ($PSVersionTable.PSEdition -eq 'Desktop') -or $IsWindows
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    Import-Module $script:ModuleManifest -Force
    $script:Dn = 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com'
}

AfterAll {
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe '-ComputerName where PowerShell has no WSMan' -Skip:$script:HasWSMan {
    It '<Command> stops with one WSManNotAvailable error that names -HostName and -Session' -TestCases @(
        @{ Command = 'Invoke-ADSyncSingleObjectSync'; Prefix = 'ADSyncSingleObjectSync'; Arguments = @{ DistinguishedName = 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com'; ComputerName = 'aadc01', 'aadc02' } }
        @{ Command = 'Get-ADSyncScheduler'; Prefix = 'ADSyncScheduler'; Arguments = @{ ComputerName = 'aadc01', 'aadc02' } }
        @{ Command = 'Set-ADSyncScheduler'; Prefix = 'ADSyncScheduler'; Arguments = @{ ComputerName = 'aadc01', 'aadc02'; SyncCycleEnabled = $false; Force = $true } }
    ) {
        param($Command, $Prefix, $Arguments)
        $Error.Clear()
        $caught = $null
        $output = $null
        try {
            $output = & $Command @Arguments -ErrorVariable commandErrors
        }
        catch {
            $caught = $_
        }

        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -Be "$Prefix.WSManNotAvailable,$Command"
        $caught.CategoryInfo.Category | Should -Be 'NotImplemented'
        $output | Should -BeNullOrEmpty
        $commandErrors.Count | Should -Be 1
        $Error.Count | Should -Be 1
        $message = $caught.ToString()
        $message | Should -Match '-HostName'
        $message | Should -Match '-Session'
        # One sentence for a person, not a .NET stack trace.
        @($message -split "`n").Count | Should -Be 1
        $message | Should -Not -Match '\bat (System|Microsoft)\.'
        $caught.ErrorDetails.RecommendedAction | Should -Match 'aadc01, aadc02'
    }

    It 'is reported in the one line PowerShell shows' {
        $shown = & (Get-Process -Id $PID).Path -NoProfile -NonInteractive -Command {
            param($manifest)
            Import-Module $manifest
            Invoke-ADSyncSingleObjectSync -DistinguishedName 'CN=x,DC=contoso,DC=com' -ComputerName aadc01
        } -args $script:ModuleManifest 2>&1 | Out-String

        $shown | Should -Match 'WinRM \(WSMan\) remoting'
        $shown | Should -Not -Match 'StackTrace|\bat System\.'
    }
}
