# asr-s2d:post-failover-runbook v1
<#
.SYNOPSIS
    Recovery-plan post-action: tells the asr-s2d function app that a failover of this plan finished.
.DESCRIPTION
    Azure Automation runbook (PowerShell 7.2, Az modules). Add it to a Site Recovery recovery plan as a
    post-action of Group 1 (see README.md beside the scripts). ASR passes RecoveryPlanContext as an
    object; a test run from the portal may pass the same context as a JSON string.
    The function URL and key come from the Automation variables AsrS2dFunctionUrl and AsrS2dFunctionKey
    (the key encrypted); the key is never written to the output. The call is retried with backoff; if
    it still fails the runbook throws, so the recovery plan shows the step as failed.
#>
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNull()]
    [object]$RecoveryPlanContext
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$maxAttempts = 4  # the first call and three retries
$contextFields = @('RecoveryPlanName', 'FailoverType', 'FailoverDirection', 'GroupId', 'VmMap')

$context = $RecoveryPlanContext
if ($context -is [string]) { $context = ConvertFrom-Json -InputObject $context }
$payload = [ordered]@{}
foreach ($fieldName in $contextFields) {
    if ($context -is [System.Collections.IDictionary]) {
        if (-not $context.Contains($fieldName)) { throw ('RecoveryPlanContext has no ' + $fieldName) }
        $payload[$fieldName] = $context[$fieldName]
    }
    else {
        $property = $context.PSObject.Properties[$fieldName]
        if ($null -eq $property) { throw ('RecoveryPlanContext has no ' + $fieldName) }
        $payload[$fieldName] = $property.Value
    }
}
$body = $payload | ConvertTo-Json -Compress -Depth 10
Write-Output ('recovery plan {0}: {1} failover, {2}, group {3}' -f
    $payload.RecoveryPlanName, $payload.FailoverType, $payload.FailoverDirection, $payload.GroupId)

# The system-assigned identity of the Automation account; Run As accounts are retired.
$null = Disable-AzContextAutosave -Scope Process
$null = Connect-AzAccount -Identity

$url = [string](Get-AutomationVariable -Name 'AsrS2dFunctionUrl')
$key = [string](Get-AutomationVariable -Name 'AsrS2dFunctionKey')
if (-not $url.StartsWith('https://', [System.StringComparison]::OrdinalIgnoreCase)) {
    throw 'the Automation variable AsrS2dFunctionUrl must hold an https:// URL'
}
if (-not $key) { throw 'the Automation variable AsrS2dFunctionKey is empty' }
$headers = @{ 'x-functions-key' = $key }

$response = $null
for ($attempt = 1; $attempt -le $maxAttempts; $attempt++) {
    try {
        $response = Invoke-RestMethod -Method Post -Uri $url -Headers $headers -Body $body -ContentType 'application/json' -TimeoutSec 230
        break
    }
    catch {
        $status = 0
        $httpResponse = $_.Exception.PSObject.Properties['Response']
        if ($null -ne $httpResponse -and $null -ne $httpResponse.Value) { $status = [int]$httpResponse.Value.StatusCode }
        # A wrong key or a rejected context will not get better by asking again.
        $retryable = $status -eq 0 -or $status -eq 408 -or $status -eq 429 -or $status -ge 500
        if (-not $retryable -or $attempt -eq $maxAttempts) {
            throw ('asr-s2d post-failover call failed after {0} attempt(s), HTTP {1}: {2}' -f $attempt, $status, $_.Exception.Message)
        }
        $delay = 10 * [math]::Pow(2, $attempt - 1)
        Write-Warning ('attempt {0} failed (HTTP {1}); retrying in {2} s' -f $attempt, $status, $delay)
        Start-Sleep -Seconds $delay
    }
}
Write-Output ($response | ConvertTo-Json -Compress -Depth 10)
