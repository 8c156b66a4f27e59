# Runs on the sync server. A constant script block: its inputs arrive as -ArgumentList values, never as
# text spliced into code. It loads this module by GUID (Microsoft's ADSyncDiagnostics has the same name),
# runs the named public function with the given parameters, and returns each JSON string result together
# with its report's path and SHA256 so that the caller can copy the report and check the copy.
$script:RemoteCommandScript = {
    param($ModuleSpecification, $CommandName, $Parameters)

    $module = Get-Module -FullyQualifiedName $ModuleSpecification | Select-Object -First 1
    if (-not $module) {
        try {
            $module = Import-Module -FullyQualifiedName $ModuleSpecification -PassThru -ErrorAction Stop | Select-Object -First 1
        }
        catch {
            throw ("pybridge's ADSyncDiagnostics module (GUID {0}, version {1} or later) is not installed on {2}: {3} Install it there as docs/powershell.md describes." -f $ModuleSpecification.Guid, $ModuleSpecification.ModuleVersion, [Environment]::MachineName, $_.Exception.Message)
        }
    }
    $command = $module.ExportedCommands[$CommandName]
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

function Invoke-ADSyncRemoteCommand {
    <#
    .SYNOPSIS
    Runs one of this module's public functions on sync servers through PowerShell remoting.

    .DESCRIPTION
    Invoke-Command with the constant script block above, -ArgumentList for every value, and all sessions
    at once (in parallel, up to -ThrottleLimit). Output comes back as it is produced, each object with
    PSComputerName and RunspaceId; errors, warnings, verbose messages and progress from the server come
    back through Invoke-Command's own streams.
    #>
    [CmdletBinding()]
    param(
        # PSSession objects (typed loosely so that tests can stand in for them)
        [Parameter(Mandatory)]
        [object[]]
        $Session,

        [Parameter(Mandatory)]
        [ValidateSet('Invoke-ADSyncSingleObjectSync', 'Get-ADSyncScheduler', 'Set-ADSyncScheduler')]
        [string]
        $CommandName,

        [Parameter(Mandatory)]
        [hashtable]
        $Parameters,

        [int]
        $ThrottleLimit = 32
    )

    $invocation = @{
        Session       = $Session
        ScriptBlock   = $script:RemoteCommandScript
        ArgumentList  = @($script:ModuleSpecification, $CommandName, $Parameters)
        ThrottleLimit = $ThrottleLimit
    }
    Invoke-Command @invocation
}
