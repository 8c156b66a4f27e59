function Invoke-PyBridgeEngine {
    <#
    .SYNOPSIS
    Runs 'python -m pybridge' with an argument array and streams each line it prints as it is printed.

    .DESCRIPTION
    The one place that starts the engine (tests mock it). Emits one object per line, as the line arrives:
    Stream 'Output' for stdout, Stream 'Error' for stderr, each with Text; then one object with Stream
    'Exit' and the ExitCode. The arguments go to the process as an array (the call operator with
    splatting), never through a command string.

    stdout and stderr are read as UTF-8: the engine is told to write UTF-8 (PYTHONIOENCODING) and the
    console encoding PowerShell decodes native output with is set to UTF-8 for the call, then restored.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]
        $ArgumentList
    )

    $engine = Resolve-PyBridgeEngine
    $executable = $engine.Path
    $arguments = @($engine.Arguments) + @('-m', 'pybridge') + @($ArgumentList)
    Write-Verbose ("Running: {0} {1}" -f $executable, ($arguments -join ' '))

    # stderr lines are data here, not failures: Windows PowerShell wraps each in an ErrorRecord, which an
    # inherited 'Stop' would turn into an exception; PowerShell 7.3+ could also throw on a non-zero exit.
    $ErrorActionPreference = 'Continue'
    $PSNativeCommandUseErrorActionPreference = $false

    $savedPythonEncoding = [Environment]::GetEnvironmentVariable('PYTHONIOENCODING')
    $savedConsoleEncoding = $null
    try {
        $savedConsoleEncoding = [Console]::OutputEncoding
        [Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)
    }
    catch {
        # No console (some hosts): PowerShell then decodes with its default; ASCII output is unaffected.
        Write-Verbose "Console output encoding left as it is: $($_.Exception.Message)"
        $savedConsoleEncoding = $null
    }
    [Environment]::SetEnvironmentVariable('PYTHONIOENCODING', 'utf-8')
    try {
        & $executable @arguments 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) {
                [pscustomobject]@{ Stream = 'Error'; Text = $_.Exception.Message }
            }
            else {
                [pscustomobject]@{ Stream = 'Output'; Text = [string]$_ }
            }
        }
        [pscustomobject]@{ Stream = 'Exit'; ExitCode = $LASTEXITCODE }
    }
    finally {
        [Environment]::SetEnvironmentVariable('PYTHONIOENCODING', $savedPythonEncoding)
        if ($savedConsoleEncoding) {
            try {
                [Console]::OutputEncoding = $savedConsoleEncoding
            }
            catch {
                Write-Verbose "Console output encoding not restored: $($_.Exception.Message)"
            }
        }
    }
}
