function Get-ADSyncScheduler {
    <#
    .SYNOPSIS
    Gets the sync scheduler's settings and state, with the properties of Entra Connect's Get-ADSyncScheduler.

    .DESCRIPTION
    Reads the settings pybridge keeps in its state store (pybridge scheduler get) and returns them with the
    original's property names and types: AllowedSyncCycleInterval, CurrentlyEffectiveSyncCycleInterval,
    CustomizedSyncCycleInterval (TimeSpan, or $null when not customized), NextSyncCyclePolicyType,
    NextSyncCycleStartTimeInUTC (UTC DateTime), PurgeRunHistoryInterval, SyncCycleEnabled,
    MaintenanceEnabled, StagingModeEnabled, SchedulerSuspended and SyncCycleInProgress.

    pybridge runs no sync cycles of its own; the settings are kept so that scripts written for Entra
    Connect keep working. SyncCycleInProgress is $true while a sync holds pybridge's one-sync-at-a-time
    lock, and StagingModeEnabled comes from the configuration (sync.staging_mode).

    .PARAMETER ConfigPath
    The pybridge configuration file. When omitted the engine uses $env:PYBRIDGE_CONFIG, then its platform
    default. With -ComputerName or -Session this is a path on the sync server.

    .PARAMETER ComputerName
    Reads the settings of these sync servers through PowerShell remoting, in parallel. Each result has a
    PSComputerName property.

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
    Runs the command on these sync servers through PowerShell remoting over SSH, which PowerShell 7 has on
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
    Reads the settings through these existing PowerShell sessions; they stay open.

    .PARAMETER ThrottleLimit
    How many computers are worked on at the same time (default 32).

    .INPUTS
    None.

    .OUTPUTS
    System.Management.Automation.PSCustomObject. One object per computer, with type name
    Microsoft.IdentityManagement.PowerShell.ObjectModel.SchedulerSettings (Deserialized. in front of it
    for remote results, which also carry PSComputerName).

    .EXAMPLE
    PS> Get-ADSyncScheduler

    AllowedSyncCycleInterval            : 00:30:00
    CurrentlyEffectiveSyncCycleInterval : 00:30:00
    CustomizedSyncCycleInterval         :
    NextSyncCyclePolicyType             : Delta
    NextSyncCycleStartTimeInUTC         : 25/11/2026 09:00:00
    PurgeRunHistoryInterval             : 7.00:00:00
    SyncCycleEnabled                    : True
    MaintenanceEnabled                  : True
    StagingModeEnabled                  : False
    SchedulerSuspended                  : False
    SyncCycleInProgress                 : False

    Shows the settings of the local pybridge installation.

    .EXAMPLE
    PS> while ((Get-ADSyncScheduler).SyncCycleInProgress) { Start-Sleep -Seconds 10 }
    PS> $result = Invoke-ADSyncSingleObjectSync -DistinguishedName $dn -NoHtmlReport -StagingMode | ConvertFrom-Json

    The runbook pattern: wait until no sync runs, then sync one object in staging mode and parse the JSON.

    .EXAMPLE
    PS> Get-ADSyncScheduler -ComputerName aadc01, aadc02 | Select-Object PSComputerName, StagingModeEnabled, SyncCycleEnabled

    Compares two sync servers: which one is the staging server, and whether their schedulers are on.

    .LINK
    Set-ADSyncScheduler

    .LINK
    Invoke-ADSyncSingleObjectSync
    #>
    [CmdletBinding(DefaultParameterSetName = 'Local')]
    [OutputType([pscustomobject])]
    param(
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

    if ($PSCmdlet.ParameterSetName -ne 'Local') {
        $parameters = @{}
        if ($ConfigPath) {
            $parameters['ConfigPath'] = $ConfigPath
        }
        $remote = Open-ADSyncRemoteSession -BoundParameters $PSBoundParameters -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncScheduler'
        try {
            $call = Invoke-ADSyncRemoteCommand -Remote $remote -CommandName 'Get-ADSyncScheduler' -Parameters $parameters -ThrottleLimit $ThrottleLimit `
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
    $engineArguments = @('scheduler', 'get')
    if ($ConfigPath) {
        $engineArguments += '--config', (Resolve-LocalPath -Path $ConfigPath -SessionState $PSCmdlet.SessionState)
    }
    $run = Get-PyBridgeEngineResult -ArgumentList $engineArguments -Cmdlet $PSCmdlet -Activity 'Get-ADSyncScheduler'
    $settings = Read-SchedulerResult -Run $run -Cmdlet $PSCmdlet
    if ($settings) {
        $settings
    }
}
