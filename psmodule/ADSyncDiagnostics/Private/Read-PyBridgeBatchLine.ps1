function Read-PyBridgeBatchLine {
    <#
    .SYNOPSIS
    Takes in what the batch's engine has written so far to stdout and stderr, and notes when it has ended.

    .DESCRIPTION
    Reads every line already there without waiting for more (with -WaitMilliseconds, first waits up to
    that long for one). stdout lines are the results, one per object sent, in order. stderr lines are
    acted on as Get-PyBridgeEngineResult does for one object: 'PYBRIDGE-PROGRESS {"object": N, ...}'
    becomes Write-Progress for object N, 'PYBRIDGE-REPORT' gives its report, 'pybridge: WARNING: ...'
    a warning of the calling cmdlet (-Cmdlet), other lines Write-Verbose (and the messages of the object
    being run); 'PYBRIDGE-DONE {"object": N, "exit": c}' says that all of object N is in both pipes, and
    the exit code a run of it alone would have had. When both pipes are closed the batch is Finished,
    with the engine's ExitCode. Returns nothing; Receive-PyBridgeBatchAnswer runs it contained.
    #>
    [CmdletBinding()]
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

    $open = @($Batch.Readers | Where-Object { $_.Open })
    if ($WaitMilliseconds -gt 0 -and $open.Count -gt 0 -and -not @($open | Where-Object { $_.Task.IsCompleted })) {
        $tasks = [System.Threading.Tasks.Task[]]@($open | ForEach-Object { $_.Task })
        $null = [System.Threading.Tasks.Task]::WaitAny($tasks, $WaitMilliseconds)
    }

    foreach ($reader in $open) {
        while ($reader.Open -and $reader.Task.IsCompleted) {
            $line = $null
            if ($reader.Task.Status -eq [System.Threading.Tasks.TaskStatus]::RanToCompletion) {
                $line = $reader.Task.Result
            }
            if ($null -eq $line) {
                $reader.Open = $false
                break
            }
            $reader.Task = $reader.Reader.ReadLineAsync()

            if ($reader.Stream -eq 'Output') {
                if (-not $line.Trim()) {
                    continue
                }
                if ($Batch.Answered -lt $Batch.Sent.Count) {
                    $Batch.Sent[$Batch.Answered].Json = $line
                    $Batch.Answered++
                }
                else {
                    Write-Verbose "The engine wrote a line to stdout for no object sent: $line"
                }
                continue
            }

            $message = ConvertFrom-PyBridgeMessage -Line $line
            $object = $null
            if ($message.Data -and $message.Data.PSObject.Properties['object']) {
                $number = [int]$message.Data.object
                if ($number -ge 1 -and $number -le $Batch.Sent.Count) {
                    $object = $Batch.Sent[$number - 1]
                }
            }
            switch ($message.Kind) {
                'Progress' {
                    if (-not $object) {
                        Write-Verbose "Progress for no object sent: $line"
                        break
                    }
                    $step = $message.Data
                    $progress = @{
                        Activity         = "Single Object Sync: $($object.DistinguishedName)"
                        Status           = 'Step {0} of {1}: {2} ({3}): {4}' -f $step.step, $step.of, $step.name, $step.type, $step.status
                        PercentComplete  = [int][math]::Min(100, 100 * $step.step / [math]::Max(1, $step.of))
                        CurrentOperation = [string]$step.description
                    }
                    Write-Progress @progress
                    Write-Verbose $progress.Status
                    $object.ProgressShown = $true
                }
                'Report' {
                    if (-not $object -and $Batch.Answered -gt 0) {
                        $object = $Batch.Sent[$Batch.Answered - 1]
                    }
                    if ($object) {
                        $object.ReportPath = [string]$message.Data.path
                        Write-Verbose "HTML report: $($object.ReportPath)"
                    }
                }
                'Warning' {
                    $Cmdlet.WriteWarning($message.Text)
                }
                'Done' {
                    if ($object) {
                        $object.Done = $true
                        $object.ExitCode = [int]$message.Data.exit
                    }
                }
                default {
                    if ($message.Text) {
                        Write-Verbose $message.Text
                        $Batch.Messages.Add($message.Text)
                        # The object being run: the first one not done (kept as an index, not searched for).
                        while ($Batch.Running -lt $Batch.Sent.Count -and $Batch.Sent[$Batch.Running].Done) {
                            $Batch.Running++
                        }
                        if ($Batch.Running -lt $Batch.Sent.Count) {
                            $Batch.Sent[$Batch.Running].Messages.Add($message.Text)
                        }
                    }
                }
            }
        }
    }

    if (-not $Batch.Finished -and -not @($Batch.Readers | Where-Object { $_.Open })) {
        # Both pipes are closed: the engine has ended, or closed them and is about to.
        if ($Batch.Process) {
            $null = $Batch.Process.WaitForExit(30000)
            if ($Batch.Process.HasExited) {
                $Batch.ExitCode = $Batch.Process.ExitCode
            }
        }
        $Batch.Finished = $true
    }
}
