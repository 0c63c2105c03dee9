"""The PowerShell scripts, checked statically (PowerShell cannot run here), and the checker itself.

The scripts run as SYSTEM on cluster nodes with values that may come from tags (DESIGN.md rule 11), so
the checker in tests/scriptcheck.py must provably fail on hostile variants; the second half of this
module feeds it those and asserts each one is caught, and feeds it look-alikes that must not be.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scriptcheck import Loop, check_script, functions, loops, script_parameters

SCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "scripts"
SET_CLUSTER_IP = SCRIPTS / "set_cluster_ip.ps1"
CLUSTER_HEALTH = SCRIPTS / "cluster_health.ps1"
RUNBOOK = SCRIPTS / "runbook" / "Invoke-AsrS2dPostFailover.ps1"

SHIPPED = [
    pytest.param(SET_CLUSTER_IP, "# asr-s2d:set-cluster-ip v3", (), id="set_cluster_ip"),
    pytest.param(CLUSTER_HEALTH, "# asr-s2d:cluster-health v2", (), id="cluster_health"),
    pytest.param(RUNBOOK, "# asr-s2d:post-failover-runbook v2", ("Invoke-RestMethod",), id="runbook"),
]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def rules(problems: list[str]) -> set[str]:
    return {problem.split(":", 1)[0] for problem in problems}


def code_lines(text: str) -> str:
    """The script without comment-based help and line comments, for the shape assertions below."""
    text = re.sub(r"<#.*?#>", "", text, flags=re.DOTALL)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


# --- the shipped scripts -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "marker", "allow"), SHIPPED)
def test_shipped_script_passes_the_checker(path: Path, marker: str, allow: tuple[str, ...]) -> None:
    assert check_script(read(path), allow=allow) == []


@pytest.mark.parametrize(("path", "marker", "allow"), SHIPPED)
def test_first_line_is_the_marker_the_guest_model_recognises(path: Path, marker: str, allow: tuple[str, ...]) -> None:
    assert read(path).splitlines()[0] == marker


def test_runbook_is_the_only_script_allowed_to_call_out() -> None:
    assert "forbidden: line" in " ".join(check_script(read(RUNBOOK)))
    assert rules(check_script(read(RUNBOOK))) == {"forbidden"}


@pytest.mark.parametrize(
    ("path", "names"),
    [
        # The app passes exactly these names in the Run Command request's `parameters` list.
        (SET_CLUSTER_IP, ["IPAddress", "ProbePort", "SubnetPrefix", "RoleAddresses"]),
        (CLUSTER_HEALTH, []),
        (RUNBOOK, ["RecoveryPlanContext", "TimeoutMinutes"]),
    ],
)
def test_declared_parameters(path: Path, names: list[str]) -> None:
    assert [p.name for p in script_parameters(read(path))] == names


def test_set_cluster_ip_is_small() -> None:
    assert len(read(SET_CLUSTER_IP).splitlines()) <= 180  # v3 moves role IPs too (issue 18)


def _validate_pattern(name: str) -> re.Pattern[str]:
    (parameter,) = [p for p in script_parameters(read(SET_CLUSTER_IP)) if p.name == name]
    match = re.search(r"\[ValidatePattern\('((?:[^']|'')*)'\)\]", parameter.declaration)
    assert match, f"${name} has no ValidatePattern"
    # ValidatePattern is Regex.IsMatch with IgnoreCase; these patterns mean the same in .NET and Python.
    return re.compile(match.group(1).replace("''", "'"), flags=re.IGNORECASE)


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("IPAddress", "10.20.1.10", True),
        ("IPAddress", "255.255.255.255", True),
        ("IPAddress", "0.0.0.0", True),
        ("IPAddress", "10.20.1.256", False),
        ("IPAddress", "10.20.1", False),
        ("IPAddress", "010.20.1.10", False),
        ("IPAddress", "10.20.1.10/24", False),
        ("IPAddress", "10.20.1.10; Remove-Item C:\\", False),
        ("IPAddress", "$(Invoke-Expression x)", False),
        ("IPAddress", "", False),
        ("SubnetPrefix", "10.20.1.0/24", True),
        ("SubnetPrefix", "10.0.0.0/8", True),
        ("SubnetPrefix", "10.20.1.0/32", True),
        ("SubnetPrefix", "10.20.1.0", False),
        ("SubnetPrefix", "10.20.1.0/33", False),
        ("SubnetPrefix", "10.20.1.0/24;whoami", False),
        ("SubnetPrefix", "10.20.1.0/24 x", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:59998", True),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:1,10.10.1.12=10.20.1.12:65535", True),
        ("RoleAddresses", ",".join(f"10.10.1.{i}=10.20.1.{i}:59998" for i in range(16)), True),
        ("RoleAddresses", ",".join(f"10.10.1.{i}=10.20.1.{i}:59998" for i in range(17)), False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:0", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:65536", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:059998", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.256:59998", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:59998,", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:59998;whoami", False),
        ("RoleAddresses", "10.10.1.11=10.20.1.11:59998 10.10.1.12=10.20.1.12:59998", False),
        ("RoleAddresses", "$(whoami)=10.20.1.11:59998", False),
        ("RoleAddresses", "", False),
    ],
)
def test_set_cluster_ip_validates_its_text_parameters(name: str, value: str, accepted: bool) -> None:
    assert (_validate_pattern(name).search(value) is not None) is accepted


def test_set_cluster_ip_parameter_sets() -> None:
    """Either the core pair (RoleAddresses optional) or RoleAddresses alone; SubnetPrefix always (issue 18)."""
    declared = {p.name: re.sub(r"\s+", " ", p.declaration) for p in script_parameters(read(SET_CLUSTER_IP))}
    assert "[CmdletBinding(DefaultParameterSetName = 'Roles')]" in read(SET_CLUSTER_IP)
    for name in ("IPAddress", "ProbePort"):
        assert "[Parameter(ParameterSetName = 'Core', Mandatory = $true)]" in declared[name], name
    assert "[Parameter(Mandatory = $true)]" in declared["SubnetPrefix"]
    assert "[Parameter(ParameterSetName = 'Core')] [Parameter(ParameterSetName = 'Roles', Mandatory = $true)]" \
        in declared["RoleAddresses"]


def test_the_emulator_binds_what_the_script_declares() -> None:
    from emulator.providers.compute import guest_scripts

    signature = guest_scripts._SCRIPTS["set-cluster-ip"][1]
    assert read(SET_CLUSTER_IP).splitlines()[0].endswith(f"v{guest_scripts._SCRIPTS['set-cluster-ip'][2]}")
    assert list(signature.kinds) == [p.name for p in script_parameters(read(SET_CLUSTER_IP))]
    for name, kind in signature.kinds.items():
        if not kind.startswith("int:"):
            assert _validate_pattern(name).pattern == kind, name


def test_set_cluster_ip_probe_port_is_a_validated_int() -> None:
    (probe,) = [p for p in script_parameters(read(SET_CLUSTER_IP)) if p.name == "ProbePort"]
    assert re.search(r"\[ValidateRange\(1,\s*65535\)\]\s*\[int\]\$ProbePort", probe.declaration)


def test_set_cluster_ip_moves_the_ip_as_design_rule_10_says() -> None:
    code = code_lines(read(SET_CLUSTER_IP))
    assert re.search(r"Get-ClusterResource -Name \$name \| Set-ClusterParameter .*-Multiple @\{", code)
    for assignment in (r"Address = \$target\.To", r"ProbePort = \$target\.Port", r"SubnetMask = '255\.255\.255\.255'",
                       r"Network = \$network\.Name", r"EnableDhcp = 0"):
        assert re.search(assignment, code), assignment
    for command in ("Get-ClusterNetwork", "Get-ClusterParameter", "Import-Module FailoverClusters"):
        assert command in code, command
    # Stop the IP (its dependents go with it), set it, then start its whole group (issue 18's contract).
    order = [code.index(c) for c in ("Stop-ClusterResource -Name $name", "Set-ClusterParameter",
                                     "Start-ClusterGroup -Name $groupName")]
    assert order == sorted(order)
    assert "Start-ClusterResource" not in code
    assert "'IP Address'" in code
    assert "'Distributed Network Name'" in code


def test_set_cluster_ip_output_contract() -> None:
    code = code_lines(read(SET_CLUSTER_IP))
    for status in ("changed", "unchanged", "no-ip-resource", "failed"):
        assert f"'{status}'" in code, status
    for access_point in ("Singleton", "Distributed"):
        assert f"'{access_point}'" in code, access_point
    for key in ("status", "cluster", "access_point", "resources", "roles_without_ip", "reason"):
        assert re.search(rf"\b{key} = ", code), key
    for key in ("name", "group", "address_before", "address", "probe_port", "network", "state", "role_state"):
        assert re.search(rf"\b{key} = ", code), key
    assert code.rstrip().splitlines()[-2:] == ["$result | ConvertTo-Json -Compress -Depth 5", "exit $exitCode"]


def test_cluster_health_output_contract_and_size_budget() -> None:
    code = code_lines(read(CLUSTER_HEALTH))
    for key in ("cluster", "cluster_service", "nodes", "quorum", "state", "has_quorum", "witness", "type", "pool",
                "health", "virtual_disks", "csv", "ip_resources", "address", "truncated", "errors",
                "group", "probe_port", "roles", "owner", "resources", "account"):
        assert re.search(rf"\b{key} = ", code), key
    for role_type in ("'Cluster'", "'ScaleoutFileServer'", "'SqlServer'", "'Generic'", "'AvailableStorage'"):
        assert role_type in code, role_type
    for witness in ("'Cloud'", "'Disk'", "'FileShare'", "'None'"):
        assert witness in code
    assert "Get-StoragePool -IsPrimordial $false" in code
    assert "(Get-Service -Name ClusSvc).Status" in code
    budget = re.search(r"\$maxBytes = (\d+)", code)
    assert budget and int(budget.group(1)) <= 4096
    assert "UTF8.GetByteCount" in code


def test_cluster_health_only_reads() -> None:
    code = code_lines(read(CLUSTER_HEALTH))
    verbs = re.findall(r"(?<![\w-])(Set|Stop|Start|Remove|New|Add|Suspend|Resume|Move|Clear|Update|Repair|Enable|"
                       r"Disable|Reset|Restart|Invoke)-(?!StrictMode\b|Problem\b)\w+", code)
    assert verbs == []


def test_runbook_shape() -> None:
    code = code_lines(read(RUNBOOK))
    assert re.search(r"param\(\s*\[Parameter\(Mandatory = \$true\)\]\s*\[ValidateNotNull\(\)\]\s*"
                     r"\[object\]\$RecoveryPlanContext,\s*", code)
    assert "Connect-AzAccount -Identity" in code
    assert "Get-AutomationConnection" not in code and "AzureRunAsConnection" not in code
    assert "Get-AutomationVariable -Name 'AsrS2dFunctionUrl'" in code
    assert "Get-AutomationVariable -Name 'AsrS2dFunctionKey'" in code
    assert "$headers = @{ 'x-functions-key' = $key }" in code
    assert "ConvertFrom-Json" in code
    for field_name in ("RecoveryPlanName", "FailoverType", "FailoverDirection", "GroupId", "VmMap"):
        assert f"'{field_name}'" in code
    # One place calls out, never throwing on a status (the callers decide), with a bounded wait per call.
    call = functions(read(RUNBOOK))["Invoke-AsrS2dCall"]
    assert re.search(r"Invoke-RestMethod @Request -SkipHttpErrorCheck -StatusCodeVariable 'status' "
                     r"-ResponseHeadersVariable 'answerHeaders' -TimeoutSec \d+", call)
    assert code.count("Invoke-RestMethod") == 1


def _loop_calling(method: str) -> Loop:
    (loop,) = [lp for lp in loops(read(RUNBOOK)) if f"Method = '{method}'" in lp.body]
    return loop


def test_runbook_posts_the_context_with_bounded_retries() -> None:
    post = _loop_calling("Post")
    assert post.keyword == "for" and re.fullmatch(r"\$attempt = 1; \$attempt -le \$maxAttempts; \$attempt\+\+",
                                                   post.condition)
    assert re.search(r"\$maxAttempts = 4\b", read(RUNBOOK))
    assert "Uri = $url; Headers = $headers; Body = $body" in post.body
    assert "if (-not (Test-Transient -Call $call)) { break }" in post.body  # 400, 401: at once
    assert "throw" in post.body and "Start-Sleep" in post.body
    # Neither 202 nor 200: the app refused (a rejected context, a wrong key): the runbook fails.
    assert re.search(r"if \(\$call\.Status -ne 202 -and \$call\.Status -ne 200\) \{\s*throw", read(RUNBOOK))


def test_runbook_polls_the_status_url_until_a_final_answer() -> None:
    text = read(RUNBOOK)
    code = code_lines(text)
    poll = _loop_calling("Get")
    # Where to poll: the 202's Location header (else the body's status_url), resolved against the function URL, and
    # the key goes there only over https to the app's own host.
    assert "Get-HeaderValue -Headers $call.Headers -Name 'Location'" in code
    assert "Get-AnswerField -Body $call.Body -Name 'status_url'" in code
    assert "$statusUri = [System.Uri]::new([System.Uri]$url, $location)" in code
    assert re.search(r"if \(\$statusUri\.Scheme -ne 'https' -or \$statusUri\.Host -ne \(\[System\.Uri\]\$url\)\.Host\) "
                     r"\{\s*throw", code)
    assert "Method = 'Get'; Uri = $statusUri; Headers = $headers" in poll.body  # the same key header
    # While the app says 202 (or the poll got no answer): keep polling; a final answer ends the loop.
    assert poll.keyword == "while" and poll.condition == "$call.Status -eq 202 -or (Test-Transient -Call $call)"
    # 400 (rejected) and 500 (failed) fail the runbook with the outcome's reason; 200 succeeds.
    after = code[code.index(poll.body) + len(poll.body):]
    assert re.search(r"if \(\$call\.Status -ne 200\) \{\s*throw \(.*Get-Reason -Call \$call", after)


def test_runbook_honours_retry_after_and_ends_by_its_deadline() -> None:
    text = read(RUNBOOK)
    poll = _loop_calling("Get")
    (timeout,) = [p for p in script_parameters(text) if p.name == "TimeoutMinutes"]
    assert re.search(r"\[ValidateRange\(1, 180\)\]\s*\[int\]\$TimeoutMinutes = 60", timeout.declaration)
    assert "$deadline = [datetime]::UtcNow.AddMinutes($TimeoutMinutes)" in text
    # Bounded: the loop throws once the deadline has passed, and after too many failed polls in a row.
    assert re.search(r"if \(\[datetime\]::UtcNow -ge \$deadline\) \{\s*throw", poll.body)
    assert re.search(r"if \(\$pollErrors -ge \$maxPollErrors\) \{\s*throw", poll.body)
    assert "$pollErrors = 0" in poll.body  # in a row: an answer resets the count
    # It waits what Retry-After says, within 1 s .. $maxRetryAfter and never past the deadline.
    assert "Start-Sleep -Seconds (Get-Wait -Call $call)" in poll.body
    wait = functions(text)["Get-Wait"]
    assert "Get-HeaderValue -Headers $Call.Headers -Name 'Retry-After'" in wait
    assert "[int]::TryParse(" in wait and "$seconds = $defaultRetryAfter" in wait
    assert "[math]::Max(1, [math]::Min([math]::Min($seconds, $maxRetryAfter), $left))" in wait
    assert "($deadline - [datetime]::UtcNow).TotalSeconds" in wait
    assert re.search(r"\$maxRetryAfter = \d+", text) and re.search(r"\$defaultRetryAfter = \d+", text)
    # Headers are matched by name whatever their case (PowerShell's -eq), the first value of each.
    assert "if ($entry.Key -eq $Name)" in functions(text)["Get-HeaderValue"]


def test_runbook_retries_only_what_asking_again_can_fix() -> None:
    transient = functions(read(RUNBOOK))["Test-Transient"]
    # No answer, 408, 429 and 5xx; but a 500 carrying the app's outcome is its final "failed".
    assert "if ($status -eq 500 -and (Get-AnswerField -Body $Call.Body -Name 'outcome')) { return $false }" in transient
    assert "return $status -eq 0 -or $status -eq 408 -or $status -eq 429 -or $status -ge 500" in transient


def test_runbook_reads_the_answer_under_strict_mode() -> None:
    """Strict mode throws on a missing property: the app's answer is read through PSObject.Properties."""
    field = functions(read(RUNBOOK))["Get-AnswerField"]
    assert "$property = $Body.PSObject.Properties[$Name]" in field
    assert re.search(r"\$\w+\.Body\.\w+", code_lines(read(RUNBOOK))) is None


