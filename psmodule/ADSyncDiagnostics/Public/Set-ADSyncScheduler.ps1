function Set-ADSyncScheduler {
    <#
    .SYNOPSIS
    Changes the sync scheduler's settings, with the parameters of Entra Connect's Set-ADSyncScheduler.

    .DESCRIPTION
    Writes the given settings to pybridge's state store (pybridge scheduler set); settings not given stay
    as they are. The parameters are the original's, with the same types, so that scripts such as
    'Set-ADSyncScheduler -SyncCycleEnabled $false' before maintenance keep working unchanged.

    The function asks for confirmation when $ConfirmPreference is Medium or lower, or with -Confirm;
    -Force skips the confirmation (unless -Confirm is given too). -WhatIf shows what would change and
    changes nothing.

    .PARAMETER CustomizedSyncCycleInterval
    The sync cycle interval to use instead of the AllowedSyncCycleInterval (at least 00:30:00). $null
    removes the customization.

    .PARAMETER SyncCycleEnabled
    $true turns the scheduler on, $false off (a Boolean, as in the original: -SyncCycleEnabled $false).

    .PARAMETER NextSyncCyclePolicyType
    The kind of the next sync cycle: Delta or Initial.

    .PARAMETER PurgeRunHistoryInterval
    How long run history is kept.

    .PARAMETER MaintenanceEnabled
    $true turns the scheduler's maintenance tasks on, $false off.

    .PARAMETER SchedulerSuspended
    $true suspends the scheduler, $false resumes it.

    .PARAMETER Force
    Changes the settings without asking for confirmation.

    .PARAMETER PassThru
    Returns the scheduler's settings after the change (as Get-ADSyncScheduler does). By default, as the
    original, nothing is returned.

    .PARAMETER ConfigPath
    The pybridge configuration file. When omitted the engine uses $env:PYBRIDGE_CONFIG, then its platform
    default. With -ComputerName or -Session this is a path on the sync server.

    .PARAMETER ComputerName
    Changes the settings on these sync servers through PowerShell remoting, in parallel.

    .PARAMETER Credential
    The account used to connect to the computers given with -ComputerName.

    .PARAMETER UseSSL
    Connects to -ComputerName over HTTPS.

    .PARAMETER Port
    The WinRM port on the computers given with -ComputerName, or the SSH port of the servers given
    with -HostName (default 22).

    .PARAMETER Authentication
    The remoting authentication mechanism for -ComputerName.

    .PARAMETER ConfigurationName
    The session configuration (endpoint) to connect to on the computers given with -ComputerName.

    .PARAMETER HostName
    Runs the change on these sync servers through PowerShell remoting over SSH, which PowerShell 7 has on
    Windows, Linux and macOS (as Invoke-Command -HostName). Each server needs sshd with a 'powershell'
    subsystem (Subsystem powershell <path to pwsh> -sshs -NoLogo), this module and pybridge's engine.
    A name may carry its user and port as user@host:port.

    .PARAMETER UserName
    The account to log in with over SSH (-HostName). Default: ssh's own (the current user, or the User
    in ~/.ssh/config).

    .PARAMETER KeyFilePath
    The private key to log in with over SSH (-HostName), as ssh -i.

    .PARAMETER Subsystem
    The SSH subsystem that starts PowerShell on the servers given with -HostName (default: powershell).

    .PARAMETER Options
    ssh options for -HostName, as a hashtable of ssh -o settings, for example
    @{ BatchMode = 'yes'; StrictHostKeyChecking = 'yes'; ConnectTimeout = '10' }. BatchMode makes a
    refused key an error instead of a password prompt, as unattended scripts need. PowerShell 7.3 or later.

    .PARAMETER Session
    Changes the settings through these existing PowerShell sessions; they stay open.

    .PARAMETER ThrottleLimit
    How many computers are worked on at the same time (default 32).

    .INPUTS
    None.

    .OUTPUTS
    None by default. With -PassThru, System.Management.Automation.PSCustomObject: the settings as
    Get-ADSyncScheduler returns them.

    .EXAMPLE
    PS> Set-ADSyncScheduler -SyncCycleEnabled $false -Force
    PS> $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $dn -NoHtmlReport -StagingMode | ConvertFrom-Json
    PS> Set-ADSyncScheduler -SyncCycleEnabled $true -Force

    The runbook pattern: turn the scheduler off, check one object in staging mode and parse the JSON, turn
    the scheduler back on.

    .EXAMPLE
    PS> Set-ADSyncScheduler -CustomizedSyncCycleInterval ([TimeSpan]::FromHours(1)) -PassThru | Select-Object CurrentlyEffectiveSyncCycleInterval

    Runs sync cycles hourly and shows the interval now in effect. '-CustomizedSyncCycleInterval $null'
    goes back to the default.

    .EXAMPLE
    PS> Set-ADSyncScheduler -NextSyncCyclePolicyType Initial -ComputerName aadc01 -WhatIf

    Shows what would change on aadc01, and changes nothing.

    .LINK
    Get-ADSyncScheduler

    .LINK
    Invoke-ADSyncSingleObjectSync
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium', DefaultParameterSetName = 'Local')]
    [OutputType([pscustomobject])]
    param(
        [AllowNull()]
        [Nullable[TimeSpan]]
        $CustomizedSyncCycleInterval,

        [bool]
        $SyncCycleEnabled,

        [ValidateSet('Delta', 'Initial')]
        [string]
        $NextSyncCyclePolicyType,

        [TimeSpan]
        $PurgeRunHistoryInterval,

        [bool]
        $MaintenanceEnabled,

        [bool]
        $SchedulerSuspended,

        [switch]
        $Force,

        [switch]
        $PassThru,

        [ValidateNotNullOrEmpty()]
        [string]
        $ConfigPath,

        [Parameter(Mandatory, ParameterSetName = 'ComputerName')]
        [ValidateNotNullOrEmpty()]
        [Alias('Cn')]
        [string[]]
        $ComputerName,

        [Parameter(ParameterSetName = 'ComputerName')]
        [pscredential]
        $Credential,

        [Parameter(ParameterSetName = 'ComputerName')]
        [switch]
        $UseSSL,

        [Parameter(ParameterSetName = 'ComputerName')]
        [Parameter(ParameterSetName = 'HostName')]
        [ValidateRange(1, 65535)]
        [int]
        $Port,

        [Parameter(ParameterSetName = 'ComputerName')]
        [System.Management.Automation.Runspaces.AuthenticationMechanism]
        $Authentication,

        [Parameter(ParameterSetName = 'ComputerName')]
        [ValidateNotNullOrEmpty()]
        [string]
        $ConfigurationName,

        [Parameter(Mandatory, ParameterSetName = 'HostName')]
        [ValidateNotNullOrEmpty()]
        [string[]]
        $HostName,

        [Parameter(ParameterSetName = 'HostName')]
        [ValidateNotNullOrEmpty()]
        [string]
        $UserName,

        [Parameter(ParameterSetName = 'HostName')]
        [ValidateNotNullOrEmpty()]
        [string]
        $KeyFilePath,

        [Parameter(ParameterSetName = 'HostName')]
        [ValidateNotNullOrEmpty()]
        [string]
        $Subsystem,

        [Parameter(ParameterSetName = 'HostName')]
        [hashtable]
        $Options,

        [Parameter(Mandatory, ParameterSetName = 'Session')]
        [ValidateNotNullOrEmpty()]
        [System.Management.Automation.Runspaces.PSSession[]]
        $Session,

        [Parameter(ParameterSetName = 'ComputerName')]
        [Parameter(ParameterSetName = 'HostName')]
        [Parameter(ParameterSetName = 'Session')]
        [ValidateRange(1, 1000)]
        [int]
        $ThrottleLimit = 32
    )

    # Setting name -> engine option; values go as the engine writes them (true/false, d.hh:mm:ss, null).
    $options = [ordered]@{
        CustomizedSyncCycleInterval = '--customized-sync-cycle-interval'
        SyncCycleEnabled            = '--sync-cycle-enabled'
        NextSyncCyclePolicyType     = '--next-sync-cycle-policy-type'
        PurgeRunHistoryInterval     = '--purge-run-history-interval'
        MaintenanceEnabled          = '--maintenance-enabled'
        SchedulerSuspended          = '--scheduler-suspended'
    }
    $changes = [ordered]@{}
    foreach ($name in $options.Keys) {
        if ($PSBoundParameters.ContainsKey($name)) {
            $changes[$name] = $PSBoundParameters[$name]
        }
    }
    if ($changes.Count -eq 0) {
        $record = New-ADSyncErrorRecord -Message 'Give at least one setting to change, for example -SyncCycleEnabled $false.' `
            -ErrorId 'ADSyncScheduler.NothingToSet' -Category InvalidArgument -TargetObject 'scheduler'
        $PSCmdlet.ThrowTerminatingError($record)
    }

    if ($Force -and -not $PSBoundParameters.ContainsKey('Confirm')) {
        $ConfirmPreference = 'None'
    }
    $description = ($changes.Keys | ForEach-Object { '{0} = {1}' -f $_, $(if ($null -eq $changes[$_]) { '$null' } else { $changes[$_] }) }) -join ', '
    $isRemote = $PSCmdlet.ParameterSetName -ne 'Local'
    $target = 'pybridge scheduler settings'
    if ($isRemote) {
        $names = switch ($PSCmdlet.ParameterSetName) {
            'Session' { @($Session | ForEach-Object { $_.ComputerName }) }
            'HostName' { $HostName }
            default { $ComputerName }
        }
        $target += ' on ' + ($names -join ', ')
    }
    if (-not $PSCmdlet.ShouldProcess($target, "Set $description")) {
        return
    }

    if ($isRemote) {
        $parameters = @{ Force = $true; Confirm = $false; PassThru = [bool]$PassThru }
        foreach ($name in @($changes.Keys) + 'ConfigPath') {
            if ($PSBoundParameters.ContainsKey($name)) {
                $parameters[$name] = $PSBoundParameters[$name]
            }
        }
        $remote = Open-ADSyncRemoteSession -BoundParameters $PSBoundParameters -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncScheduler'
        try {
            $call = Invoke-ADSyncRemoteCommand -Remote $remote -CommandName 'Set-ADSyncScheduler' -Parameters $parameters -ThrottleLimit $ThrottleLimit `
                -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncScheduler'
            $call.Output
            foreach ($record in @($call.Errors)) {
                $PSCmdlet.WriteError($record)
            }
        }
        finally {
            Close-ADSyncRemoteSession -Remote $remote
        }
        return
    }

    Assert-PyBridgeEngine -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncScheduler'
    $engineArguments = @('scheduler', 'set')
    if ($ConfigPath) {
        $engineArguments += '--config', (Resolve-LocalPath -Path $ConfigPath -SessionState $PSCmdlet.SessionState)
    }
    foreach ($name in $changes.Keys) {
        $value = $changes[$name]
        $text = if ($null -eq $value) {
            'null'
        }
        elseif ($value -is [bool]) {
            $value.ToString().ToLowerInvariant()
        }
        elseif ($value -is [TimeSpan]) {
            # Whole seconds, d.hh:mm:ss: the form the engine reads.
            [TimeSpan]::FromSeconds([math]::Floor($value.TotalSeconds)).ToString('c', [System.Globalization.CultureInfo]::InvariantCulture)
        }
        else {
            [string]$value
        }
        $engineArguments += $options[$name], $text
    }
    $run = Get-PyBridgeEngineResult -ArgumentList $engineArguments -Cmdlet $PSCmdlet -Activity 'Set-ADSyncScheduler'
    $settings = Read-SchedulerResult -Run $run -Cmdlet $PSCmdlet
    if ($settings -and $PassThru) {
        $settings
    }
}
