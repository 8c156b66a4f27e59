function Close-PyBridgeBatch {
    <#
    .SYNOPSIS
    Ends the batch's input (the engine then finishes the objects it has), or with -Stop ends the engine.

    .DESCRIPTION
    Without -Stop: closes the engine's stdin, so that the engine answers what it was sent and exits; the
    caller then reads the rest with Receive-PyBridgeBatchAnswer (once it has ended, this frees the
    process). With -Stop (the pipeline was stopped:
    Ctrl+C, -ErrorAction Stop, Select-Object -First): kills the engine if it still runs and frees the
    process. Both are contained: they leave no error record behind.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [pscustomobject]
        $Batch,

        [switch]
        $Stop
    )

    if (-not $Batch -or -not $Batch.Process) {
        return
    }
    $null = Invoke-ADSyncContained -ArgumentList $Batch, ([bool]$Stop) -ScriptBlock {
        param($that, $kill)
        if ($that.Input) {
            $stream = $that.Input
            $that.Input = $null
            $stream.Close()
        }
        if ($kill -and -not $that.Process.HasExited) {
            $that.Process.Kill()
            $null = $that.Process.WaitForExit(5000)
        }
        if ($kill -or $that.Finished) {
            $that.Process.Dispose()
            $that.Finished = $true
        }
    }
}
