function Resolve-PyBridgeEngine {
    <#
    .SYNOPSIS
    Finds the Python that runs pybridge: $env:PYBRIDGE_PYTHON, then 'py -3', 'python3', 'python'.

    .DESCRIPTION
    Returns an object with Path (the executable) and Arguments (what goes before '-m pybridge', e.g. '-3'
    for the Windows launcher). A candidate counts only if 'python -m pybridge --version' succeeds, which
    also rules out the Microsoft Store's python.exe placeholder. The answer is cached for the session
    until $env:PYBRIDGE_PYTHON changes. Throws an actionable message when no candidate works.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param()

    $override = [Environment]::GetEnvironmentVariable('PYBRIDGE_PYTHON')
    if ($script:PyBridgeEngine -and $script:PyBridgeEngine.Override -eq $override) {
        return $script:PyBridgeEngine
    }

    $candidates = [System.Collections.Generic.List[object]]::new()
    if ($override) {
        $candidates.Add([pscustomobject]@{ Name = "`$env:PYBRIDGE_PYTHON ($override)"; Command = $override; Arguments = @() })
    }
    else {
        $candidates.Add([pscustomobject]@{ Name = 'py -3'; Command = 'py'; Arguments = @('-3') })
        $candidates.Add([pscustomobject]@{ Name = 'python3'; Command = 'python3'; Arguments = @() })
        $candidates.Add([pscustomobject]@{ Name = 'python'; Command = 'python'; Arguments = @() })
    }

    $tried = [System.Collections.Generic.List[string]]::new()
    foreach ($candidate in $candidates) {
        $application = Get-Command -Name $candidate.Command -CommandType Application -ErrorAction Ignore |
            Select-Object -First 1
        if (-not $application) {
            $tried.Add("$($candidate.Name): not found")
            continue
        }
        $executable = $application.Path
        $probe = @($candidate.Arguments) + @('-m', 'pybridge', '--version')
        $ErrorActionPreference = 'Continue'
        $answer = @(& $executable @probe 2>&1 | ForEach-Object { "$_" })
        if ($LASTEXITCODE -ne 0) {
            $tried.Add("$($candidate.Name) ($($executable)): 'python -m pybridge' failed: $(($answer | Select-Object -Last 1))")
            continue
        }
        $version = ($answer -join ' ') -replace '^\s*pybridge\s+', ''
        Write-Verbose "pybridge engine: $($executable) $($candidate.Arguments -join ' ') (pybridge $version)"
        if ($version -ne $script:ModuleSpecification.ModuleVersion) {
            Write-Warning ("The pybridge engine at {0} is version {1}; this module is version {2}. Install the matching versions to get every option." -f $executable, $version, $script:ModuleSpecification.ModuleVersion)
        }
        $engine = [pscustomobject]@{
            Path      = $executable
            Arguments = @($candidate.Arguments)
            Version   = $version
            Override  = $override
        }
        $script:PyBridgeEngine = $engine
        return $engine
    }

    $how = 'Install Python 3.10 or later and pybridge on this computer (py -3 -m pip install pybridge), or set $env:PYBRIDGE_PYTHON to the python executable of the environment where pybridge is installed'
    if ($override) {
        $how = 'Check $env:PYBRIDGE_PYTHON: it must name a python executable that has pybridge installed (for example C:\pybridge\.venv\Scripts\python.exe)'
    }
    throw ("The pybridge engine was not found. Tried: {0}. {1}." -f ($tried -join '; '), $how)
}
