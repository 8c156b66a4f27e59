function Receive-PyBridgeBatchAnswer {
    <#
    .SYNOPSIS
    Returns, in the order sent, each object of the batch that the engine is done with; waits for none.

    .DESCRIPTION
    Reads what the engine has written so far (Read-PyBridgeBatchLine, contained: what it catches leaves
    no error record behind). An object is returned once its result and its done line are both in (the
    two pipes are read apart), with the properties Get-PyBridgeEngineResult returns for one object
    (ExitCode, Output, Messages, ReportPath, Failure) and its DistinguishedName. When the engine has
    ended, every object it did not answer is returned too, with Failure saying so: an engine that stops
    early never costs the objects it answered their results. -WaitMilliseconds waits up to that long for
    the engine's next line first (for the end of the pipeline). A warning the caller asked to stop on
    (-WarningAction Stop) stops the cmdlet.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]
        $Batch,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [ValidateRange(0, 60000)]
        [int]
        $WaitMilliseconds = 0
    )

    if (-not $Batch.Finished) {
        $read = Invoke-ADSyncContained -ArgumentList $Batch, $Cmdlet, $WaitMilliseconds -ScriptBlock {
            param($that, $caller, $wait)
            Read-PyBridgeBatchLine -Batch $that -Cmdlet $caller -WaitMilliseconds $wait
        }
        if ($read.Exception -is [System.Management.Automation.ActionPreferenceStopException]) {
            $Cmdlet.ThrowTerminatingError($read.Exception.ErrorRecord)
        }
        if ($read.Failed) {
            # The module could not read the engine's answers: the objects not answered yet say so.
            $Batch.Failure = "The engine's output could not be read: $($read.Message)"
            Write-Verbose $Batch.Failure
            Close-PyBridgeBatch -Batch $Batch -Stop
            $Batch.Finished = $true
        }
    }

    while ($Batch.Emitted -lt $Batch.Sent.Count) {
        $object = $Batch.Sent[$Batch.Emitted]
        if (-not $Batch.Finished -and -not ($object.Json -and $object.Done)) {
            break
        }
        $Batch.Emitted++
        if ($object.ProgressShown) {
            Write-Progress -Activity "Single Object Sync: $($object.DistinguishedName)" -Completed
        }
        $exitCode = $object.ExitCode
        $failure = $null
        $messages = @($object.Messages)
        if (-not $object.Json) {
            $exitCode = $Batch.ExitCode
            $answered = $Batch.Answered
            if ($Batch.Failure -and -not ($exitCode -eq 2 -and $answered -eq 0 -and $Batch.Messages.Count -gt 0)) {
                $failure = $Batch.Failure
            }
            elseif ($exitCode -eq 2 -and $answered -eq 0 -and $Batch.Messages.Count -gt 0) {
                # A usage error of the whole command: the engine's message says what, as for one object.
                $messages = @($Batch.Messages)
            }
            else {
                $ended = if ($null -ne $exitCode) { "with exit code $exitCode" } else { 'without an exit code' }
                $last = @($Batch.Messages) | Select-Object -Last 1
                $failure = "The engine process ended $ended before it answered for this object ($answered of $($Batch.Sent.Count) objects answered)" +
                $(if ($last) { "; its last message: $last" } else { '' })
            }
        }
        [pscustomobject]@{
            DistinguishedName = $object.DistinguishedName
            ExitCode          = $exitCode
            Output            = @($object.Json | Where-Object { $_ })
            Messages          = $messages
            ReportPath        = $object.ReportPath
            Failure           = $failure
        }
        # Handed out: a long pipeline keeps no result it has already written.
        $object.Json = $null
        $object.Messages = $null
    }
}
