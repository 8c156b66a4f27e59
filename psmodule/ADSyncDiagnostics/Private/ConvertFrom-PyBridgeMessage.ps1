function ConvertFrom-PyBridgeMessage {
    <#
    .SYNOPSIS
    Classifies one line the engine wrote to stderr.

    .DESCRIPTION
    Kind is 'Progress' or 'Report' (Data holds the parsed JSON), 'Warning' (from 'pybridge: WARNING: '),
    or 'Message' (any other line; the 'pybridge: ' prefix is removed). A progress or report line whose
    JSON does not parse is kept as a Message rather than lost.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]
        $Line
    )

    $kind = 'Message'
    $data = $null
    $text = $Line.TrimEnd()
    if ($text -cmatch '^PYBRIDGE-(PROGRESS|REPORT) (\{.*\})$') {
        $found = if ($Matches[1] -eq 'PROGRESS') { 'Progress' } else { 'Report' }
        try {
            $data = $Matches[2] | ConvertFrom-Json -ErrorAction Stop
            $kind = $found
        }
        catch {
            $data = $null
        }
    }
    elseif ($text -cmatch '^pybridge: WARNING: (.*)$') {
        $kind = 'Warning'
        $text = $Matches[1]
    }
    elseif ($text -cmatch '^pybridge: (.*)$') {
        $text = $Matches[1]
    }
    [pscustomobject]@{ Kind = $kind; Text = $text; Data = $data }
}
