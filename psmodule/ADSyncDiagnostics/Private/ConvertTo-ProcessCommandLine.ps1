function ConvertTo-ProcessCommandLine {
    <#
    .SYNOPSIS
    Joins an argument array into the one command line Windows passes to a program, each argument quoted so
    that the program's C runtime (Python's too) splits it back into the same array.

    .DESCRIPTION
    Only for Windows PowerShell 5.1, whose .NET has no ProcessStartInfo.ArgumentList. The rules are
    CommandLineToArgvW's: an argument without white space or double quotes is written as it is; any other
    is enclosed in double quotes, a double quote inside is written \", and backslashes are doubled where
    they precede a double quote (an inner one or the closing one). The array comes from the module, never
    from code: nothing here is run, only joined.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [AllowEmptyCollection()]
        [string[]]
        $ArgumentList
    )

    $backslash = [char]92
    $parts = foreach ($argument in $ArgumentList) {
        if ($argument.Length -gt 0 -and $argument -notmatch '[\s"]') {
            $argument
            continue
        }
        $quoted = [System.Text.StringBuilder]::new()
        $null = $quoted.Append('"')
        $backslashes = 0
        foreach ($character in $argument.ToCharArray()) {
            if ($character -eq $backslash) {
                $backslashes++
                continue
            }
            if ($character -eq '"') {
                $null = $quoted.Append($backslash, 2 * $backslashes + 1)
            }
            elseif ($backslashes -gt 0) {
                $null = $quoted.Append($backslash, $backslashes)
            }
            $backslashes = 0
            $null = $quoted.Append($character)
        }
        $null = $quoted.Append($backslash, 2 * $backslashes)
        $null = $quoted.Append('"')
        $quoted.ToString()
    }
    @($parts) -join ' '
}
