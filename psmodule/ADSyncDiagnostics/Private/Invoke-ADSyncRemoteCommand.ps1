# Runs on the sync server. A constant script block: its inputs arrive as -ArgumentList values, never as
# text spliced into code. It loads this module by GUID (Microsoft's ADSyncDiagnostics has the same name),
# runs the named public function with the given parameters, and returns each JSON string result together
# with its report's path and SHA256 so that the caller can copy the report and check the copy.
# It never throws: a terminating error on the server (the module missing, the engine missing) would end
# Invoke-Command on every server at once. Such a failure comes back as one object with an
# ADSyncRemoteFailure property instead, and the caller writes it as one non-terminating error for that
# server. Non-terminating errors of the function (a Failure result) come back as they are.
$script:RemoteCommandScript = {
    param($ModuleSpecification, $CommandName, $Parameters)

    $module = Get-Module -FullyQualifiedName $ModuleSpecification | Select-Object -First 1
    if (-not $module) {
        try {
            $module = Import-Module -FullyQualifiedName $ModuleSpecification -PassThru -ErrorAction Stop | Select-Object -First 1
        }
        catch {
            [pscustomobject]@{
                ADSyncRemoteFailure = 'ModuleNotFound'
                ErrorId             = 'ModuleNotFound'
                Category            = 'NotInstalled'
                Message             = "pybridge's ADSyncDiagnostics module (GUID {0}, version {1} or later) is not installed on {2}: {3}" -f $ModuleSpecification.Guid, $ModuleSpecification.ModuleVersion, [Environment]::MachineName, $_.Exception.Message
                RecommendedAction   = 'Install the module there, in a folder on PSModulePath of the account you connect with, as docs/powershell.md describes (Install on a sync server).'
            }
            return
        }
    }
    $command = $module.ExportedCommands[$CommandName]
    try {
        & $command @Parameters | ForEach-Object {
            if ($_ -is [string]) {
                $reportPath = $null
                $reportHash = $null
                $note = $_.PSObject.Properties['ReportPath']
                if ($note -and $note.Value -and (Test-Path -LiteralPath $note.Value)) {
                    $reportPath = [string]$note.Value
                    $reportHash = (Get-FileHash -LiteralPath $reportPath -Algorithm SHA256).Hash
                }
                [pscustomobject]@{ Json = [string]$_; ReportPath = $reportPath; ReportSha256 = $reportHash }
            }
            else {
                $_
            }
        }
    }
    catch {
        $details = $_.ErrorDetails
        [pscustomobject]@{
            ADSyncRemoteFailure = 'CommandFailed'
            ErrorId             = [string]$_.FullyQualifiedErrorId
            Category            = [string]$_.CategoryInfo.Category
            Message             = $_.ToString()
            RecommendedAction   = if ($details) { $details.RecommendedAction } else { $null }
            TargetObject        = if ($null -ne $_.TargetObject) { [string]$_.TargetObject } else { $null }
        }
    }
}

