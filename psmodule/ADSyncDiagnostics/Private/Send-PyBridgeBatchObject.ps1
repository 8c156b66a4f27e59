function Send-PyBridgeBatchObject {
    <#
    .SYNOPSIS
    Hands one object to the batch's engine: its DN as one JSON string on one line of the engine's stdin.

    .DESCRIPTION
    The engine reads its stdin with '--input-format json', so a DN that is blank or holds a line end is
    still one object, and the engine answers every line with one result in the order sent. The DN goes
    as ConvertTo-EngineDistinguishedName gives it, as for one object. The object is recorded in the
    batch's Sent list whether or not it could be written: an engine that has gone (or never started) is
    reported for each object it did not answer when the batch is read to its end. A failed write is
    contained and leaves no error record behind.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]
        $Batch,

        [Parameter(Mandatory)]
        [string]
        $DistinguishedName
    )

    $number = $Batch.Sent.Count + 1
    $Batch.Sent.Add([pscustomobject]@{
            Number            = $number
            DistinguishedName = $DistinguishedName
            Json              = $null
            Done              = $false
            ExitCode          = $null
            Messages          = [System.Collections.Generic.List[string]]::new()
            ReportPath        = $null
            ProgressShown     = $false
        })
    if (-not $Batch.Input) {
        return
    }

    # One JSON string, written by hand: ConvertTo-Json in Windows PowerShell would serialise a string's
    # NoteProperties (Get-Content's PSPath, ...) as an object.
    $text = ConvertTo-EngineDistinguishedName -DistinguishedName $DistinguishedName
    $json = [System.Text.StringBuilder]::new('"')
    foreach ($character in $text.ToCharArray()) {
        $code = [int]$character
        if ($character -eq '"' -or $character -eq [char]92) {
            $null = $json.Append([char]92).Append($character)
        }
        elseif ($code -lt 32) {
            $null = $json.Append('\u').Append($code.ToString('x4'))
        }
        else {
            $null = $json.Append($character)
        }
    }
    $null = $json.Append('"').Append("`n")
    $bytes = [System.Text.UTF8Encoding]::new($false).GetBytes($json.ToString())

    $write = Invoke-ADSyncContained -ArgumentList $Batch.Input, $bytes -ScriptBlock {
        param($stream, $data)
        $stream.Write($data, 0, $data.Length)
        $stream.Flush()
    }
    if ($write.Failed) {
        Write-Verbose "Object $number could not be handed to the engine: $($write.Message)"
        $Batch.Input = $null
    }
}
