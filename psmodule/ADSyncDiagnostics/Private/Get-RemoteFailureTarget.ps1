function Get-RemoteFailureTarget {
    <#
    .SYNOPSIS
    The host a New-PSSession error record is about, or $null when the record does not say.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [object]
        $ErrorRecord
    )

    if (-not $ErrorRecord) {
        return $null
    }
    $target = $ErrorRecord.TargetObject
    if ($target) {
        foreach ($property in 'ConnectionInfo', 'Runspace') {
            $inner = $target.PSObject.Properties[$property]
            if ($inner -and $inner.Value) {
                $value = $inner.Value
                if ($property -eq 'Runspace' -and $value.PSObject.Properties['ConnectionInfo']) {
                    $value = $value.ConnectionInfo
                }
                if ($value.PSObject.Properties['ComputerName'] -and $value.ComputerName) {
                    return [string]$value.ComputerName
                }
            }
        }
        if ($target.PSObject.Properties['ComputerName'] -and $target.ComputerName) {
            return [string]$target.ComputerName
        }
        if ($target -is [string]) {
            return $target
        }
    }
    if ($ErrorRecord.Exception -and $ErrorRecord.Exception.Message -match '^\[([^\]]+)\]') {
        return $Matches[1]
    }
    $null
}
