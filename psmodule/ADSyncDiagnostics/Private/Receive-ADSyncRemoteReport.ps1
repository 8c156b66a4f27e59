function Receive-ADSyncRemoteReport {
    <#
    .SYNOPSIS
    Copies an HTML report from a sync server into the local report directory and checks the copy.

    .DESCRIPTION
    Copy-Item -FromSession into <Destination>\<computer>\ (reports from several servers written in the
    same second have the same name), then compares the local file's SHA256 with the one the server
    computed. Returns the local path. Throws when the copy fails or the hashes differ (the partial copy
    is removed); the caller runs it through Invoke-ADSyncContained and turns a failure into one
    non-terminating error, since the sync itself is done.
    A -WhatIf dry run still brings its report back: the file operations here ignore -WhatIf and -Confirm.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        # a PSSession (typed loosely so that tests can stand in for it)
        [Parameter(Mandatory)]
        [object]
        $Session,

        [Parameter(Mandatory)]
        [string]
        $RemotePath,

        [Parameter(Mandatory)]
        [string]
        $ExpectedHash,

        [Parameter(Mandatory)]
        [string]
        $Destination
    )

    $folder = Join-Path -Path $Destination -ChildPath $Session.ComputerName
    $null = New-Item -Path $folder -ItemType Directory -Force -ErrorAction Stop -WhatIf:$false -Confirm:$false
    # The server's path uses its own separators: take the name after the last \ or /.
    $name = ($RemotePath -split '[\\/]')[-1]
    $localPath = Join-Path -Path $folder -ChildPath $name
    Copy-Item -FromSession $Session -LiteralPath $RemotePath -Destination $localPath -Force -ErrorAction Stop -WhatIf:$false -Confirm:$false
    $actual = (Get-FileHash -LiteralPath $localPath -Algorithm SHA256 -ErrorAction Stop).Hash
    if ($actual -ne $ExpectedHash) {
        Remove-Item -LiteralPath $localPath -Force -ErrorAction Ignore -WhatIf:$false -Confirm:$false
        throw ("The copy of {0} from {1} has SHA256 {2}, the server's file {3}; the copy was removed." -f $RemotePath, $Session.ComputerName, $actual, $ExpectedHash)
    }
    $localPath
}
