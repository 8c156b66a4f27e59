function Open-PyBridgeBatch {
    <#
    .SYNOPSIS
    Starts one engine process for a pipeline of objects: 'python -m pybridge' with an argument array, its
    stdin open for the objects, its stdout and stderr read as lines arrive.

    .DESCRIPTION
    The second place that starts the engine (Invoke-PyBridgeEngine runs it for one object). The
    objects go to the engine's stdin one per line as they come (Send-PyBridgeBatchObject); its answers
    are read without waiting (Receive-PyBridgeBatchAnswer), so each result can be written as soon as
    its object is done. The arguments go to the process as an array: ProcessStartInfo.ArgumentList
    where it exists (PowerShell 7); Windows PowerShell 5.1 has only a command line, which
    ConvertTo-ProcessCommandLine builds from the same array by the rules Python's Windows runtime
    reads it with.

    Returns the batch: Process (or $null when it could not be started, with Failure saying why), the
    objects sent (Sent), and the readers' state. stdin, stdout and stderr are UTF-8 (PYTHONIOENCODING).
    The process is started in a contained step: a start that fails leaves no error record behind.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]
        $ArgumentList
    )

    $batch = [pscustomobject]@{
        Process      = $null
        Input        = $null
        Failure      = $null
        Sent         = [System.Collections.Generic.List[object]]::new()
        Emitted      = 0
        Answered     = 0
        Running      = 0
        Readers      = @()
        Finished     = $false
        ExitCode     = $null
        Messages     = [System.Collections.Generic.List[string]]::new()
        ShownNumber  = 0
    }

    $start = Invoke-ADSyncContained -ArgumentList (, $ArgumentList) -ScriptBlock {
        param($engineArguments)
        $engine = Resolve-PyBridgeEngine
        $executable = $engine.Path
        $arguments = @($engine.Arguments) + @('-m', 'pybridge') + @($engineArguments)
        Write-Verbose ("Running: {0} {1}" -f $executable, ($arguments -join ' '))

        $utf8 = [System.Text.UTF8Encoding]::new($false)
        $info = [System.Diagnostics.ProcessStartInfo]::new($executable)
        if ($info.PSObject.Properties['ArgumentList']) {
            foreach ($argument in $arguments) {
                $info.ArgumentList.Add($argument)
            }
        }
        else {
            $info.Arguments = ConvertTo-ProcessCommandLine -ArgumentList $arguments
        }
        $info.UseShellExecute = $false
        $info.CreateNoWindow = $true
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.StandardOutputEncoding = $utf8
        $info.StandardErrorEncoding = $utf8
        $info.EnvironmentVariables['PYTHONIOENCODING'] = 'utf-8'
        [System.Diagnostics.Process]::Start($info)
    }
    if ($start.Failed -or -not $start.Output) {
        $batch.Failure = "The engine could not be run: $($start.Message)"
        $batch.Finished = $true
        Write-Verbose $batch.Failure
        return $batch
    }
    $process = $start.Output[0]
    $batch.Process = $process
    # Bytes, not the writer's text: Windows PowerShell's StreamWriter for stdin would use the console's code page.
    $batch.Input = $process.StandardInput.BaseStream
    $batch.Readers = @(
        [pscustomobject]@{ Stream = 'Output'; Reader = $process.StandardOutput; Task = $process.StandardOutput.ReadLineAsync(); Open = $true }
        [pscustomobject]@{ Stream = 'Error'; Reader = $process.StandardError; Task = $process.StandardError.ReadLineAsync(); Open = $true }
    )
    $batch
}
