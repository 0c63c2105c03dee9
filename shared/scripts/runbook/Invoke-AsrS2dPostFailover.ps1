# asr-s2d:post-failover-runbook v2
<#
.SYNOPSIS
    Recovery-plan post-action: tells the asr-s2d function app that a failover of this plan finished, and waits
    until the app has moved the cluster IP.
.DESCRIPTION
    Azure Automation runbook (PowerShell 7.2, Az modules). Add it to a Site Recovery recovery plan as a
    post-action of Group 1 (see README.md beside the scripts). ASR passes RecoveryPlanContext as an
    object; a test run from the portal may pass the same context as a JSON string.
    The function URL and key come from the Automation variables AsrS2dFunctionUrl and AsrS2dFunctionKey
    (the key encrypted; a function key of on_recovery_plan_runbook, whose route answers both the POST and the
    status polls); the key is never written to the output, and is sent only to the app's own host over https.
    The app answers 202 Accepted at once, with a status URL (Location) and Retry-After; the runbook polls
    that URL with the same key until the answer is final: 200 (done, unchanged, ignored) succeeds; 400
    (rejected), 500 (failed) or no final answer within TimeoutMinutes throws with the app's reason, so the
    recovery plan shows the step as failed. The POST and each poll are retried on timeouts, 408, 429
    and other 5xx answers.
#>
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNull()]
    [object]$RecoveryPlanContext,

    [Parameter(Mandatory = $false)]
    [ValidateRange(1, 180)]
    [int]$TimeoutMinutes = 60
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$maxAttempts = 4  # the POST: the first call and three retries
$maxPollErrors = 10  # polls in a row without an answer before the runbook gives up
$defaultRetryAfter = 10  # seconds, when the app sends no usable Retry-After
$maxRetryAfter = 300
$contextFields = @('RecoveryPlanName', 'FailoverType', 'FailoverDirection', 'GroupId', 'VmMap')
$deadline = [datetime]::UtcNow.AddMinutes($TimeoutMinutes)

# One HTTP call, never throwing on the status: @{ Status (0: no answer); Body; Headers }.
function Invoke-AsrS2dCall {
    param([hashtable]$Request)
    $status = 0
    $answerHeaders = $null
    try {
        $answer = Invoke-RestMethod @Request -SkipHttpErrorCheck -StatusCodeVariable 'status' -ResponseHeadersVariable 'answerHeaders' -TimeoutSec 230
    }
    catch {
        return @{ Status = 0; Body = $_.Exception.Message; Headers = $null }
    }
    return @{ Status = [int]$status; Body = $answer; Headers = $answerHeaders }
}

function Get-HeaderValue {
    param([object]$Headers, [string]$Name)
    if ($null -eq $Headers) { return '' }
    foreach ($entry in $Headers.GetEnumerator()) {
        if ($entry.Key -eq $Name) { return [string]($entry.Value | Select-Object -First 1) }
    }
    return ''
}

function Get-AnswerField {
    param([object]$Body, [string]$Name)
    if ($null -eq $Body -or $Body -is [string]) { return '' }
    $property = $Body.PSObject.Properties[$Name]
    if ($null -eq $property) { return '' }
    return [string]$property.Value
}

# What the app says, for the job's output and for a failure's message.
function Get-Reason {
    param([hashtable]$Call)
    $reason = Get-AnswerField -Body $Call.Body -Name 'reason'
    if (-not $reason -and $Call.Body -is [string]) { $reason = $Call.Body }
    if ($reason.Length -gt 1000) { $reason = $reason.Substring(0, 1000) }
    return $reason
}

# Retry-After in seconds, within 1 .. maxRetryAfter and never past the deadline.
function Get-Wait {
    param([hashtable]$Call)
    $seconds = 0
    if (-not [int]::TryParse((Get-HeaderValue -Headers $Call.Headers -Name 'Retry-After'), [ref]$seconds) -or $seconds -lt 1) {
        $seconds = $defaultRetryAfter
    }
    $left = [int][math]::Ceiling(($deadline - [datetime]::UtcNow).TotalSeconds)
    return [math]::Max(1, [math]::Min([math]::Min($seconds, $maxRetryAfter), $left))
}

