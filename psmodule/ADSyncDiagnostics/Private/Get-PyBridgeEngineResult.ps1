function Get-PyBridgeEngineResult {
    <#
    .SYNOPSIS
    Runs the engine and acts on its stderr as it arrives: progress, report path, warnings, messages.

    .DESCRIPTION
    Consumes Invoke-PyBridgeEngine's lines while the engine runs: 'PYBRIDGE-PROGRESS {...}' becomes
    Write-Progress under -Activity, 'PYBRIDGE-REPORT {...}' gives the report's path,
    'pybridge: WARNING: ...' becomes a warning of the calling cmdlet (-Cmdlet), and every other stderr
    line is written with Write-Verbose and kept (for exit code 2 they are the error message). Returns one
    object with ExitCode, Output (the non-empty stdout lines), Messages, ReportPath and Failure (why the
    engine could not be run at all, else $null).

    The run is contained (Invoke-ADSyncContained): the ErrorRecords that Windows PowerShell 5.1 makes of
    the engine's stderr lines, and anything the helpers catch, never reach the caller's -ErrorVariable or
    $Error. Warnings go through the cmdlet so that its -WarningVariable and -WarningAction apply.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]
        $ArgumentList,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [string]
        $Activity = 'pybridge'
    )

    # One object that the consuming script block fills in (its own assignments would be local to it).
    $state = [pscustomobject]@{
        Output        = [System.Collections.Generic.List[string]]::new()
        Messages      = [System.Collections.Generic.List[string]]::new()
        ReportPath    = $null
        ExitCode      = $null
        ProgressShown = $false
    }

    $run = Invoke-ADSyncContained -ArgumentList $ArgumentList, $state, $Cmdlet, $Activity -ScriptBlock {
        param($engineArguments, $into, $caller, $activityName)
        Invoke-PyBridgeEngine -ArgumentList $engineArguments | ForEach-Object {
            $record = $_
            switch ($record.Stream) {
                'Output' {
                    if ($record.Text.Trim()) {
                        $into.Output.Add($record.Text)
                    }
                }
                'Exit' {
                    $into.ExitCode = [int]$record.ExitCode
                }
                default {
                    $message = ConvertFrom-PyBridgeMessage -Line $record.Text
                    switch ($message.Kind) {
                        'Progress' {
                            $step = $message.Data
                            $progress = @{
                                Activity         = $activityName
                                Status           = 'Step {0} of {1}: {2} ({3}): {4}' -f $step.step, $step.of, $step.name, $step.type, $step.status
                                PercentComplete  = [int][math]::Min(100, 100 * $step.step / [math]::Max(1, $step.of))
                                CurrentOperation = [string]$step.description
                            }
                            Write-Progress @progress
                            Write-Verbose $progress.Status
                            $into.ProgressShown = $true
                        }
                        'Report' {
                            $into.ReportPath = [string]$message.Data.path
                            Write-Verbose "HTML report: $($into.ReportPath)"
                        }
                        'Warning' {
                            $caller.WriteWarning($message.Text)
                        }
                        default {
                            if ($message.Text) {
                                $into.Messages.Add($message.Text)
                                Write-Verbose $message.Text
                            }
                        }
                    }
                }
            }
        }
    }
    if ($state.ProgressShown) {
        Write-Progress -Activity $Activity -Completed
    }

    if ($run.Exception -is [System.Management.Automation.ActionPreferenceStopException]) {
        # The caller asked to stop on a warning (-WarningAction Stop): stop, as that preference means.
        $Cmdlet.ThrowTerminatingError($run.Exception.ErrorRecord)
    }
    $failure = $null
    if ($run.Failed) {
        $failure = "The engine could not be run: $($run.Message)"
        Write-Verbose $failure
    }
    [pscustomobject]@{
        ExitCode   = $state.ExitCode
        Output     = $state.Output.ToArray()
        Messages   = $state.Messages.ToArray()
        ReportPath = $state.ReportPath
        Failure    = $failure
    }
}
