function Resolve-LocalPath {
    <#
    .SYNOPSIS
    Turns a path given to a cmdlet into the absolute file-system path the engine must receive.

    .DESCRIPTION
    PowerShell's current location is not the process's working directory, so a relative -ConfigPath or
    -ReportDirectory is resolved here, against the PowerShell location. A trailing separator is removed
    (except from a root such as C:\ or /) because Windows PowerShell would pass 'C:\My Reports\' as
    "C:\My Reports\", which Python reads as ending in a quote. The path need not exist.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]
        $Path,

        [Parameter(Mandatory)]
        [System.Management.Automation.SessionState]
        $SessionState
    )

    $full = $SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    if ($full.Length -gt 1 -and $full -match '[^:\\/][\\/]+$') {
        $full = $full.TrimEnd('\', '/')
    }
    $full
}
