function New-SyncResultOutput {
    <#
    .SYNOPSIS
    Makes what Invoke-ADSyncSingleObjectSync emits for one result: the JSON string, or the parsed object.

    .DESCRIPTION
    By default the engine's JSON string, unchanged, so '| Out-File' and '| ConvertFrom-Json' behave as
    with the original cmdlet; NoteProperties on the string carry ReportPath (the report on this machine)
    and, for remote results, ComputerName. With -AsObject the parsed result, with the same two
    properties set (ReportPath replaced by the local path, the server's path kept as RemoteReportPath).
    ReportPath is always present, $null when no report was written or copied, so that scripts under
    Set-StrictMode can read it.
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
    # ReportPath is always there ($null without a report), so that a caller under Set-StrictMode can read
    # it; RemoteReportPath and ComputerName are there on every remote result.
    $notes = [ordered]@{}
    if ($ReportPath) {
        $notes['ReportPath'] = $ReportPath
    }
    elseif (-not ($AsObject -and $output.PSObject.Properties['ReportPath'])) {
        $notes['ReportPath'] = $null
    }
    if ($ComputerName) {
        if ($AsObject) {
            $notes['RemoteReportPath'] = if ($RemoteReportPath) { $RemoteReportPath } else { $null }
            if (-not $ReportPath) {
                $notes['ReportPath'] = $null
            }
        }
        $notes['ComputerName'] = $ComputerName
    }
    foreach ($name in $notes.Keys) {
        $output = Add-Member -InputObject $output -NotePropertyName $name -NotePropertyValue $notes[$name] -Force -PassThru
    }
    $output
}
