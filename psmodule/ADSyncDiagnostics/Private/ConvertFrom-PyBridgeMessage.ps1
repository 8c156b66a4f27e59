function ConvertFrom-PyBridgeMessage {
    <#
    .SYNOPSIS
    Classifies one line the engine wrote to stderr.

    .DESCRIPTION
    Kind is 'Progress', 'Report' or 'Done' (Data holds the parsed JSON; 'Done' is a batch's
    'PYBRIDGE-DONE {"object": N, "exit": c}'), 'Warning' (from 'pybridge: WARNING: '),
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
    if ($text -cmatch '^PYBRIDGE-(PROGRESS|REPORT|DONE) (\{.*\})$') {
        $name = $Matches[1]
        $payload = $Matches[2]
        $found = 'Done'
        if ($name -eq 'PROGRESS') {
            $found = 'Progress'
        }
        elseif ($name -eq 'REPORT') {
            $found = 'Report'
        }
        try {
            $data = $payload | ConvertFrom-Json -ErrorAction Stop
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
