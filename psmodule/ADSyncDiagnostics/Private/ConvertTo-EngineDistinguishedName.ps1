function ConvertTo-EngineDistinguishedName {
    <#
    .SYNOPSIS
    Writes a double quote inside a DN as its RFC 4514 hex escape (\22) before the DN goes to the engine.

    .DESCRIPTION
    The same DN to LDAP, but one Windows PowerShell 5.1 (and PowerShell before 7.3) can pass to a native
    program intact: their argument passing does not escape embedded double quotes, so
    'CN=Robert \"Bob\" Smith,...' would reach Python split into several arguments. Both an escaped quote
    (\") and a bare one become \22; an escaped backslash before a quote stays as it is. DNs without
    double quotes are returned unchanged.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]
        $DistinguishedName
    )

    if (-not $DistinguishedName.Contains('"')) {
        return $DistinguishedName
    }
    # An even run of backslashes (escaped backslashes) is kept; an optional escaping backslash and the
    # quote after it become \22.
    $DistinguishedName -replace '(?<!\\)((?:\\\\)*)\\?"', '$1\22'
}
