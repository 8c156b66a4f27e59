function Write-ADSyncObjectResult {
    <#
    .SYNOPSIS
    Writes what Invoke-ADSyncSingleObjectSync gives for one object the engine ran: its result, then its error.

    .DESCRIPTION
    Takes the engine's answer for one object, from its own process (Get-PyBridgeEngineResult) or from the
    pipeline's one process (Receive-PyBridgeBatchAnswer): ExitCode, Output (the stdout lines; the last
    is the result), Messages, ReportPath and Failure. Emits the JSON string or, with -AsObject, the parsed
    result (New-SyncResultOutput); then, for a Failure result (or exit code 1 or 2), one non-terminating
    error record through the cmdlet (-Cmdlet): ADSyncSingleObjectSync.<ErrorCode>, the DN as target, the
    recommended action. An answer without a result is one UsageError (exit code 2) or EngineFailed
    record; a result that is not JSON is one InvalidEngineOutput record. Nothing else reaches the
    caller's error streams.
    #>
    [CmdletBinding()]
    [OutputType([string], [pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string]
        $DistinguishedName,

        [Parameter(Mandatory)]
        [pscustomobject]
        $Run,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [switch]
        $AsObject
    )

    if (@($Run.Output).Count -gt 1) {
        Write-Verbose "The engine wrote $(@($Run.Output).Count) lines to stdout; the last one is the result."
    }
    $json = @($Run.Output) | Select-Object -Last 1
    $messageText = (@($Run.Messages) | Where-Object { $_ }) -join ' '

    if (-not $json) {
        $usage = $Run.ExitCode -eq 2
        $errorId = if ($usage) { 'ADSyncSingleObjectSync.UsageError' } else { 'ADSyncSingleObjectSync.EngineFailed' }
        $category = if ($usage) { 'InvalidArgument' } else { 'NotSpecified' }
        if ($Run.Failure) {
            $messageText = $Run.Failure
        }
        elseif (-not $messageText) {
            $messageText = "The engine exited with code $($Run.ExitCode) and printed no result."
        }
        $record = New-ADSyncErrorRecord -Message "Single Object Sync of '$DistinguishedName' did not run: $messageText" `
            -ErrorId $errorId -Category $category -TargetObject $DistinguishedName `
            -RecommendedAction 'Run with -Verbose to see the engine''s command line and messages.'
        $Cmdlet.WriteError($record)
        return
    }

    $parse = Invoke-ADSyncContained -ScriptBlock { param($text) ConvertFrom-Json -InputObject $text } -ArgumentList $json
    if ($parse.Failed) {
        $record = New-ADSyncErrorRecord -Message "The engine's result for '$DistinguishedName' is not JSON: $($parse.Message)" `
            -ErrorId 'ADSyncSingleObjectSync.InvalidEngineOutput' -Category InvalidResult -TargetObject $DistinguishedName `
            -RecommendedAction 'Run with -Verbose to see the engine''s command line and messages.' -Exception $parse.Exception
        $Cmdlet.WriteError($record)
        return
    }
    $parsed = $parse.Output[0]

    $reportPath = $Run.ReportPath
    if (-not $reportPath -and $parsed.PSObject.Properties['ReportPath']) {
        $reportPath = $parsed.ReportPath
    }
    New-SyncResultOutput -Json $json -Parsed $parsed -AsObject:$AsObject -ReportPath $reportPath

    $status = Get-SyncResultStatus -Result $parsed
    if ($status.Status -eq 'Failure' -or $Run.ExitCode -eq 1 -or $Run.ExitCode -eq 2) {
        $code = if ($status.ErrorCode) { $status.ErrorCode } else { 'Failure' }
        $reason = if ($status.Reason) { $status.Reason } else { $messageText }
        $record = New-ADSyncErrorRecord -Message "Single Object Sync of '$DistinguishedName' failed ($code): $reason" `
            -ErrorId "ADSyncSingleObjectSync.$code" -Category (Get-ADSyncErrorCategory -ErrorCode $status.ErrorCode) `
            -TargetObject $DistinguishedName -RecommendedAction $status.RecommendedAction
        $Cmdlet.WriteError($record)
    }
}