# --- the checker can fail ------------------------------------------------------------------------------

MINIMAL = """\
# asr-s2d:test v1
param(
    [ValidatePattern('^[0-9.]+$')]
    [string]$IPAddress,
    [ValidateRange(1, 65535)]
    [int]$ProbePort
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
{body}
@{ address = $IPAddress; probe_port = $ProbePort } | ConvertTo-Json -Compress
"""


def minimal(body: str) -> str:
    return MINIMAL.replace("{body}", body)


def test_minimal_script_is_clean() -> None:
    assert check_script(minimal("")) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param('Invoke-Expression "Set-ClusterParameter Address=$IPAddress"', {"forbidden", "interpolation"},
                     id="invoke-expression-with-parameter"),
        pytest.param('Write-Output "probe $($ProbePort)"', {"interpolation"}, id="subexpression"),
        pytest.param("iex $command", {"forbidden"}, id="iex"),
        pytest.param("IEX($command)", {"forbidden"}, id="iex-uppercase"),
        pytest.param("Microsoft.PowerShell.Utility\\Invoke-Expression $command", {"forbidden"}, id="module-qualified"),
        pytest.param('$x = "address ${IPAddress}"', {"interpolation"}, id="braced-variable"),
        pytest.param('$x = "address $script:IPAddress"', {"interpolation"}, id="scoped-variable"),
        pytest.param('$x = "all: $PSBoundParameters"', {"interpolation"}, id="bound-parameters"),
        pytest.param('$x = "a $($a + "b $IPAddress")"', {"interpolation"}, id="nested-string"),
        pytest.param('$x = \u201caddress $IPAddress\u201d', {"interpolation", "non-ascii"}, id="typographic-quotes"),
        pytest.param('$x = @"\nSet-ClusterParameter Address=$IPAddress\n"@', {"interpolation"}, id="here-string"),
        pytest.param("Set-Foo -Name ip$IPAddress", {"interpolation"}, id="bare-word"),
        pytest.param("$x = '{0}' -f $IPAddress", {"format-operator"}, id="format-operator"),
        pytest.param("$x = 'a {0} {1}' -f\n    $count, $ProbePort", {"format-operator"}, id="format-next-line"),
        pytest.param('$x = "$(iex $command)"', {"forbidden"}, id="iex-inside-subexpression"),
        pytest.param("& $command", {"forbidden"}, id="call-operator"),
        pytest.param("&$command", {"forbidden"}, id="call-operator-no-space"),
        pytest.param("& ($commands[0])", {"forbidden"}, id="call-operator-expression"),
        pytest.param(". $path", {"forbidden"}, id="dot-source"),
        pytest.param("$sb = [scriptblock]::Create($text)", {"forbidden"}, id="scriptblock-create"),
        pytest.param("$sb = [System.Management.Automation.ScriptBlock] :: Create($t)", {"forbidden"}, id="sb-long"),
        pytest.param("Add-Type -TypeDefinition $source", {"forbidden"}, id="add-type"),
        pytest.param("Start-Process cluster.exe -ArgumentList $arguments", {"forbidden"}, id="start-process"),
        pytest.param("$p = New-Object System.Diagnostics.Process", {"forbidden"}, id="diagnostics-process"),
        pytest.param("[Diagnostics.Process]::Start('cluster.exe')", {"forbidden"}, id="process-start"),
        pytest.param("(New-Object Net.WebClient).DownloadString($u)", {"forbidden"}, id="download-string"),
        pytest.param("Invoke-WebRequest -Uri $u", {"forbidden"}, id="invoke-webrequest"),
        pytest.param("Invoke-RestMethod -Uri $u", {"forbidden"}, id="invoke-restmethod-not-allowed"),
        pytest.param("$ExecutionContext.InvokeCommand.ExpandString($t)", {"forbidden"}, id="expand-string"),
        pytest.param("cmd.exe /c $line", {"forbidden"}, id="cmd"),
        pytest.param("powershell -Command $line", {"forbidden"}, id="nested-powershell"),
        pytest.param("Invoke-Command -ScriptBlock $sb", {"forbidden"}, id="invoke-command"),
    ],
)
def test_checker_flags_hostile_code(body: str, expected: set[str]) -> None:
    problems = check_script(minimal(body))
    assert expected <= rules(problems), problems


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("while ($true) { Start-Sleep -Seconds 10 }", id="while-true"),
        pytest.param("while ( $TRUE ) { Start-Sleep -Seconds 10 }", id="while-true-spaced"),
        pytest.param("while (1) { }", id="while-1"),
        pytest.param("for (;;) { Start-Sleep -Seconds 10 }", id="for-ever"),
        pytest.param("for ($i = 0; ; $i++) { }", id="for-without-condition"),
        pytest.param("do { Start-Sleep -Seconds 10 } until ($false)", id="do-until-false"),
        pytest.param("do { Start-Sleep -Seconds 10 } while ($true)", id="do-while-true"),
    ],
)
def test_checker_flags_an_unbounded_loop(body: str) -> None:
    assert rules(check_script(minimal(body))) == {"unbounded-loop"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("while ([datetime]::UtcNow -lt $deadline) { Start-Sleep -Seconds 1 }", id="deadline"),
        pytest.param("for ($i = 0; $i -lt 3; $i++) { }", id="counted"),
        pytest.param("do { $i++ } until ($i -ge 3)", id="do-until"),
        pytest.param("# while ($true) { }\n$x = 'for (;;) { }'", id="comment-and-string"),
    ],
)
def test_checker_lets_a_bounded_loop_pass(body: str) -> None:
    assert check_script(minimal(body)) == []


