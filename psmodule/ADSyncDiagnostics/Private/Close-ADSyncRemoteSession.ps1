function Close-ADSyncRemoteSession {
    <#
    .SYNOPSIS
    Removes the sessions Open-ADSyncRemoteSession opened; leaves the caller's own sessions open.

    .DESCRIPTION
    -WhatIf and -Confirm given to the public function do not reach this clean-up.
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        [object]
        $Remote
    )

    if ($Remote -and $Remote.Owned -and $Remote.Sessions) {
        Remove-PSSession -Session $Remote.Sessions -ErrorAction SilentlyContinue -WhatIf:$false -Confirm:$false
    }
}
