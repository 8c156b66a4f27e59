# Runs the caller's script block with $ErrorActionPreference Stop and turns whatever it ends with into data.
# A constant script block; the operation and its arguments arrive as values.
$script:ContainedRunner = {
    param($Operation, $OperationArguments)

    $ErrorActionPreference = 'Stop'
    try {
        $output = @(& $Operation @OperationArguments)
        [pscustomobject]@{ Output = $output; Failed = $false; ErrorRecord = $null; Exception = $null; Message = $null }
    }
    catch {
        [pscustomobject]@{ Output = @(); Failed = $true; ErrorRecord = $_; Exception = $_.Exception; Message = $_.Exception.Message }
    }
}

function Invoke-ADSyncContained {
    <#
    .SYNOPSIS
    Runs a step that may fail and returns its output and its failure as data, leaving no error record behind.

    .DESCRIPTION
    PowerShell records every exception a catch block handles, and every error a nested command writes
    (even with -ErrorAction SilentlyContinue, and in Windows PowerShell 5.1 every redirected stderr line of
    a native program), in $Error and in the -ErrorVariable of each advanced function the code runs in,
    the caller's included. A runbook that counts $err would read that noise. So the steps of this module
    that can fail in the normal course (running the engine, parsing its output, opening sessions, copying
    a report) run here: ScriptBlock.Invoke() gives them a pipe of their own, which carries none of the
    callers' -ErrorVariable lists; $ErrorActionPreference is Stop inside, so any error ends the step; and
    the entries the step added to $Error are removed again. The public function then writes the one
    error record it means to write.

    Returns Output (an array), Failed, ErrorRecord, Exception and Message. Warnings and verbose messages
    of the step still reach the caller's streams; a step that must feed -WarningVariable writes through
    the public function's $PSCmdlet.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [scriptblock]
        $ScriptBlock,

        [AllowEmptyCollection()]
        [object[]]
        $ArgumentList = @()
    )

    # $Error in a module's scope is a variable of the module's own; the caller's $Error is the global one.
    $errors = $global:Error
    $newest = $null
    if ($errors.Count -gt 0) {
        $newest = $errors[0]
    }
    $answer = $script:ContainedRunner.Invoke($ScriptBlock, $ArgumentList)
    while ($errors.Count -gt 0 -and -not [object]::ReferenceEquals($errors[0], $newest)) {
        $errors.RemoveAt(0)
    }
    $answer[0]
}