function Invoke-ADSyncRemoteCommand {
    <#
    .SYNOPSIS
    Runs one of this module's public functions on sync servers through PowerShell remoting.

    .DESCRIPTION
    Invoke-Command with the constant script block above, -ArgumentList for every value, and all open
    sessions of -Remote at once (in parallel, up to -ThrottleLimit). Returns, once every server has
    answered, Output (the servers' objects, each with PSComputerName and RunspaceId) and Errors (the
    error records the calling cmdlet is to write, after it has written the output).

    Waiting for the whole call matters twice: a session is busy until its command has finished, so the
    caller can copy a report only afterwards; and the call is contained (Invoke-ADSyncContained), so the
    servers' error records reach the caller's -ErrorVariable and $Error exactly once, when the cmdlet
    writes them, and warnings go through the cmdlet (-WarningVariable), each prefixed with its server.
    Progress and verbose messages from the servers go to the host as they come.

    A server-side failure object (see the script block) becomes one error record, its ErrorId kept when
    it is one of this module's (<prefix>.<Code>) and <prefix>.RemoteCommandFailed otherwise. A server
    without the module (<prefix>.ModuleNotFound) is also taken out of -Remote's sessions, so that later
    objects of the same call do not ask it again.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        # the object Open-ADSyncRemoteSession returned; its Sessions are PSSession objects (typed loosely so that tests can stand in for them)
        [Parameter(Mandatory)]
        [object]
        $Remote,

        [Parameter(Mandatory)]
        [ValidateSet('Invoke-ADSyncSingleObjectSync', 'Get-ADSyncScheduler', 'Set-ADSyncScheduler')]
        [string]
        $CommandName,

        [Parameter(Mandatory)]
        [hashtable]
        $Parameters,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [Parameter(Mandatory)]
        [ValidateSet('ADSyncSingleObjectSync', 'ADSyncScheduler')]
        [string]
        $ErrorIdPrefix,

        [int]
        $ThrottleLimit = 32
    )

    $output = [System.Collections.Generic.List[object]]::new()
    $errors = [System.Collections.Generic.List[System.Management.Automation.ErrorRecord]]::new()
    $sessions = @($Remote.Sessions)
    if ($sessions.Count -eq 0) {
        return [pscustomobject]@{ Output = $output.ToArray(); Errors = $errors.ToArray() }
    }
    $invocation = @{
        Session       = $sessions
        ScriptBlock   = $script:RemoteCommandScript
        ArgumentList  = @($script:ModuleSpecification, $CommandName, $Parameters)
        ThrottleLimit = $ThrottleLimit
    }
    $call = Invoke-ADSyncContained -ArgumentList $invocation -ScriptBlock {
        param($settings)
        $remoteErrors = $null
        $remoteWarnings = $null
        $answers = @(Invoke-Command @settings -ErrorAction SilentlyContinue -ErrorVariable remoteErrors -WarningAction SilentlyContinue -WarningVariable remoteWarnings)
        [pscustomobject]@{ Answers = $answers; Errors = @($remoteErrors); Warnings = @($remoteWarnings) }
    }
    if ($call.Failed) {
        $names = @($sessions | ForEach-Object { $_.ComputerName }) -join ', '
        $errors.Add((New-ADSyncErrorRecord -Message "The remote call to $names failed: $($call.Message)" -ErrorId "$ErrorIdPrefix.RemoteCommandFailed" `
                    -Category ConnectionError -TargetObject $names -Exception $call.Exception))
        return [pscustomobject]@{ Output = $output.ToArray(); Errors = $errors.ToArray() }
    }
    $answered = $call.Output[0]

    foreach ($warning in @($answered.Warnings)) {
        $origin = $null
        if ($warning.PSObject.Properties['OriginInfo'] -and $warning.OriginInfo) {
            $origin = $warning.OriginInfo.PSComputerName
        }
        $text = if ($origin) { "[$origin] $($warning.Message)" } else { [string]$warning.Message }
        $Cmdlet.WriteWarning($text)
    }
    foreach ($record in @($answered.Errors)) {
        if ($record) {
            $errors.Add($record)
        }
    }
    foreach ($answer in @($answered.Answers)) {
        if (-not ($answer.PSObject.Properties['ADSyncRemoteFailure'] -and $answer.ADSyncRemoteFailure)) {
            $output.Add($answer)
            continue
        }
        $computer = [string]$answer.PSComputerName
        $errorId = [string]$answer.ErrorId -replace ',.*$', ''
        if ($answer.ADSyncRemoteFailure -eq 'ModuleNotFound') {
            $errorId = "$ErrorIdPrefix.ModuleNotFound"
            $Remote.Sessions = @($Remote.Sessions | Where-Object { [string]$_.InstanceId -ne [string]$answer.RunspaceId })
        }
        elseif ($errorId -notlike "$ErrorIdPrefix.*") {
            $errorId = "$ErrorIdPrefix.RemoteCommandFailed"
        }
        $category = [string]$answer.Category -as [System.Management.Automation.ErrorCategory]
        if ($null -eq $category) {
            $category = [System.Management.Automation.ErrorCategory]::NotSpecified
        }
        $target = if ($answer.PSObject.Properties['TargetObject'] -and $answer.TargetObject) { $answer.TargetObject } else { $computer }
        $errors.Add((New-ADSyncErrorRecord -Message "[$computer] $($answer.Message)" -ErrorId $errorId -Category $category `
                    -TargetObject $target -RecommendedAction $answer.RecommendedAction))
    }
    [pscustomobject]@{ Output = $output.ToArray(); Errors = $errors.ToArray() }
}
