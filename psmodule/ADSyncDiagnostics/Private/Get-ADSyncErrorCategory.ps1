function Get-ADSyncErrorCategory {
    <#
    .SYNOPSIS
    Maps an engine ErrorCode to the PowerShell ErrorCategory of the error record.

    .DESCRIPTION
    One table, read by the tests too (its codes must be codes the engine knows). A code missing from the
    table is InvalidOperation. ObjectNotAccessible is ObjectNotFound because Active Directory answers
    "no such object" both when the object is missing and when the connector account may not read it.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorCategory])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]
        $ErrorCode
    )

    $table = @{
        'ConfigurationError'           = 'InvalidArgument'
        'InvalidDistinguishedName'     = 'InvalidArgument'
        'PartitionNotInScope'          = 'ObjectNotFound'
        'EntraConnectorNotConfigured'  = 'NotEnabled'
        'AuthenticationFailed'         = 'AuthenticationError'
        'LdapAuthenticationFailed'     = 'AuthenticationError'
        'TenantNotFound'               = 'ObjectNotFound'
        'ObjectNotAccessible'          = 'ObjectNotFound'
        'LdapServerUnavailable'        = 'ConnectionError'
        'GraphUnavailable'             = 'ConnectionError'
        'LdapTlsValidationFailed'      = 'SecurityError'
        'GraphAuthorizationFailed'     = 'PermissionDenied'
        'AttributeValueMustBeUnique'   = 'ResourceExists'
        'InvalidSoftMatch'             = 'ResourceExists'
        'IdentityDataValidationFailed' = 'InvalidData'
        'GraphBadRequest'              = 'InvalidData'
        'SourceAnchorMissing'          = 'InvalidData'
        'UnsupportedObjectType'        = 'InvalidType'
        'GraphResourceNotFound'        = 'ObjectNotFound'
        'GraphServiceError'            = 'ResourceUnavailable'
        'Throttled'                    = 'LimitsExceeded'
        'ExportNotConfirmed'           = 'WriteError'
        'StateStoreError'              = 'ResourceUnavailable'
        'no-start-ma-already-running'  = 'ResourceBusy'
        'InternalError'                = 'NotSpecified'
    }
    $name = 'InvalidOperation'
    if ($ErrorCode -and $table.ContainsKey($ErrorCode)) {
        $name = $table[$ErrorCode]
    }
    [System.Management.Automation.ErrorCategory]$name
}