def test_loops_and_functions_are_found_with_their_bodies() -> None:
    script = minimal("function Get-One {\n    param([int]$N)\n    while ($N -gt 0) { $N-- }\n}\n"
                     "do { $k++ } while ($k -lt 2)\nfor ($i = 0; $i -lt 2; $i++) { 'x' }")
    assert [(lp.keyword, lp.condition) for lp in loops(script)] == [
        ("while", "$N -gt 0"), ("do-while", "$k -lt 2"), ("for", "$i = 0; $i -lt 2; $i++")]
    assert loops(script)[0].body.strip() == "$N--" and loops(script)[1].body.strip() == "$k++"
    assert list(functions(script)) == ["Get-One"] and "param([int]$N)" in functions(script)["Get-One"]


def test_checker_flags_a_missing_marker() -> None:
    assert rules(check_script(minimal("").split("\n", 1)[1])) == {"marker"}
    assert "marker" in rules(check_script("# asr-s2d:set-cluster-ip\n" + minimal("").split("\n", 1)[1]))


def test_checker_flags_a_parameter_without_validation() -> None:
    script = minimal("").replace("    [ValidateRange(1, 65535)]\n", "")
    assert check_script(script) == ["unvalidated-parameter: $ProbePort has no [Validate*()] attribute"]


