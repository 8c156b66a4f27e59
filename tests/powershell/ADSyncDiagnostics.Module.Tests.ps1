#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# The module as PowerShell itself sees it: a valid manifest that exports exactly the Public functions, and
# complete help for each (the static test in tests/unit checks the same from the source, without PowerShell).

BeforeDiscovery {
    $publicFolder = Join-Path -Path $PSScriptRoot -ChildPath '../../psmodule/ADSyncDiagnostics/Public'
    $script:PublicNames = @(Get-ChildItem -Path $publicFolder -Filter '*.ps1' | ForEach-Object { @{ Name = $_.BaseName } })
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:Module = Import-Module $script:ModuleManifest -Force -PassThru
    $script:PublicFolder = Join-Path -Path (Split-Path -Path $script:ModuleManifest -Parent) -ChildPath 'Public'
}

AfterAll {
    Remove-Module ADSyncDiagnostics -Force -ErrorAction SilentlyContinue
}

Describe 'ADSyncDiagnostics module' {
    It 'has a valid manifest for Windows PowerShell 5.1 and PowerShell 7' {
        $manifest = Test-ModuleManifest -Path $script:ModuleManifest -ErrorAction Stop
        $manifest.PowerShellVersion | Should -Be ([version]'5.1')
        $manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
    }

    It 'keeps the manifest version equal to pybridge''s (pybridge/__init__.py, the one version source)' {
        $init = Get-Content -LiteralPath (Join-Path -Path $script:RepositoryRoot -ChildPath 'pybridge/__init__.py') -Raw
        $init -match '(?m)^__version__\s*=\s*"([^"]+)"' | Should -BeTrue
        $script:Module.Version | Should -Be ([version]$Matches[1])
    }

    It 'exports exactly the functions in Public' {
        $public = @(Get-ChildItem -Path $script:PublicFolder -Filter '*.ps1' | ForEach-Object { $_.BaseName } | Sort-Object)
        @($script:Module.ExportedFunctions.Keys | Sort-Object) | Should -Be $public
        @($script:Module.ExportedCmdlets.Keys) | Should -BeNullOrEmpty
        @($script:Module.ExportedAliases.Keys) | Should -BeNullOrEmpty
    }

    It 'keeps the private helpers private' {
        Get-Command -Module ADSyncDiagnostics -Name Invoke-PyBridgeEngine -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'can be imported twice in one session' {
        { Import-Module $script:ModuleManifest -Force -ErrorAction Stop } | Should -Not -Throw
    }
}

Describe 'Help of <Name>' -ForEach $script:PublicNames {
    BeforeAll {
        $script:Help = Get-Help -Name $Name -Full
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $script:AllParameterNames = @((Get-Command -Name $Name).Parameters.Keys)
        $script:ParameterNames = @($script:AllParameterNames | Where-Object { $_ -notin $common })
    }

    It 'has a synopsis and a description' {
        $script:Help.Synopsis | Should -Not -BeNullOrEmpty
        $script:Help.Synopsis | Should -Not -Match "^\s*$Name\s"
        ($script:Help.Description | Out-String) | Should -Not -BeNullOrEmpty
    }

    It 'describes every parameter' {
        foreach ($parameter in $script:ParameterNames) {
            $entry = $script:Help.Parameters.Parameter | Where-Object { $_.Name -eq $parameter }
            $entry | Should -Not -BeNullOrEmpty -Because "-$parameter needs a .PARAMETER section"
            ($entry.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description"
        }
    }

    It 'documents no parameter that does not exist' {
        foreach ($entry in @($script:Help.Parameters.Parameter)) {
            $entry.Name | Should -BeIn $script:AllParameterNames
        }
    }

    It 'has at least two examples, with code and remarks, one of them the runbook pattern' {
        $examples = @($script:Help.Examples.Example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.Code | Should -Not -BeNullOrEmpty
            ($example.Remarks | Out-String).Trim() | Should -Not -BeNullOrEmpty
        }
        ($examples | ForEach-Object { "$($_.Code) $($_.Remarks | Out-String)" }) -join "`n" |
            Should -Match '-NoHtmlReport\s+-StagingMode\s*\|\s*ConvertFrom-Json'
    }

    It 'says what it outputs' {
        ($script:Help.returnValues | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }
}
