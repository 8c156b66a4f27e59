function Get-SyncResultStatus {
    <#
    .SYNOPSIS
    Reads status, error code, reason and recommended action from a result in either JSON shape.

    .DESCRIPTION
    Takes the parsed result (ConvertFrom-Json) of the 'adsync' shape (StatusInfo.Status Success, Failure
    or Skipped) or of the 'graph' shape (provisioningStatusInfo.status success, failure or skipped) and
    returns Status (Success, Failure or Skipped, as the adsync shape spells it), ErrorCode, Reason and
    RecommendedAction. A result with neither is reported with Status $null.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [object]
        $Result
    )

    $status = $null
    $errorCode = $null
    $reason = $null
    $recommendedAction = $null
    $info = $null
    if ($Result) {
        $info = $Result.PSObject.Properties['StatusInfo']
    }
    if ($info -and $info.Value) {
        $status = $info.Value.Status
        $errorCode = $info.Value.ErrorCode
        $reason = $info.Value.Reason
        $recommendedAction = $info.Value.RecommendedAction
    }
    elseif ($Result -and $Result.PSObject.Properties['provisioningStatusInfo'] -and $Result.provisioningStatusInfo) {
        $statusInfo = $Result.provisioningStatusInfo
        if ($statusInfo.status) {
            $text = [string]$statusInfo.status
            $status = $text.Substring(0, 1).ToUpperInvariant() + $text.Substring(1)
        }
        $errorInformation = $statusInfo.PSObject.Properties['errorInformation']
        if ($errorInformation -and $errorInformation.Value) {
            $errorCode = $errorInformation.Value.errorCode
            $reason = $errorInformation.Value.reason
            $recommendedAction = $errorInformation.Value.recommendedAction
        }
    }
    [pscustomobject]@{
        Status            = $status
        ErrorCode         = $errorCode
        Reason            = $reason
        RecommendedAction = $recommendedAction
    }
}
