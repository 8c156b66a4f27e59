function Read-SchedulerResult {
    <#
    .SYNOPSIS
    Turns a 'pybridge scheduler get|set' run into the settings object, or into an error of the caller.

    .DESCRIPTION
    Exit code 0 with one JSON line gives the typed settings (ConvertFrom-SchedulerSetting). Anything else
    writes a non-terminating error through the calling cmdlet and returns nothing: exit code 2 is a bad
    value or configuration (ADSyncScheduler.UsageError, InvalidArgument), others are
    ADSyncScheduler.EngineFailed. The engine's messages are the error's text.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [object]
        $Run,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet
    )

    $json = $Run.Output | Select-Object -Last 1
    $messageText = ($Run.Messages | Where-Object { $_ }) -join ' '
    if ($Run.ExitCode -eq 0 -and $json) {
        $conversion = Invoke-ADSyncContained -ScriptBlock { param($text) ConvertFrom-SchedulerSetting -Json $text } -ArgumentList $json
        if (-not $conversion.Failed) {
            return $conversion.Output[0]
        }
        $messageText = "The engine's answer is not the scheduler's settings: $($conversion.Message)"
    }
    elseif ($Run.Failure) {
        $messageText = $Run.Failure
    }
    if (-not $messageText) {
        $messageText = "The engine exited with code $($Run.ExitCode) and printed no settings."
    }
    $usage = $Run.ExitCode -eq 2
    $errorId = if ($usage) { 'ADSyncScheduler.UsageError' } else { 'ADSyncScheduler.EngineFailed' }
    $category = if ($usage) { 'InvalidArgument' } else { 'NotSpecified' }
    $record = New-ADSyncErrorRecord -Message $messageText -ErrorId $errorId -Category $category -TargetObject 'scheduler' `
        -RecommendedAction 'Run with -Verbose to see the engine''s command line and messages.'
    $Cmdlet.WriteError($record)
}
