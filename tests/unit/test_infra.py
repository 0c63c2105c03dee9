"""The deployment templates, read as text (no Bicep compiler is reachable from the build machines).

What is checked: the role is loaded from ``infra/role-actions.json``; every Event Grid trigger of the app has
one event subscription pointing at it, filtered to exactly the event type and operation names the app's
relevance code accepts, with retries and dead-lettering; every required setting of ``shared.config.Settings``
and every ``%SETTING%`` a binding names is an app setting; every app-setting name is a real setting; storage
allows no shared key and no public blob; the "What gets created" table of ``docs/deployment.md`` lists exactly
the resource types the templates declare; the parameters example and ``azure.yaml`` fit the template.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import MISSING, dataclass, fields
from functools import cache
from pathlib import Path

from shared import events
from shared.config import Settings
from shared.enrollment.service import WRITE_OPERATIONS
from shared.failover import signals

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
HOST_SETTINGS = {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential"}

_RESOURCE = re.compile(r"^resource (\w+) '([^'@]+)@([^']+)'( existing)? = (?:if \([^)]*\) |\[for [^:]+: )?\{", re.M)
_MODULE = re.compile(r"^module (\w+) '([^']+)' = (?:if \([^)]*\) |\[for [^:]+: )?\{", re.M)
_VAR_ARRAY = re.compile(r"^var (\w+) = \[\n(.*?)^\]", re.M | re.S)
_QUOTED = re.compile(r"'([^']*)'")


@dataclass(frozen=True)
class Declared:
    file: str
    symbol: str
    type: str
    existing: bool
    body: str


def _block(text: str, start: int) -> str:
    """The ``{...}`` block opening at ``text[start]``, braces balanced (quoted strings skipped)."""
    depth, i, quoted = 0, start, False
    while i < len(text):
        ch = text[i]
        if ch == "'" and text[i - 1] != "\\":
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
        i += 1
    raise AssertionError(f"unbalanced braces from offset {start}")


def _strip_comments(text: str) -> str:
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)


@cache
def bicep_files() -> dict[str, str]:
    return {str(p.relative_to(INFRA)): _strip_comments(p.read_text()) for p in sorted(INFRA.rglob("*.bicep"))}


@cache
def declared() -> tuple[Declared, ...]:
    out = []
    for name, text in bicep_files().items():
        for m in _RESOURCE.finditer(text):
            out.append(Declared(name, m.group(1), m.group(2), bool(m.group(4)), _block(text, m.end() - 1)))
    return tuple(out)


def of_type(resource_type: str) -> list[Declared]:
    return [d for d in declared() if d.type == resource_type and not d.existing]


def var_array(file: str, name: str) -> list[str]:
    arrays = {m.group(1): _QUOTED.findall(m.group(2)) for m in _VAR_ARRAY.finditer(bicep_files()[file])}
    assert name in arrays, f"{file}: no var {name} = [...]"
    return arrays[name]


def object_keys(block: str) -> set[str]:
    """The top-level keys of a Bicep object literal ``{ KEY: value ... }``."""
    inner, keys, depth = block.strip()[1:-1], set(), 0
    for line in inner.splitlines():
        if depth == 0:
            m = re.match(r"\s*'?([A-Za-z_][\w-]*)'?\s*:", line)
            if m:
                keys.add(m.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return keys


@cache
def indexed_bindings() -> dict[str, list[dict[str, object]]]:
    code = ("import json, function_app\n"
            "print(json.dumps({f.get_function_name(): json.loads(f.get_function_json())['bindings'] "
            "for f in function_app.app.get_functions()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def event_grid_triggers() -> list[str]:
    return sorted(name for name, bindings in indexed_bindings().items()
                  if any(b.get("type") == "eventGridTrigger" for b in bindings))


def subscription_for(function: str) -> Declared:
    found = [d for d in of_type("Microsoft.EventGrid/systemTopics/eventSubscriptions")
             if re.search(r"resourceId: '\$\{functionAppId\}/functions/" + function + "'", d.body)]
    assert len(found) == 1, f"{function}: {len(found)} event subscriptions point at it"
    return found[0]


# -- the role ------------------------------------------------------------------------------------------------

def test_the_role_is_exactly_role_actions_json() -> None:
    [role] = of_type("Microsoft.Authorization/roleDefinitions")
    assert role.file == "main.bicep"
    assert "actions: loadJsonContent('role-actions.json')" in role.body
    assert "notActions: []" in role.body and "dataActions" not in role.body
    assert isinstance(json.loads((INFRA / "role-actions.json").read_text()), list)


def test_the_role_is_assigned_at_the_allowed_subscriptions_and_the_vault_and_recovery_groups() -> None:
    main = bicep_files()["main.bicep"]
    assert re.search(r"module roleAtSubscription '[^']+' = \[for sub in allowedSubscriptionIds:", main)
    assert "var resourceGroupScopes = union([vaultResourceGroupId, recoveryResourceGroupId], additionalRoleScopes)" in main
    assert re.search(r"module roleAtResourceGroup '[^']+' = \[for \(groupId, i\) in resourceGroupScopes:", main)
    for module in ("modules/role-assignment-subscription.bicep", "modules/role-assignment-group.bicep"):
        text = bicep_files()[module]
        assert "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleName)" in text
        assert "principalType: 'ServicePrincipal'" in text


# -- Event Grid ------------------------------------------------------------------------------------------------

def test_every_event_grid_trigger_has_one_event_subscription_and_nothing_else_has_one() -> None:
    triggers = event_grid_triggers()
    assert triggers == ["on_failover_completed", "on_vm_tags_changed"]
    subs = of_type("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert len(subs) == len(triggers)
    for function in triggers:
        body = subscription_for(function).body
        assert "endpointType: 'AzureFunction'" in body and "maxEventsPerBatch: 1" in body


def _filter(function: str) -> tuple[list[str], list[str]]:
    body = subscription_for(function).body
    types = _QUOTED.findall(re.search(r"includedEventTypes: \[(.*?)\]", body, re.S).group(1))  # type: ignore[union-attr]
    assert re.search(r"operatorType: 'StringIn'\s+key: 'data.operationName'", body)
    values = re.search(r"values: (\w+)", body).group(1)  # type: ignore[union-attr]
    return types, var_array("modules/events.bicep", values)


def test_the_tag_subscription_passes_exactly_what_enrollment_accepts() -> None:
    types, operations = _filter("on_vm_tags_changed")
    assert types == ["Microsoft.Resources.ResourceWriteSuccess"]
    assert sorted(o.lower() for o in operations) == sorted(WRITE_OPERATIONS)
    assert len(operations) == len(set(operations))


def test_the_failover_subscription_passes_exactly_the_failover_actions_the_signals_accept() -> None:
    types, operations = _filter("on_failover_completed")
    assert types == [events.ACTION_EVENT]
    accepted = {f"{resource}/{action}/action" for resource in (signals._PLAN_OPERATION, signals._ITEM_OPERATION)
                for action in signals.ACTIONS}
    assert sorted(o.lower() for o in operations) == sorted(accepted)
    assert len(operations) <= 25  # Event Grid's limit of values per StringIn filter


def test_event_subscriptions_retry_for_a_day_and_dead_letter_with_the_topics_identity() -> None:
    events = bicep_files()["modules/events.bicep"]
    assert re.search(r"var retryPolicy = \{\s+maxDeliveryAttempts: 30\s+eventTimeToLiveInMinutes: 1440\s+\}", events)
    assert re.search(r"var deadLetter = \{\s+identity: \{ type: 'SystemAssigned' \}", events)
    assert "endpointType: 'StorageBlob'" in events
    for sub in of_type("Microsoft.EventGrid/systemTopics/eventSubscriptions"):
        assert "retryPolicy: retryPolicy" in sub.body and "deadLetterWithResourceIdentity: deadLetter" in sub.body
    [topic] = of_type("Microsoft.EventGrid/systemTopics")
    assert "topicType: 'Microsoft.Resources.Subscriptions'" in topic.body and "source: subscription().id" in topic.body
    assert "identity: { type: 'SystemAssigned' }" in topic.body
    access = bicep_files()["modules/dead-letter-access.bicep"]
    assert "scope: container" in access  # the dead-letter container only, not the account


# -- app settings ----------------------------------------------------------------------------------------------

def _settings_blocks() -> tuple[set[str], set[str], set[str]]:
    main = bicep_files()["main.bicep"]
    app_module = next(m for m in _MODULE.finditer(main) if m.group(1) == "app")
    params = _block(main, app_module.end() - 1)
    required = object_keys(_block(params, params.index("requiredSettings: {") + len("requiredSettings: ")))
    optional_at = params.index("optionalSettings: union(extraAppSettings, safety, {")
    optional = object_keys(_block(params, params.index("{", optional_at + len("optionalSettings: union("))))
    optional |= object_keys(_block(main, main.index("param safety object = {") + len("param safety object = ")))
    [config] = [d for d in of_type("Microsoft.Web/sites/config") if "name: 'appsettings'" in d.body]
    computed = object_keys(_block(config.body, config.body.index("requiredSettings, {") + len("requiredSettings, ")))
    return required, optional, computed


def test_every_required_setting_is_a_required_parameter_of_the_app_settings() -> None:
    required, _optional, _computed = _settings_blocks()
    expected = {f.metadata["env"] for f in fields(Settings) if f.default is MISSING}
    assert required == expected


def test_the_computed_settings_come_from_the_deployment_itself() -> None:
    _required, optional, computed = _settings_blocks()
    assert {"APP_PRINCIPAL_ID", "AZURE_CREDENTIAL", "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "STATE_STORAGE_ACCOUNT_URL", "STATE_CONTAINER"} <= computed
    [config] = [d for d in of_type("Microsoft.Web/sites/config") if "name: 'appsettings'" in d.body]
    assert "APP_PRINCIPAL_ID: site.identity.principalId" in config.body  # after the site exists: no cycle
    assert "AZURE_CREDENTIAL: 'managed_identity'" in config.body
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString" in config.body
    assert "STATE_STORAGE_ACCOUNT_URL: stateStorage.properties.primaryEndpoints.blob" in config.body
    assert {"DRIFT_AUDIT_SCHEDULE", "DRILL_SCHEDULE"} <= optional
    [site] = of_type("Microsoft.Web/sites")
    assert "appSettings" not in site.body  # the config resource holds (and replaces) all of them


def test_every_app_setting_name_is_a_setting_of_the_app_or_of_the_host() -> None:
    required, optional, computed = _settings_blocks()
    known = {f.metadata["env"] for f in fields(Settings)} | HOST_SETTINGS
    assert (required | optional | computed) - known == set()
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    assert set(example["extraAppSettings"]["value"]) <= known
    assert set(example["safety"]["value"]) <= known


def test_every_setting_a_binding_names_is_an_app_setting() -> None:
    required, optional, computed = _settings_blocks()
    named = {m for bindings in indexed_bindings().values() for b in bindings for v in b.values()
             if isinstance(v, str) for m in re.findall(r"%(\w+)%", v)}
    assert named and named <= required | optional | computed


# -- resources -------------------------------------------------------------------------------------------------

def test_storage_allows_no_shared_key_and_no_public_blob() -> None:
    accounts = of_type("Microsoft.Storage/storageAccounts")
    assert len(accounts) == 2
    for account in accounts:
        assert "allowSharedKeyAccess: false" in account.body and "allowBlobPublicAccess: false" in account.body
        assert "minimumTlsVersion: 'TLS1_2'" in account.body
    for container in of_type("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert "publicAccess: 'None'" in container.body


def test_the_state_records_expire_by_prefix_and_the_notes_and_locks_never_do() -> None:
    [policy] = of_type("Microsoft.Storage/storageAccounts/managementPolicies")
    assert "parent: stateStorage" in policy.body and "daysAfterModificationGreaterThan: prefix.value" in policy.body
    assert "'${stateContainerName}/${prefix.key}/'" in policy.body
    assert "name: 'asrs2d${prefix.key}'" in policy.body  # a lifecycle rule's name is letters and digits only
    text = bicep_files()["modules/app.bicep"]
    block = text[text.index("var retentionDays = {"):]
    days = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*(\w+): (\d+)", block[:block.index("}")], re.M)}
    assert days == {"outcomes": 90, "events": 7, "audits": 90, "drills": 400}
    # Every expiring prefix is one the app writes; what the services read back is never expired.
    code = "".join(p.read_text() for p in (ROOT / "shared").glob("*.py"))
    assert all(f'"{prefix}/' in code or f"f\"{prefix}/" in code for prefix in days)
    assert not {"locks", "clusters"} & set(days)


def test_the_function_app_is_flex_consumption_python_311_with_a_system_identity() -> None:
    [plan] = of_type("Microsoft.Web/serverfarms")
    assert "sku: { tier: 'FlexConsumption', name: 'FC1' }" in plan.body and "reserved: true" in plan.body
    [site] = of_type("Microsoft.Web/sites")
    assert "identity: { type: 'SystemAssigned' }" in site.body and "kind: 'functionapp,linux'" in site.body
    assert "runtime: { name: 'python', version: '3.11' }" in site.body
    assert "authentication: { type: 'SystemAssignedIdentity' }" in site.body
    assert "'azd-service-name': 'app'" in site.body


def test_every_module_path_exists() -> None:
    for name, text in bicep_files().items():
        for m in _MODULE.finditer(text):
            assert (INFRA / Path(name).parent / m.group(2)).is_file(), (name, m.group(2))


def test_the_deployment_docs_list_exactly_the_resource_types_the_templates_create() -> None:
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    section = deployment[deployment.index("\n## What gets created\n"):]
    table = section[section.index("\n|"):section.index("\n\n", section.index("\n|"))]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("|")][2:]
    listed = {t for row in rows for t in re.findall(r"`(Microsoft\.[A-Za-z]+/[A-Za-z/]+)`", row[3])}
    created = {d.type for d in declared() if not d.existing}
    assert listed == created, {"not in docs/deployment.md": sorted(created - listed), "not created": sorted(listed - created)}


# -- parameters and azd ----------------------------------------------------------------------------------------

def test_the_parameters_example_fits_the_template() -> None:
    main = bicep_files()["main.bicep"]
    params = {m.group(1): m.group(2) is not None for m in re.finditer(r"^param (\w+) \w+( =)?", main, re.M)}
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    assert set(example) <= set(params), set(example) - set(params)
    assert {name for name, has_default in params.items() if not has_default} <= set(example)
    assert example["subscribeEvents"]["value"] is False  # the first deployment: the functions do not exist yet


def test_azure_yaml_deploys_one_python_function_service_from_the_repository_root() -> None:
    text = (ROOT / "azure.yaml").read_text()
    assert re.search(r"^services:\n  app:\n    project: \.\n    language: python\n    host: function$", text, re.M)
    assert re.search(r"^infra:\n  provider: bicep\n  path: infra\n  module: main$", text, re.M)
    assert "subscribeEvents=true" in text
