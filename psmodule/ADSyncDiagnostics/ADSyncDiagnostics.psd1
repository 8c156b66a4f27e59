# Module manifest for pybridge's ADSyncDiagnostics: Single Object Sync backed by pybridge's Python engine.
# ModuleVersion is pybridge's version (pybridge/__init__.py __version__, the one source; tests/unit/test_packaging.py checks it).
@{
    RootModule           = 'ADSyncDiagnostics.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = 'ef34880e-b599-429d-901f-b04e5e45cc8f'
    Author               = 'pybridge contributors'
    CompanyName          = 'pybridge'
    Copyright            = '(c) pybridge contributors. MIT License.'
    Description          = 'Invoke-ADSyncSingleObjectSync, Get-ADSyncScheduler and Set-ADSyncScheduler for pybridge, an open re-implementation of Entra Connect Single Object Sync. Runs the pybridge engine locally or on sync servers through PowerShell remoting.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @(
        'Get-ADSyncScheduler'
        'Invoke-ADSyncSingleObjectSync'
        'Set-ADSyncScheduler'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('EntraID', 'AzureAD', 'EntraConnect', 'ADSync', 'ActiveDirectory', 'Sync', 'Windows', 'Linux', 'MacOS')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