def test_checker_flags_an_untyped_parameter() -> None:
    script = minimal("").replace("[int]$ProbePort", "$ProbePort")
    assert rules(check_script(script)) == {"untyped-parameter"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Set-StrictMode -Version Latest\n", "", "strict-mode"),
        ("Set-StrictMode -Version Latest\n", "Set-StrictMode -Version 1\n", "strict-mode"),
        ("$ErrorActionPreference = 'Stop'\n", "", "error-action"),
        ("$ErrorActionPreference = 'Stop'\n", "# $ErrorActionPreference = 'Stop'\n", "error-action"),
        ("$ErrorActionPreference = 'Stop'\n", "$ErrorActionPreference = 'Continue'\n", "error-action"),
        ("| ConvertTo-Json -Compress\n", "| ConvertTo-Json\n", "json-output"),
        ("| ConvertTo-Json -Compress\n", "| ConvertTo-Json -Compress\nWrite-Host done\n", "json-output"),
        ("| ConvertTo-Json -Compress\n", "| Format-List # ConvertTo-Json -Compress\n", "json-output"),
    ],
)
def test_checker_flags_missing_guards_and_output(old: str, new: str, expected: str) -> None:
    script = minimal("").replace(old, new)
    assert script != minimal("")
    assert rules(check_script(script)) == {expected}


