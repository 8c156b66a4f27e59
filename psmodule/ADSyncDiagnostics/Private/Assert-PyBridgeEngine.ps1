function Assert-PyBridgeEngine {
    <#
    .SYNOPSIS
    Stops the calling cmdlet with an actionable error when the local pybridge engine cannot be found.

    .DESCRIPTION
    Called once in a public function's begin block, before any object is processed: without the engine
    nothing can run, so this is a terminating error (ErrorId '<prefix>.EngineNotFound', ObjectNotFound).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]
        $Cmdlet,

        [Parameter(Mandatory)]
        [string]
        $ErrorIdPrefix
    )

    # Contained: the search's own failures (a candidate that is not there, a probe that fails) are not
    # errors of the caller; only the one EngineNotFound record is.
    $search = Invoke-ADSyncContained -ScriptBlock { Resolve-PyBridgeEngine }
    if ($search.Failed) {
        $record = New-ADSyncErrorRecord -Message $search.Message -ErrorId "$ErrorIdPrefix.EngineNotFound" `
            -Category ObjectNotFound -TargetObject 'pybridge' `
            -RecommendedAction 'Install Python 3.10+ and pybridge on this computer, or set $env:PYBRIDGE_PYTHON to its python executable; or run on a sync server with -HostName, -ComputerName or -Session.'
        $Cmdlet.ThrowTerminatingError($record)
    }
}
