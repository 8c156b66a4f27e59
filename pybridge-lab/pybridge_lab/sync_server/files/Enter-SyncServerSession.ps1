# Runs at the start of every PowerShell session of the lab's test sync server (ScriptsToProcess of its session
# configurations): the server's system drive, C:, is a folder on Linux ($env:PYBRIDGE_LAB_SYSTEM_DRIVE), so that
# Windows paths such as C:\Program Files\Microsoft Azure AD Sync\Bin\ADSyncDiagnostics\ADSyncDiagnostics.psm1
# mean what they mean on a sync server. (A session starts without a drive C:; any error here breaks the session.)
$null = New-PSDrive -Name C -PSProvider FileSystem -Root $env:PYBRIDGE_LAB_SYSTEM_DRIVE -Scope Global
