# The lab's stand-in for Microsoft's ADSyncDiagnostics module, installed on the lab's test sync server where Entra
# Connect installs Microsoft's (C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics). It has only what
# Microsoft documents for Invoke-ADSyncSingleObjectSync (pybridge's REFERENCE.md): -DistinguishedName, -StagingMode
# and -NoHtmlReport; one JSON string (ConvertTo-Json -Depth 3 -Compress) without anything pybridge adds (no
# ReportPath, no ComputerName); the HTML report as ADSyncSingleObjectSyncResult-yyyyMMddHHmmss.htm in
# $env:ProgramData\AADConnect\ADSyncObjectDiagnostics. The sync itself is pybridge's engine ($env:PYBRIDGE_PYTHON
# -m pybridge, with the server's $env:PYBRIDGE_CONFIG), so that what a client does with Microsoft's module can be
# tried against the lab. It is part of the lab only; pybridge never ships it.
Set-StrictMode -Version 3.0

function Invoke-ADSyncSingleObjectSync {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string]
        $DistinguishedName,

        [switch]
        $StagingMode,

        [switch]
        $NoHtmlReport
    )

    # [Environment] rather than $env: - a JEA endpoint may hide the Environment provider from the session
    $python = [Environment]::GetEnvironmentVariable('PYBRIDGE_PYTHON')
    $configuration = [Environment]::GetEnvironmentVariable('PYBRIDGE_CONFIG')
    if (-not $python) {
        throw 'The sync engine of this server is not installed ($env:PYBRIDGE_PYTHON is not set).'
    }
    $reportFolder = Join-Path -Path ([Environment]::GetEnvironmentVariable('ProgramData')) -ChildPath 'AADConnect\ADSyncObjectDiagnostics'
    $arguments = @('-m', 'pybridge', 'sync', "--distinguished-name=$DistinguishedName", '--progress', 'none',
        '--report-dir', $reportFolder)
    if ($configuration) { $arguments += @('--config', $configuration) }
    if ($StagingMode) { $arguments += '--staging-mode' }
    if ($NoHtmlReport) { $arguments += '--no-html-report' }

    # The engine's stderr lines are data: its warnings become this cmdlet's warnings, the rest verbose text.
    $ErrorActionPreference = 'Continue'
    $json = $null
    & $python @arguments 2>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.ErrorRecord]) {
            $line = $_.Exception.Message
            if ($line.StartsWith('pybridge: WARNING: ')) { Write-Warning $line.Substring(19) }
            else { Write-Verbose $line }
        }
        elseif ("$_".StartsWith('{')) {
            $json = "$_"
        }
    }
    $exitCode = $LASTEXITCODE
    if (-not $json) {
        throw "Single Object Sync returned no result (the engine's exit code was $exitCode)."
    }

    $convert = @{ AsHashtable = $true }
    if ((Get-Command -Name ConvertFrom-Json).Parameters.ContainsKey('DateKind')) { $convert.DateKind = 'String' }
    $result = ConvertFrom-Json -InputObject $json @convert
    foreach ($addition in 'ReportPath', 'ComputerName') {
        if ($result.Contains($addition)) { $result.Remove($addition) }
    }
    Write-Output (ConvertTo-Json -InputObject $result -Depth 3 -Compress)
}

Export-ModuleMember -Function Invoke-ADSyncSingleObjectSync
