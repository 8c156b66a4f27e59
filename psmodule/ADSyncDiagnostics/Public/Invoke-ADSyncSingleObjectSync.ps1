function Invoke-ADSyncSingleObjectSync {
    <#
    .SYNOPSIS
    Synchronizes one Active Directory object to Microsoft Entra ID and explains every step.

    .DESCRIPTION
    A drop-in for Entra Connect's Invoke-ADSyncSingleObjectSync, backed by pybridge's Python engine. It runs
    the ten steps of Single Object Sync for the object (scoping by domain, Entra connector, OU,
    connectivity, object type and group; import from Active Directory and from Entra ID; sync; export)
    and writes the result as the original does: one JSON string per object, so existing runbooks that
    pipe it to ConvertFrom-Json or Out-File keep working.

    Beyond the original: objects can come from the pipeline (Get-ADUser jdoe | Invoke-ADSyncSingleObjectSync),
    -WhatIf runs a dry run that writes nothing anywhere, -Format Graph returns Microsoft Graph's
    provisioningObjectSummary, -AsObject returns the parsed result, and -ComputerName or -Session run the
    sync on one or many sync servers through PowerShell remoting and bring the HTML report back.

    Objects from the pipeline go to one engine process: each is handed over as it arrives and its result
    written as soon as the engine has finished it, in input order, so a long list costs one engine start
    and the first results come before the last object is in. A single object runs in a process of its own.

    Progress follows the ten steps as they happen (Write-Progress); -Verbose shows the engine's command
    line and messages. A result whose status is Failure also writes a non-terminating error (ErrorId
    ADSyncSingleObjectSync.<ErrorCode>, the DN as target, the recommended action in
    ErrorDetails.RecommendedAction), so $? and -ErrorAction work; the JSON is written first. A Skipped
    result (the object is out of sync scope) is a result, not an error, as with the original.

    The engine is found through $env:PYBRIDGE_PYTHON, then 'py -3', 'python3' and 'python'; it reads its
    configuration from -ConfigPath, else $env:PYBRIDGE_CONFIG, else its platform default.

    .PARAMETER DistinguishedName
    The distinguished name of the Active Directory object to synchronize, exactly as Active Directory shows
    it (RFC 4514 escapes such as \, for a comma in a name). Accepts pipeline input, by value and from a
    DistinguishedName property (Get-ADUser, Get-ADGroup, Get-ADObject).

    .PARAMETER StagingMode
    Writes nothing to Entra ID: import and sync are committed to pybridge's local state as on a staging
    server, and the export step lists exactly what would have been sent. Without it, staging mode is on
    when the configuration says so (Get-ADSyncScheduler shows StagingModeEnabled).

    .PARAMETER NoHtmlReport
    Writes no HTML report. (The original opens the report in a browser; pybridge only writes it, and
    ReportPath on the output says where.)

    .PARAMETER ConfigPath
    The pybridge configuration file. When omitted the engine uses $env:PYBRIDGE_CONFIG, then its platform
    default (%ProgramData%\pybridge\pybridge.yaml on Windows). With -ComputerName or -Session this is a
    path on the sync server.

    .PARAMETER ReportDirectory
    Where the HTML report goes: the engine writes it there when running locally; with -ComputerName or
    -Session, the report is copied from the server into a subfolder named after the computer. When
    omitted, the engine's default (%ProgramData%\AADConnect\ADSyncObjectDiagnostics on Windows, as the
    original) is used, locally and for copies.

    .PARAMETER Format
    The shape of the JSON: ADSync (default; the original cmdlet's properties, in its order) or Graph
    (Microsoft Graph v1.0 provisioningObjectSummary, camelCase).

    .PARAMETER AsObject
    Emits the parsed result (a PSCustomObject) instead of the JSON string.

    .PARAMETER ComputerName
    Runs the sync on these sync servers through PowerShell remoting over WinRM (WSMan), in parallel.
    pybridge's engine and this module must be installed there. Each result says which computer produced
    it. WinRM remoting exists in PowerShell on Windows only: from Linux or macOS use -HostName (SSH) or
    -Session.

    .PARAMETER Credential
    The account used to connect to the computers given with -ComputerName. Default: the current user.

    .PARAMETER UseSSL
    Connects to -ComputerName over HTTPS (WinRM port 5986 unless -Port says otherwise).

    .PARAMETER Port
    The WinRM port on the computers given with -ComputerName, or the SSH port of the servers given
    with -HostName (default 22).

    .PARAMETER Authentication
    The remoting authentication mechanism (Default, Kerberos, Negotiate, CredSSP, ...) for -ComputerName.

    .PARAMETER ConfigurationName
    The session configuration (endpoint) to connect to on the computers given with -ComputerName, for
    example PowerShell.7, or an endpoint of your own that runs as a dedicated account. The endpoint must
    allow script blocks (FullLanguage): a JEA endpoint in NoLanguage mode cannot run the remote call.

    .PARAMETER HostName
    Runs the sync on these sync servers through PowerShell remoting over SSH, which PowerShell 7 has on
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
    Runs the sync in these existing PowerShell sessions (New-PSSession, over WinRM or SSH) instead of
    opening new ones. The sessions stay open.

    .PARAMETER ThrottleLimit
    How many computers are worked on at the same time (default 32, as Invoke-Command).

    .INPUTS
    System.String. A distinguished name, or any object with a DistinguishedName property.

    .OUTPUTS
    System.String. By default, the engine's JSON result, one string per object (per object and computer
    when remote). NoteProperties on the string: ReportPath (the HTML report on this machine, when one
    was written) and, for remote runs, ComputerName. The string itself is the engine's JSON unchanged.

    System.Management.Automation.PSCustomObject. With -AsObject, the parsed result, with ReportPath (on this
    machine), RemoteReportPath and ComputerName for remote runs.

    .EXAMPLE
    PS> $result = Invoke-ADSyncSingleObjectSync -DistinguishedName 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com' -NoHtmlReport -StagingMode | ConvertFrom-Json
    PS> $result.StatusInfo.Status
    PS> $result.ProvisioningSteps | Format-Table Name, Type, Status, Description

    The runbook pattern of the original cmdlet: a staging-mode run without HTML report, parsed with
    ConvertFrom-Json. Only the Import-Module path changes for pybridge.

    .EXAMPLE
    PS> Get-ADUser -Filter 'Department -eq "Sales"' | Invoke-ADSyncSingleObjectSync -StagingMode -AsObject |
    >>     Where-Object { $_.StatusInfo.Status -eq 'Failure' } |
    >>     Select-Object @{ n = 'Object'; e = { $_.SourceIdentity.Name } }, @{ n = 'Error'; e = { $_.StatusInfo.ErrorCode } }

    Checks every user of a department in staging mode and lists the ones that would fail, with the
    reason. Objects come from the pipeline through their DistinguishedName property.

    .EXAMPLE
    PS> Invoke-ADSyncSingleObjectSync 'CN=Smith\, John,OU=Users,OU=Corp,DC=contoso,DC=com' -WhatIf -Format Graph -AsObject

    A dry run: reads Active Directory and Entra ID, reports what would change, and writes nothing to Entra ID
    or to the local state. The result has Microsoft Graph's provisioningObjectSummary shape.

    .EXAMPLE
    PS> $dn = 'CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com'
    PS> Invoke-ADSyncSingleObjectSync $dn -ComputerName aadc01, aadc02 -Credential (Get-Credential) -StagingMode -ReportDirectory C:\Reports |
    >>     ForEach-Object { '{0}: {1}' -f $_.ComputerName, ($_ | ConvertFrom-Json).StatusInfo.Status }

    Runs the sync on two sync servers in parallel from a workstation. The JSON strings come back with a
    ComputerName NoteProperty; the HTML reports are copied to C:\Reports\aadc01 and C:\Reports\aadc02 and
    checked against the servers' SHA256.

    .EXAMPLE
    PS> Get-Content ./objects.txt | Invoke-ADSyncSingleObjectSync -HostName aadc01, aadc02 -UserName syncadmin -KeyFilePath ~/.ssh/id_ed25519 -StagingMode -AsObject -ErrorVariable failed |
    >>     Select-Object ComputerName, @{ n = 'Object'; e = { $_.SourceIdentity.Name } }, @{ n = 'Status'; e = { $_.StatusInfo.Status } }

    From Linux or macOS: checks a list of objects on two sync servers over SSH remoting. A server that
    cannot be reached, or lacks the module, is one error in $failed; the other server still answers.

    .EXAMPLE
    PS> Invoke-ADSyncSingleObjectSync -DistinguishedName $dn -ErrorAction Stop -ErrorVariable syncError

    Stops at a Failure result: the JSON is written first, then the error (ErrorId
    ADSyncSingleObjectSync.<ErrorCode>) is raised, with the recommended action in
    $syncError[0].ErrorDetails.RecommendedAction.

    .LINK
    Get-ADSyncScheduler

    .LINK
    Set-ADSyncScheduler

    .LINK
    about_ADSyncDiagnostics
    #>
    [CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'Local')]
    [OutputType([string], [pscustomobject])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string]
        $DistinguishedName,

        [switch]
        $StagingMode,

        [switch]
        $NoHtmlReport,

        [ValidateNotNullOrEmpty()]
        [string]
        $ConfigPath,

        [ValidateNotNullOrEmpty()]
        [string]
        $ReportDirectory,

        [ValidateSet('ADSync', 'Graph')]
        [string]
        $Format = 'ADSync',

        [switch]
        $AsObject,

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

    begin {
        $isRemote = $PSCmdlet.ParameterSetName -ne 'Local'
        $whatIf = [bool]$WhatIfPreference
        $pending = [System.Collections.Generic.List[string]]::new()
        # Piped objects share one engine process (the batch), opened when the second object arrives: a
        # single object, piped or not, runs exactly as it always has, in a process of its own.
        $held = $null
        $batch = $null

        $reportTo = $null
        if ($ReportDirectory) {
            $reportTo = Resolve-LocalPath -Path $ReportDirectory -SessionState $PSCmdlet.SessionState
        }
        if ($isRemote) {
            $where = switch ($PSCmdlet.ParameterSetName) {
                'Session' { @($Session | ForEach-Object { $_.ComputerName }) }
                'HostName' { $HostName }
                default { $ComputerName }
            }
            $where = ' on ' + ($where -join ', ')
        }
        else {
            $where = ''
            Assert-PyBridgeEngine -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncSingleObjectSync'
            $configArgument = $null
            if ($ConfigPath) {
                $configArgument = Resolve-LocalPath -Path $ConfigPath -SessionState $PSCmdlet.SessionState
            }
            # The options after the object, the same for one object and for a pipeline's batch.
            $engineOptions = @(
                '--format', $Format.ToLowerInvariant()
                '--progress', 'json'
            )
            if ($StagingMode) {
                $engineOptions += '--staging-mode'
            }
            if ($NoHtmlReport) {
                $engineOptions += '--no-html-report'
            }
            if ($whatIf) {
                $engineOptions += '--what-if'
            }
            if ($configArgument) {
                $engineOptions += '--config', $configArgument
            }
            if ($reportTo) {
                $engineOptions += '--report-dir', $reportTo
            }
        }
        if ($whatIf) {
            Write-Verbose 'WhatIf: the engine runs with --what-if: it reads Active Directory and Entra ID, reports what it would change, and writes nothing to Entra ID or to its local state.'
        }
    }

    process {
        if (-not $PSCmdlet.ShouldProcess("$DistinguishedName$where", 'Synchronize to Microsoft Entra ID') -and -not $whatIf) {
            return
        }
        if ($isRemote) {
            $pending.Add($DistinguishedName)
            return
        }

        if (-not $MyInvocation.ExpectingInput) {
            $engineArguments = @('sync', '--distinguished-name', (ConvertTo-EngineDistinguishedName -DistinguishedName $DistinguishedName)) + $engineOptions
            $run = Get-PyBridgeEngineResult -ArgumentList $engineArguments -Cmdlet $PSCmdlet -Activity "Single Object Sync: $DistinguishedName"
            Write-ADSyncObjectResult -DistinguishedName $DistinguishedName -Run $run -Cmdlet $PSCmdlet -AsObject:$AsObject
            return
        }

        if (-not $batch -and $null -eq $held) {
            $held = $DistinguishedName
            return
        }
        # A stopped pipeline (Ctrl+C, -ErrorAction Stop, Select-Object -First) leaves no engine behind.
        $completed = $false
        try {
            if (-not $batch) {
                $batch = Open-PyBridgeBatch -ArgumentList (@('sync', '--input', '-', '--input-format', 'json') + $engineOptions)
                Send-PyBridgeBatchObject -Batch $batch -DistinguishedName $held
                $held = $null
            }
            Send-PyBridgeBatchObject -Batch $batch -DistinguishedName $DistinguishedName
            # What is done so far, without waiting: the first results are out before the last object is in.
            foreach ($answer in @(Receive-PyBridgeBatchAnswer -Batch $batch -Cmdlet $PSCmdlet)) {
                Write-ADSyncObjectResult -DistinguishedName $answer.DistinguishedName -Run $answer -Cmdlet $PSCmdlet -AsObject:$AsObject
            }
            $completed = $true
        }
        finally {
            if (-not $completed) {
                Close-PyBridgeBatch -Batch $batch -Stop
            }
        }
    }

    end {
        if (-not $isRemote) {
            if ($null -ne $held) {
                # One object from the pipeline: its own process, as ever.
                $engineArguments = @('sync', '--distinguished-name', (ConvertTo-EngineDistinguishedName -DistinguishedName $held)) + $engineOptions
                $run = Get-PyBridgeEngineResult -ArgumentList $engineArguments -Cmdlet $PSCmdlet -Activity "Single Object Sync: $held"
                Write-ADSyncObjectResult -DistinguishedName $held -Run $run -Cmdlet $PSCmdlet -AsObject:$AsObject
            }
            elseif ($batch) {
                $completed = $false
                try {
                    # No more objects: the engine finishes those it has and exits; each result is written as it comes.
                    Close-PyBridgeBatch -Batch $batch
                    while ($batch.Emitted -lt $batch.Sent.Count) {
                        foreach ($answer in @(Receive-PyBridgeBatchAnswer -Batch $batch -Cmdlet $PSCmdlet -WaitMilliseconds 250)) {
                            Write-ADSyncObjectResult -DistinguishedName $answer.DistinguishedName -Run $answer -Cmdlet $PSCmdlet -AsObject:$AsObject
                        }
                    }
                    # Every object answered: the engine's last lines (its summary), then its exit.
                    $deadline = [DateTime]::UtcNow.AddSeconds(30)
                    while (-not $batch.Finished -and [DateTime]::UtcNow -lt $deadline) {
                        $null = Receive-PyBridgeBatchAnswer -Batch $batch -Cmdlet $PSCmdlet -WaitMilliseconds 250
                    }
                    $completed = $batch.Finished
                }
                finally {
                    Close-PyBridgeBatch -Batch $batch -Stop:(-not $completed)
                }
            }
            return
        }
        if ($pending.Count -eq 0) {
            return
        }
        if (-not $reportTo -and -not $NoHtmlReport) {
            $reportTo = Get-DefaultReportDirectory
        }

        # Plain values only: they cross to the server serialized (a [switch] would arrive as a property bag).
        $parameters = @{ Format = $Format; StagingMode = [bool]$StagingMode; NoHtmlReport = [bool]$NoHtmlReport; Confirm = $false }
        if ($ConfigPath) {
            $parameters['ConfigPath'] = $ConfigPath
        }
        if ($whatIf) {
            $parameters['WhatIf'] = $true
        }
        if ($VerbosePreference -ne 'SilentlyContinue') {
            $parameters['Verbose'] = $true
        }

        $remote = Open-ADSyncRemoteSession -BoundParameters $PSBoundParameters -Cmdlet $PSCmdlet -ErrorIdPrefix 'ADSyncSingleObjectSync'
        try {
            foreach ($dn in $pending) {
                # A server without the module is dropped after its one error; none left, nothing to ask.
                if (@($remote.Sessions).Count -eq 0) {
                    break
                }
                $parameters['DistinguishedName'] = $dn
                $remoteCall = @{
                    Remote        = $remote
                    CommandName   = 'Invoke-ADSyncSingleObjectSync'
                    Parameters    = $parameters
                    ThrottleLimit = $ThrottleLimit
                    Cmdlet        = $PSCmdlet
                    ErrorIdPrefix = 'ADSyncSingleObjectSync'
                }
                # Every server's answer for this object; then each report is copied (a session is busy
                # until its command has finished), each result written, and then the servers' errors.
                $call = Invoke-ADSyncRemoteCommand @remoteCall
                foreach ($answer in @($call.Output)) {
                    if (-not $answer.PSObject.Properties['Json']) {
                        $answer
                        continue
                    }
                    $origin = @($remote.Sessions) | Where-Object { [string]$_.InstanceId -eq [string]$answer.RunspaceId } | Select-Object -First 1
                    if (-not $origin) {
                        $origin = @($remote.Sessions) | Where-Object { $_.ComputerName -eq $answer.PSComputerName } | Select-Object -First 1
                    }
                    $computer = if ($answer.PSComputerName) { $answer.PSComputerName } elseif ($origin) { $origin.ComputerName } else { $null }

                    $parsed = $null
                    if ($AsObject) {
                        $parse = Invoke-ADSyncContained -ScriptBlock { param($text) ConvertFrom-Json -InputObject $text } -ArgumentList $answer.Json
                        if ($parse.Failed) {
                            $record = New-ADSyncErrorRecord -Message "The result of '$dn' from $computer is not JSON: $($parse.Message)" `
                                -ErrorId 'ADSyncSingleObjectSync.InvalidEngineOutput' -Category InvalidResult -TargetObject $dn -Exception $parse.Exception
                            $PSCmdlet.WriteError($record)
                            continue
                        }
                        $parsed = $parse.Output[0]
                    }

                    $localReport = $null
                    $copyError = $null
                    if ($answer.ReportPath -and $answer.ReportSha256 -and $origin -and -not $NoHtmlReport) {
                        $copy = Invoke-ADSyncContained -ArgumentList $origin, $answer.ReportPath, $answer.ReportSha256, $reportTo -ScriptBlock {
                            param($from, $path, $hash, $destination)
                            Receive-ADSyncRemoteReport -Session $from -RemotePath $path -ExpectedHash $hash -Destination $destination
                        }
                        if ($copy.Failed) {
                            $copyError = New-ADSyncErrorRecord -Message "The HTML report of '$dn' was not copied from ${computer}: $($copy.Message)" `
                                -ErrorId 'ADSyncSingleObjectSync.ReportCopyFailed' -Category ReadError -TargetObject $answer.ReportPath `
                                -RecommendedAction "The sync result is valid; the report is still on $computer at $($answer.ReportPath)." -Exception $copy.Exception
                        }
                        else {
                            $localReport = [string]($copy.Output | Select-Object -Last 1)
                        }
                    }
                    New-SyncResultOutput -Json $answer.Json -Parsed $parsed -AsObject:$AsObject -ReportPath $localReport -RemoteReportPath $answer.ReportPath -ComputerName $computer
                    if ($copyError) {
                        $PSCmdlet.WriteError($copyError)
                    }
                }
                foreach ($record in @($call.Errors)) {
                    $PSCmdlet.WriteError($record)
                }
            }
        }
        finally {
            Close-ADSyncRemoteSession -Remote $remote
        }
    }
}
