function Close-ADSyncRemoteSession {
    <#
    .SYNOPSIS
    Removes the sessions Open-ADSyncRemoteSession opened; leaves the caller's own sessions open.

    .DESCRIPTION
    -WhatIf and -Confirm given to the public function do not reach this clean-up, and a session that is
    already gone is no error of the caller (-ErrorAction Ignore keeps it out of $Error too).
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        [object]
        $Remote
    )

    if (-not ($Remote -and $Remote.Owned)) {
        return
    }
    # Opened: every session opened for the call, also those left out later (a server without the module).
    $sessions = if ($Remote.PSObject.Properties['Opened']) { @($Remote.Opened) } else { @($Remote.Sessions) }
    if ($sessions.Count -gt 0) {
        Remove-PSSession -Session $sessions -ErrorAction Ignore -WhatIf:$false -Confirm:$false
    }
}
