#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.2.0' }
# The module and the remote payload scripts, linted as the PowerShell Gallery lints a module
# (Invoke-ScriptAnalyzer -Settings PSGallery), and checked for syntax that Windows PowerShell 5.1 or
# PowerShell 7 cannot read (PSUseCompatibleSyntax). Any finding fails; a deliberate one is suppressed in
# the code with [Diagnostics.CodeAnalysis.SuppressMessageAttribute(..., Justification = '...')].

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $analyzer = Get-Module -ListAvailable -Name PSScriptAnalyzer | Sort-Object -Property Version -Descending | Select-Object -First 1
    if (-not $analyzer) {
        throw 'PSScriptAnalyzer is not installed (Install-PSResource PSScriptAnalyzer); it ships with ../shared/tools/pwsh.'
    }
    Import-Module -Name $analyzer.Path -Force

    $script:ModuleFolder = Join-Path -Path $script:RepositoryRoot -ChildPath 'psmodule'
    $script:PayloadScripts = @(Get-ChildItem -Path (Join-Path -Path $script:RepositoryRoot -ChildPath 'pybridge/remote/scripts') -Filter '*.ps1' -File)
    $script:CompatibleSyntax = @{
        IncludeRules = @('PSUseCompatibleSyntax')
        Rules        = @{ PSUseCompatibleSyntax = @{ Enable = $true; TargetVersions = @('5.1', '7.0') } }
    }

    function Format-Finding {
        param([object[]]$Finding)
        ($Finding | ForEach-Object { '{0}:{1}: {2} ({3})' -f $_.ScriptName, $_.Line, $_.Message, $_.RuleName }) -join "`n"
    }
}

Describe 'PSScriptAnalyzer' {
    It 'finds nothing in psmodule/ with the PowerShell Gallery''s settings' {
        $findings = @(Invoke-ScriptAnalyzer -Path $script:ModuleFolder -Recurse -Settings PSGallery)
        $findings.Count | Should -Be 0 -Because (Format-Finding $findings)
    }

    It 'finds nothing in the remote payload scripts with the PowerShell Gallery''s settings' {
        $script:PayloadScripts.Count | Should -BeGreaterThan 0
        $findings = @($script:PayloadScripts | ForEach-Object { Invoke-ScriptAnalyzer -Path $_.FullName -Settings PSGallery })
        $findings.Count | Should -Be 0 -Because (Format-Finding $findings)
    }

    It 'finds no syntax that Windows PowerShell 5.1 or PowerShell 7 cannot read, in the module and the payloads' {
        $findings = @(Invoke-ScriptAnalyzer -Path $script:ModuleFolder -Recurse -Settings $script:CompatibleSyntax) +
            @($script:PayloadScripts | ForEach-Object { Invoke-ScriptAnalyzer -Path $_.FullName -Settings $script:CompatibleSyntax })
        $findings.Count | Should -Be 0 -Because (Format-Finding $findings)
    }

    It 'would report 7-only syntax for 5.1 (the compatibility rule is really on)' {
        $sample = Join-Path -Path $TestDrive -ChildPath 'seven-only.ps1'
        Set-Content -LiteralPath $sample -Value @('$a = $b ?? ''default''', '$c = $d ? 1 : 2') -Encoding utf8
        $findings = @(Invoke-ScriptAnalyzer -Path $sample -Settings $script:CompatibleSyntax)
        $findings.Count | Should -Be 2
        $findings.RuleName | Should -Be @('PSUseCompatibleSyntax', 'PSUseCompatibleSyntax')
    }

    It 'would report what the Gallery reports (the settings are really applied)' {
        $sample = Join-Path -Path $TestDrive -ChildPath 'gallery.ps1'
        Set-Content -LiteralPath $sample -Encoding utf8 -Value @(
            'function Get-Things {'
            '    [CmdletBinding()]'
            '    param()'
            '    $unused = 1'
            '    gci'
            '}'
        )
        $rules = @(Invoke-ScriptAnalyzer -Path $sample -Settings PSGallery).RuleName | Sort-Object -Unique
        $rules | Should -Contain 'PSUseSingularNouns'
        $rules | Should -Contain 'PSUseDeclaredVarsMoreThanAssignments'
        $rules | Should -Contain 'PSAvoidUsingCmdletAliases'
    }

    It 'keeps every suppression justified' {
        $suppressions = @(Get-ChildItem -Path $script:ModuleFolder -Recurse -Include '*.ps1', '*.psm1' -File |
                Select-String -Pattern 'SuppressMessageAttribute' -Context 0, 1)
        foreach ($suppression in $suppressions) {
            ($suppression.Line + ($suppression.Context.PostContext -join ' ')) | Should -Match "Justification\s*=\s*'[^']{20,}'" -Because "$($suppression.Path):$($suppression.LineNumber)"
        }
    }
}
