# pybridge over WinRS, common part: WinRS can only start a command line, so pybridge sends constant scripts
# as -EncodedCommand and every value on stdin as one line of base64 JSON, decoded here and bound as
# parameters (splatting) - never spliced into code. The answer leaves on stdout as one line
# 'PYBRIDGE-RESULT:' + base64 JSON {Stage, Output[], Errors[{Message, ErrorId, Category}], Warnings[]},
# so that console code pages and whatever the module writes to the host cannot garble it.
$ProgressPreference = 'SilentlyContinue'
$envelope = [ordered]@{ Stage = 'Input'; Output = @(); Errors = @(); Warnings = @() }
function ConvertFrom-PyBridgeInput([string]$Text) {
    [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Text.Trim())) | ConvertFrom-Json
}
function ConvertTo-PyBridgeError($Record) {
    @{ Message = [string]$Record; ErrorId = [string]$Record.FullyQualifiedErrorId; Category = [string]$Record.CategoryInfo.Category }
}
function Write-PyBridgeResult($Envelope) {
    $json = ConvertTo-Json -InputObject $Envelope -Depth 4 -Compress
    [Console]::Out.WriteLine('PYBRIDGE-RESULT:' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))
}