# No answer, 408, 429 or 5xx: worth another try; but a 500 that carries an outcome is the app's final "failed".
function Test-Transient {
    param([hashtable]$Call)
    $status = $Call.Status
    if ($status -eq 500 -and (Get-AnswerField -Body $Call.Body -Name 'outcome')) { return $false }
    return $status -eq 0 -or $status -eq 408 -or $status -eq 429 -or $status -ge 500
}

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

# 1. POST the context: the app answers 202 Accepted with where to poll.
$call = $null
for ($attempt = 1; $attempt -le $maxAttempts; $attempt++) {
    $call = Invoke-AsrS2dCall -Request @{ Method = 'Post'; Uri = $url; Headers = $headers; Body = $body; ContentType = 'application/json' }
    # A wrong key or a rejected context will not get better by asking again.
    if (-not (Test-Transient -Call $call)) { break }
    if ($attempt -eq $maxAttempts) {
        throw ('asr-s2d post-failover call failed after {0} attempt(s), HTTP {1}: {2}' -f $attempt, $call.Status, (Get-Reason -Call $call))
    }
    $delay = 10 * [math]::Pow(2, $attempt - 1)
    Write-Warning ('attempt {0} failed (HTTP {1}); retrying in {2} s' -f $attempt, $call.Status, $delay)
    Start-Sleep -Seconds $delay
}
if ($call.Status -ne 202 -and $call.Status -ne 200) {
    throw ('asr-s2d refused the post-failover call, HTTP {0}: {1}' -f $call.Status, (Get-Reason -Call $call))
}

# 2. Poll the status URL until a final answer, honouring Retry-After, until the deadline.
if ($call.Status -eq 202) {
    $location = Get-HeaderValue -Headers $call.Headers -Name 'Location'
    if (-not $location) { $location = Get-AnswerField -Body $call.Body -Name 'status_url' }
    if (-not $location) { throw 'asr-s2d answered 202 without a status URL (Location)' }
    $statusUri = [System.Uri]::new([System.Uri]$url, $location)
    # The key goes only back to the app that issued the URL, and only over TLS.
    if ($statusUri.Scheme -ne 'https' -or $statusUri.Host -ne ([System.Uri]$url).Host) {
        throw 'asr-s2d answered with a status URL on another host or without https: refusing to send the key there'
    }
    Write-Output ('accepted: {0}' -f (Get-Reason -Call $call))
    $pollErrors = 0
    while ($call.Status -eq 202 -or (Test-Transient -Call $call)) {
        if ([datetime]::UtcNow -ge $deadline) {
            throw ('asr-s2d did not finish by {0:u} (TimeoutMinutes), last HTTP {1}: {2}' -f $deadline, $call.Status, (Get-Reason -Call $call))
        }
        Start-Sleep -Seconds (Get-Wait -Call $call)
        $call = Invoke-AsrS2dCall -Request @{ Method = 'Get'; Uri = $statusUri; Headers = $headers }
        if (Test-Transient -Call $call) {
            $pollErrors++
            if ($pollErrors -ge $maxPollErrors) {
                throw ('asr-s2d status URL failed {0} times in a row, last HTTP {1}: {2}' -f $pollErrors, $call.Status, (Get-Reason -Call $call))
            }
            Write-Warning ('status poll failed (HTTP {0}); polling again' -f $call.Status)
        }
        else {
            $pollErrors = 0
        }
    }
    if ($call.Status -eq 401 -or $call.Status -eq 403) {
        throw ('the status URL refused the key (HTTP {0}): check AsrS2dFunctionKey against the function keys of on_recovery_plan_runbook' -f $call.Status)
    }
    if ($call.Status -ne 200) {
        throw ('asr-s2d failover step ended HTTP {0}, {1}: {2}' -f $call.Status, (Get-AnswerField -Body $call.Body -Name 'outcome'), (Get-Reason -Call $call))
    }
}
Write-Output ($call.Body | ConvertTo-Json -Compress -Depth 10)
