function New-SyncResultOutput {
    <#
    .SYNOPSIS
    Makes what Invoke-ADSyncSingleObjectSync emits for one result: the JSON string, or the parsed object.

    .DESCRIPTION
    By default the engine's JSON string, unchanged, so '| Out-File' and '| ConvertFrom-Json' behave as
    with the original cmdlet; NoteProperties on the string carry ReportPath (the report on this machine)
    and, for remote results, ComputerName. With -AsObject the parsed result, with the same two
    properties set (ReportPath replaced by the local path, the server's path kept as RemoteReportPath).
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '',
        Justification = 'Builds the output object in memory and returns it; it changes no state, so there is nothing to confirm.')]
    [CmdletBinding()]
    [OutputType([string], [pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string]
        $Json,

        [object]
        $Parsed,

        [switch]
        $AsObject,

        [string]
        $ReportPath,

        [string]
        $RemoteReportPath,

        [string]
        $ComputerName
    )

    $output = $Json
    if ($AsObject) {
        $output = $Parsed
        if (-not $output) {
            $output = $Json | ConvertFrom-Json
        }
    }
    $notes = [ordered]@{}
    if ($ReportPath) {
        $notes['ReportPath'] = $ReportPath
    }
    if ($AsObject -and $RemoteReportPath) {
        $notes['RemoteReportPath'] = $RemoteReportPath
    }
    if ($ComputerName) {
        $notes['ComputerName'] = $ComputerName
    }
    foreach ($name in $notes.Keys) {
        $output = Add-Member -InputObject $output -NotePropertyName $name -NotePropertyValue $notes[$name] -Force -PassThru
    }
    $output
}
