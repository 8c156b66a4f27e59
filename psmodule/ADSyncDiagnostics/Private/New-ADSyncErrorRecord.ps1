function New-ADSyncErrorRecord {
    <#
    .SYNOPSIS
    Builds the ErrorRecord every function of this module writes: ErrorId, category, target, advice.

    .DESCRIPTION
    The one error path of the module. The caller passes the record to $PSCmdlet.WriteError (a
    non-terminating error: $? becomes $false and -ErrorAction applies) or to $PSCmdlet.ThrowTerminatingError.
    RecommendedAction goes to ErrorDetails.RecommendedAction, where PowerShell users look for it.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '',
        Justification = 'Builds an ErrorRecord in memory and returns it; it changes no state, so there is nothing to confirm.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory)]
        [string]
        $Message,

        [Parameter(Mandatory)]
        [string]
        $ErrorId,

        [System.Management.Automation.ErrorCategory]
        $Category = [System.Management.Automation.ErrorCategory]::InvalidOperation,

        [AllowNull()]
        [object]
        $TargetObject,

        [AllowNull()]
        [AllowEmptyString()]
        [string]
        $RecommendedAction,

        [AllowNull()]
        [System.Exception]
        $Exception
    )

    if (-not $Exception) {
        $Exception = [System.InvalidOperationException]::new($Message)
    }
    $record = [System.Management.Automation.ErrorRecord]::new($Exception, $ErrorId, $Category, $TargetObject)
    $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($Message)
    if ($RecommendedAction) {
        $record.ErrorDetails.RecommendedAction = $RecommendedAction
    }
    $record
}
