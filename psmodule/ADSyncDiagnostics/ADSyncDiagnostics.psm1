# ADSyncDiagnostics (pybridge): loads the private helpers, then the public functions (one per file, named
# after the file), and exports exactly the public ones. The manifest's FunctionsToExport lists the same names.
$manifest = Import-PowerShellDataFile -Path (Join-Path -Path $PSScriptRoot -ChildPath 'ADSyncDiagnostics.psd1')

# How a remote call finds this module on a sync server, and not Microsoft's module of the same name:
# by GUID, at this version or later (the parameters it is called with exist from this version on).
$script:ModuleSpecification = @{
    ModuleName    = 'ADSyncDiagnostics'
    Guid          = $manifest.GUID
    ModuleVersion = $manifest.ModuleVersion
}

# The engine found by Resolve-PyBridgeEngine, kept for the session.
$script:PyBridgeEngine = $null

foreach ($folder in 'Private', 'Public') {
    $files = @(Get-ChildItem -Path (Join-Path -Path $PSScriptRoot -ChildPath $folder) -Filter '*.ps1' -File)
    foreach ($file in $files) {
        . $file.FullName
    }
}

$publicFunctions = @(Get-ChildItem -Path (Join-Path -Path $PSScriptRoot -ChildPath 'Public') -Filter '*.ps1' -File |
        ForEach-Object { $_.BaseName })
Export-ModuleMember -Function $publicFunctions
