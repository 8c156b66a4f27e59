function Get-DefaultReportDirectory {
    <#
    .SYNOPSIS
    The local folder reports copied from sync servers go to when -ReportDirectory is not given.

    .DESCRIPTION
    The engine's own default, so that local and copied reports end up side by side:
    %ProgramData%\AADConnect\ADSyncObjectDiagnostics on Windows (the original cmdlet's folder),
    ~/Library/Application Support/pybridge/reports on macOS, and $XDG_STATE_HOME/pybridge/reports
    (by default ~/.local/state/pybridge/reports) elsewhere.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()

    if ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT) {
        $programData = $env:ProgramData
        if (-not $programData) {
            $programData = 'C:\ProgramData'
        }
        return (Join-Path -Path $programData -ChildPath 'AADConnect\ADSyncObjectDiagnostics')
    }
    if ($IsMacOS) {
        return (Join-Path -Path $HOME -ChildPath 'Library/Application Support/pybridge/reports')
    }
    $stateHome = $env:XDG_STATE_HOME
    if (-not $stateHome) {
        $stateHome = Join-Path -Path $HOME -ChildPath '.local/state'
    }
    Join-Path -Path $stateHome -ChildPath 'pybridge/reports'
}