@pytest.mark.parametrize(
    ("anchor", "insert", "expected"),
    [
        ("$ErrorActionPreference = 'Stop'\n", 'Invoke-Expression "Set-ClusterParameter Address=$IPAddress"\n',
         {"forbidden", "interpolation"}),
        ("$ErrorActionPreference = 'Stop'\n", '$null = Get-ClusterResource -Name "IP $($RoleAddresses)"\n',
         {"interpolation"}),
        ("$ErrorActionPreference = 'Stop'\n", "$reason = 'no network {0}' -f $SubnetPrefix\n", {"format-operator"}),
        ("try {\n", "    iex ('Stop-ClusterResource ' + $RoleAddresses)\n", {"forbidden"}),
    ],
)
def test_checker_flags_hostile_edits_of_the_real_script(anchor: str, insert: str, expected: set[str]) -> None:
    text = read(SET_CLUSTER_IP)
    assert anchor in text
    hostile = text.replace(anchor, anchor + insert, 1)
    assert expected <= rules(check_script(hostile))


def test_checker_flags_the_real_script_losing_a_validation() -> None:
    text = read(SET_CLUSTER_IP)
    hostile = re.sub(r"    \[ValidatePattern\('[^']*'\)\]\n(?=    \[string\]\$RoleAddresses)", "", text, count=1)
    assert hostile != text
    assert check_script(hostile) == ["unvalidated-parameter: $RoleAddresses has no [Validate*()] attribute"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("# never Invoke-Expression \"$IPAddress\" or iex", id="comment"),
        pytest.param("<#\n Invoke-Expression, & $x, \"$IPAddress\"\n#>", id="block-comment"),
        pytest.param("$x = 'literal $IPAddress, iex, & $y'", id="single-quoted"),
        pytest.param("$x = @'\n\"$IPAddress\" Invoke-Expression\n'@", id="single-quoted-here-string"),
        pytest.param("Set-ClusterParameter -Name Address -Value $IPAddress", id="typed-argument"),
        pytest.param("Set-Foo -Multiple @{ Address = $IPAddress; ProbePort = $ProbePort }", id="hashtable-values"),
        pytest.param("$x = 'retry {0} of {1}' -f $attempt, $count", id="format-without-parameters"),
        pytest.param('$x = "node $name is $($node.State)"', id="expandable-without-parameters"),
        pytest.param("$n = 1..$count", id="range-operator"),
        pytest.param("$ok = ($flags -band 2) -eq 2", id="band"),
        pytest.param("$same = $entry.address -eq $IPAddress", id="comparison"),
    ],
)
def test_checker_does_not_cry_wolf(body: str) -> None:
    assert check_script(minimal(body)) == []


def test_allow_permits_only_what_it_names() -> None:
    script = minimal("Invoke-RestMethod -Uri $u\niex $x")
    assert check_script(script, allow=("Invoke-RestMethod",)) == ["forbidden: line 11: iex"]
    assert check_script(minimal("$p = New-Object System.Diagnostics.Process"), allow=("forbidden",)) == []
