function ConvertFrom-SchedulerSetting {
    <#
    .SYNOPSIS
    Turns the engine's scheduler JSON into the object Get-ADSyncScheduler returns, typed as the original's.

    .DESCRIPTION
    Intervals ('00:30:00', '7.00:00:00') become TimeSpan, CustomizedSyncCycleInterval stays $null when
    unset, NextSyncCycleStartTimeInUTC becomes a UTC DateTime, the flags stay Boolean. The properties keep
    the engine's (and the original's) order; the type name is the original's, for format views.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string]
        $Json
    )

    $settings = $Json | ConvertFrom-Json -ErrorAction Stop
    $culture = [System.Globalization.CultureInfo]::InvariantCulture
    $typed = [ordered]@{
        PSTypeName = 'Microsoft.IdentityManagement.PowerShell.ObjectModel.SchedulerSettings'
    }
    foreach ($property in $settings.PSObject.Properties) {
        $value = $property.Value
        if ($property.Name -like '*Interval' -and $null -ne $value) {
            $value = [TimeSpan]::Parse([string]$value, $culture)
        }
        elseif ($property.Name -eq 'NextSyncCycleStartTimeInUTC' -and $null -ne $value) {
            if ($value -is [datetime]) {
                $value = $value.ToUniversalTime()
            }
            else {
                $styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
                $value = [datetime]::Parse([string]$value, $culture, $styles)
            }
        }
        $typed[$property.Name] = $value
    }
    [pscustomobject]$typed
}
