# pybridge over WinRS, report transfer: one chunk of the HTML report through Read-PyBridgeReport, which is
# defined before this script from Read-PyBridgeReport.ps1.
try {
    $p = ConvertFrom-PyBridgeInput (@($input) -join '')
    $envelope.Stage = 'ReadReport'
    $r = @{ Offset = [long]$p.Offset; Count = [int]$p.Count }
    foreach ($k in 'Path', 'Directory', 'Since') { if ($p.$k) { $r[$k] = [string]$p.$k } }
    $envelope.Output = @(Read-PyBridgeReport @r)
    $envelope.Stage = 'Done'
} catch {
    $envelope.Errors += ConvertTo-PyBridgeError $_
}
Write-PyBridgeResult $envelope
