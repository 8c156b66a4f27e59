# Read-PyBridgeReport: one chunk of the HTML report of Single Object Sync, for pybridge's report transfer.
# Sent as a constant script; every value arrives as a bound parameter. Every chunk carries the SHA-256
# of the whole file, so the client can check the copy and notice a file that changed during the transfer.
# Without -Path it picks the newest report written since -Since in -Directory (default: where Microsoft's
# cmdlet writes them), because Microsoft's cmdlet does not return the report's path.
# Output: one compressed JSON string {Path, Length, Sha256, Offset, Data (base64)}.
[CmdletBinding()]
param(
    [string]$Path,
    [string]$Directory,
    [string]$Since,
    [long]$Offset = 0,
    [int]$Count = 262144
)
$ErrorActionPreference = 'Stop'
if (-not $Path) {
    if (-not $Directory) { $Directory = Join-Path $env:ProgramData 'AADConnect\ADSyncObjectDiagnostics' }
    # -Since is the cmdlet's own StartTime (the server's clock, UTC); a time without a zone is UTC.
    $styles = [Globalization.DateTimeStyles]'AssumeUniversal, AdjustToUniversal'
    $after = [datetime]::MinValue
    if ($Since -and -not [datetime]::TryParse($Since, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$after)) {
        $null = [datetime]::TryParse($Since, [Globalization.CultureInfo]::CurrentCulture, $styles, [ref]$after)
    }
    $newest = Get-ChildItem -LiteralPath $Directory -Filter 'ADSyncSingleObjectSyncResult-*.htm' -File |
        Where-Object { $_.LastWriteTimeUtc -ge $after } | Sort-Object LastWriteTimeUtc | Select-Object -Last 1
    if (-not $newest) { throw "No report was written in $Directory since $Since" }
    $Path = $newest.FullName
}
$item = Get-Item -LiteralPath $Path
$stream = [IO.File]::Open($item.FullName, 'Open', 'Read', 'Read')
try {
    $sha = [Security.Cryptography.SHA256]::Create()
    $hash = [BitConverter]::ToString($sha.ComputeHash($stream)).Replace('-', '')
    $size = [Math]::Max([long]0, [Math]::Min([long]$Count, $stream.Length - $Offset))
    $buffer = New-Object byte[] $size
    $null = $stream.Seek($Offset, 'Begin')
    $read = 0
    while ($read -lt $size) {
        $n = $stream.Read($buffer, $read, $size - $read)
        if ($n -le 0) { break }
        $read += $n
    }
} finally {
    $stream.Dispose()
}
ConvertTo-Json -Compress -InputObject ([ordered]@{
    Path = $item.FullName
    Length = $item.Length
    Sha256 = $hash
    Offset = $Offset
    Data = [Convert]::ToBase64String($buffer, 0, $read)
})
