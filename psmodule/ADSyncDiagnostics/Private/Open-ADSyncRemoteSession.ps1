function Open-ADSyncRemoteSession {
    <#
    .SYNOPSIS
    Gives the PowerShell remoting sessions a remote call runs in: the caller's -Session, or new ones.

    .DESCRIPTION
    With -Session in the caller's bound parameters those sessions are used as they are (Owned = $false:
    the caller closes them). With -ComputerName, one session per computer is opened, in parallel, with
    the caller's -Credential, -UseSSL, -Port, -Authentication, -ConfigurationName and -ThrottleLimit
    (Owned = $true: Close-ADSyncRemoteSession removes them). A computer that cannot be reached writes
    New-PSSession's own error and is left out; the others go on.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]
        $BoundParameters
    )

    if ($BoundParameters.ContainsKey('Session')) {
        return [pscustomobject]@{ Sessions = @($BoundParameters['Session']); Owned = $false }
    }
    $connection = @{}
    foreach ($name in 'ComputerName', 'Credential', 'UseSSL', 'Port', 'Authentication', 'ConfigurationName', 'ThrottleLimit') {
        if ($BoundParameters.ContainsKey($name)) {
            $connection[$name] = $BoundParameters[$name]
        }
    }
    $sessions = @(New-PSSession @connection)
    [pscustomobject]@{ Sessions = $sessions; Owned = $true }
}
