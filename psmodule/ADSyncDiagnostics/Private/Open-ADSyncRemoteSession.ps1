function Open-ADSyncRemoteSession {
    <#
    .SYNOPSIS
    Gives the PowerShell remoting sessions a remote call runs in: the caller's -Session, or new ones.

    .DESCRIPTION
    With -Session in the caller's bound parameters those sessions are used as they are (Owned = $false:
    the caller closes them); one that is not open is left out with one error. With -HostName, one SSH
    remoting session per host is opened with the caller's -UserName, -KeyFilePath, -Port, -Subsystem and
    -Options; with -ComputerName, one WinRM session per computer with -Credential, -UseSSL, -Port,
    -Authentication, -ConfigurationName and -ThrottleLimit (Owned = $true: Close-ADSyncRemoteSession
    removes them). New-PSSession connects to all of them at once.

    A host that cannot be reached, or refuses the login, gets exactly one non-terminating error
    (<ErrorIdPrefix>.ConnectionFailed, ConnectionError, the host as target) written through the calling
    cmdlet, and is left out; the others go on. New-PSSession's own records stay out of the caller's
    -ErrorVariable and $Error (Invoke-ADSyncContained). Where the transport cannot exist at all (WSMan on
    Linux and macOS, SSH remoting on Windows PowerShell 5.1) the call stops with one terminating error
    that names the way that works.

    Returns Sessions (the open sessions, from which Invoke-ADSyncRemoteCommand may leave servers out),
    Owned, and Opened (every session opened here, which Close-ADSyncRemoteSession removes).
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]
        $BoundParameters,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [Parameter(Mandatory)]
        [ValidateSet('ADSyncSingleObjectSync', 'ADSyncScheduler')]
        [string]
        $ErrorIdPrefix
    )

    if ($BoundParameters.ContainsKey('Session')) {
        $open = [System.Collections.Generic.List[object]]::new()
        foreach ($item in @($BoundParameters['Session'])) {
            if ([string]$item.State -eq 'Opened') {
                $open.Add($item)
                continue
            }
            $record = New-ADSyncErrorRecord -Message ("The session {0} to {1} is {2}, not Opened; it was left out." -f $item.Name, $item.ComputerName, $item.State) `
                -ErrorId "$ErrorIdPrefix.SessionNotOpen" -Category ConnectionError -TargetObject ([string]$item.ComputerName) `
                -RecommendedAction 'Open a new session with New-PSSession (or Connect-PSSession a disconnected one) and pass it with -Session.'
            $Cmdlet.WriteError($record)
        }
        return [pscustomobject]@{ Sessions = $open.ToArray(); Owned = $false; Opened = @() }
    }

    $ssh = $BoundParameters.ContainsKey('HostName')
    $newSession = Get-Command -Name 'New-PSSession' -CommandType Cmdlet
    $connection = @{}
    if ($ssh) {
        # SSH remoting exists from PowerShell 6 on; -Options from 7.3 on. Say so once, before connecting.
        $since = @{ HostName = '6'; Options = '7.3' }
        foreach ($name in 'HostName', 'Options') {
            if ($BoundParameters.ContainsKey($name) -and -not $newSession.Parameters.ContainsKey($name)) {
                $record = New-ADSyncErrorRecord -Message ("-{0} needs PowerShell {1} or later (SSH remoting); this is PowerShell {2}." -f $name, $since[$name], $PSVersionTable.PSVersion) `
                    -ErrorId "$ErrorIdPrefix.SshRemotingNotSupported" -Category NotImplemented -TargetObject $name `
                    -RecommendedAction 'Run the command from PowerShell 7 (pwsh), or use -ComputerName (WinRM) from Windows PowerShell.'
                $Cmdlet.ThrowTerminatingError($record)
            }
        }
        foreach ($name in 'HostName', 'UserName', 'KeyFilePath', 'Port', 'Subsystem', 'Options') {
            if ($BoundParameters.ContainsKey($name)) {
                $connection[$name] = $BoundParameters[$name]
            }
        }
    }
    else {
        foreach ($name in 'ComputerName', 'Credential', 'UseSSL', 'Port', 'Authentication', 'ConfigurationName', 'ThrottleLimit') {
            if ($BoundParameters.ContainsKey($name)) {
                $connection[$name] = $BoundParameters[$name]
            }
        }
    }

    $attempt = Invoke-ADSyncContained -ArgumentList $connection -ScriptBlock {
        param($settings)
        $failures = $null
        $opened = @(New-PSSession @settings -ErrorAction SilentlyContinue -ErrorVariable failures)
        [pscustomobject]@{ Sessions = $opened; Failures = @($failures) }
    }
    $sessions = @()
    $failures = @()
    if ($attempt.Failed) {
        $failures = @($attempt.ErrorRecord)
    }
    else {
        $sessions = @($attempt.Output[0].Sessions)
        $failures = @($attempt.Output[0].Failures)
    }

    $names = if ($ssh) { @($BoundParameters['HostName']) } else { @($BoundParameters['ComputerName']) }
    if (-not $ssh -and $failures.Count -gt 0 -and (Test-WSManMissing -ErrorRecord $failures)) {
        $platform = if ($IsMacOS) { 'macOS' } elseif ($IsLinux) { 'Linux' } else { [System.Environment]::OSVersion.Platform }
        $record = New-ADSyncErrorRecord -Message ("-ComputerName uses WinRM (WSMan) remoting, which PowerShell on {0} does not have. Use -HostName for PowerShell remoting over SSH, or -Session with a session opened by New-PSSession -HostName." -f $platform) `
            -ErrorId "$ErrorIdPrefix.WSManNotAvailable" -Category NotImplemented -TargetObject ($names -join ', ') `
            -RecommendedAction ("For example: -HostName {0} -UserName <account> [-KeyFilePath <key>]; the sync server needs sshd with a 'powershell' subsystem (docs/powershell.md, Remoting)." -f ($names -join ', '))
        $Cmdlet.ThrowTerminatingError($record)
    }

    foreach ($failure in $failures) {
        $target = Get-RemoteFailureTarget -ErrorRecord $failure
        if (-not $target) {
            $target = $names -join ', '
        }
        $reason = if ($failure.Exception) { $failure.Exception.Message } else { [string]$failure }
        if ($ssh) {
            $port = if ($BoundParameters.ContainsKey('Port')) { $BoundParameters['Port'] } else { 22 }
            $message = "Could not open a PowerShell SSH remoting session to ${target}: $reason"
            $action = "Check that $target accepts SSH on port $port, that the key (-KeyFilePath) is in the authorized_keys of the user (-UserName) there, that its host key is in your known_hosts, and that its sshd_config has 'Subsystem powershell <path to pwsh> -sshs -NoLogo'. 'ssh -o BatchMode=yes -p $port <user>@$target -s powershell' shows ssh's own reason."
        }
        else {
            $message = "Could not open a PowerShell remoting session to ${target}: $reason"
            $action = "Check that $target is reachable, that Enable-PSRemoting was run there, and that your account may connect (-Credential, -UseSSL, -Authentication); outside a domain use HTTPS or TrustedHosts."
        }
        $record = New-ADSyncErrorRecord -Message $message -ErrorId "$ErrorIdPrefix.ConnectionFailed" -Category ConnectionError `
            -TargetObject $target -RecommendedAction $action -Exception $failure.Exception
        $Cmdlet.WriteError($record)
    }
    [pscustomobject]@{ Sessions = $sessions; Owned = $true; Opened = $sessions }
}
