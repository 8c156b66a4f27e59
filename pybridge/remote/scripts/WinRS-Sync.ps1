# pybridge over WinRS, Single Object Sync: import the module, run Invoke-ADSyncSingleObjectSync with the
# decoded values as parameters, and sort what it wrote into output, errors and warnings.
try {
    $p = ConvertFrom-PyBridgeInput (@($input) -join '')
    $envelope.Stage = 'ImportModule'
    Import-Module -Name ([string]$p.ModulePath) -ErrorAction Stop
    $envelope.Stage = 'Invoke'
    $arguments = @{ DistinguishedName = [string]$p.DistinguishedName }
    if ($p.StagingMode) { $arguments.StagingMode = $true }
    if ($p.NoHtmlReport) { $arguments.NoHtmlReport = $true }
    foreach ($item in @(Invoke-ADSyncSingleObjectSync @arguments 2>&1 3>&1)) {
        if ($item -is [Management.Automation.ErrorRecord]) { $envelope.Errors += ConvertTo-PyBridgeError $item }
        elseif ($item -is [Management.Automation.WarningRecord]) { $envelope.Warnings += [string]$item.Message }
        else { $envelope.Output += [string]$item }
    }
    $envelope.Stage = 'Done'
} catch {
    $envelope.Errors += ConvertTo-PyBridgeError $_
}
Write-PyBridgeResult $envelope
