function Get-PyBridgeEngineResult {
    <#
    .SYNOPSIS
    Runs the engine and acts on its stderr as it arrives: progress, report path, warnings, messages.

    .DESCRIPTION
    Consumes Invoke-PyBridgeEngine's lines while the engine runs: 'PYBRIDGE-PROGRESS {...}' becomes
    Write-Progress under -Activity, 'PYBRIDGE-REPORT {...}' gives the report's path,
    'pybridge: WARNING: ...' becomes Write-Warning, and every other stderr line is written with
    Write-Verbose and kept (for exit code 2 they are the error message). Returns one object with ExitCode,
    Output (the non-empty stdout lines), Messages and ReportPath.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]
        $ArgumentList,

        [string]
        $Activity = 'pybridge'
    )

    $output = [System.Collections.Generic.List[string]]::new()
    $messages = [System.Collections.Generic.List[string]]::new()
    $reportPath = $null
    $exitCode = $null
    $progressShown = $false

    Invoke-PyBridgeEngine -ArgumentList $ArgumentList | ForEach-Object {
        $record = $_
        switch ($record.Stream) {
            'Output' {
                if ($record.Text.Trim()) {
                    $output.Add($record.Text)
                }
            }
            'Exit' {
                $exitCode = [int]$record.ExitCode
            }
            default {
                $message = ConvertFrom-PyBridgeMessage -Line $record.Text
                switch ($message.Kind) {
                    'Progress' {
                        $step = $message.Data
                        $progress = @{
                            Activity         = $Activity
                            Status           = 'Step {0} of {1}: {2} ({3}): {4}' -f $step.step, $step.of, $step.name, $step.type, $step.status
                            PercentComplete  = [int][math]::Min(100, 100 * $step.step / [math]::Max(1, $step.of))
                            CurrentOperation = [string]$step.description
                        }
                        Write-Progress @progress
                        Write-Verbose $progress.Status
                        $progressShown = $true
                    }
                    'Report' {
                        $reportPath = [string]$message.Data.path
                        Write-Verbose "HTML report: $reportPath"
                    }
                    'Warning' {
                        Write-Warning $message.Text
                    }
                    default {
                        if ($message.Text) {
                            $messages.Add($message.Text)
                            Write-Verbose $message.Text
                        }
                    }
                }
            }
        }
    }
    if ($progressShown) {
        Write-Progress -Activity $Activity -Completed
    }

    [pscustomobject]@{
        ExitCode   = $exitCode
        Output     = $output.ToArray()
        Messages   = $messages.ToArray()
        ReportPath = $reportPath
    }
}
