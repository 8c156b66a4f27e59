function Test-WSManMissing {
    <#
    .SYNOPSIS
    True when New-PSSession failed because this PowerShell has no WSMan client (Linux, macOS).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [object[]]
        $ErrorRecord
    )

    if ($PSVersionTable.PSEdition -ne 'Core' -or $IsWindows) {
        return $false
    }
    foreach ($record in $ErrorRecord) {
        $exception = $record.Exception
        while ($exception) {
            if ($exception -is [System.DllNotFoundException] -or $exception -is [System.EntryPointNotFoundException] -or
                $exception -is [System.TypeInitializationException]) {
                return $true
            }
            $exception = $exception.InnerException
        }
    }
    $false
}
