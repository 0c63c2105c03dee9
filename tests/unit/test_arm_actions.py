"""The request -> RBAC action map behind infra/role-actions.json (tests/arm_actions.py): table-driven."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests import arm_actions as aa

SUB = "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
RG = f"{SUB}/resourceGroups/rg-s2d-prod"
DR = f"{SUB}/resourceGroups/rg-s2d-dr"
VAULT = f"{DR}/providers/Microsoft.RecoveryServices/vaults/rsv-s2d-dr"
ITEM = (f"{VAULT}/replicationFabrics/asr-a2a-default-westeurope/replicationProtectionContainers/"
        "asr-a2a-default-westeurope-container/replicationProtectedItems/0f1e2d3c")
SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/snet-s2d"
DR_SUBNET = f"{DR}/providers/Microsoft.Network/virtualNetworks/vnet-dr/subnets/snet-s2d"
LB = f"{DR}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-s2dclu01"
POOL = f"{LB}/backendAddressPools/be-nodes"
NIC = f"{RG}/providers/Microsoft.Network/networkInterfaces/s2d-node1-nic"
ITEM_ACTIONS = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"


@pytest.mark.parametrize(("method", "path", "action"), [
    ("GET", f"{SUB}/providers/Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/read"),
    ("GET", f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1", "Microsoft.Compute/virtualMachines/read"),
    ("POST", f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1/runCommand",
     "Microsoft.Compute/virtualMachines/runCommand/action"),
    ("PUT", LB, "Microsoft.Network/loadBalancers/write"),
    ("PATCH", LB, "Microsoft.Network/loadBalancers/write"),
    ("DELETE", LB, "Microsoft.Network/loadBalancers/delete"),
    ("HEAD", LB, "Microsoft.Network/loadBalancers/read"),
    ("GET", DR_SUBNET, "Microsoft.Network/virtualNetworks/subnets/read"),
    ("GET", f"{SUB}/resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read"),
    ("GET", f"{SUB}/resourceGroups/rg-s2d-prod", "Microsoft.Resources/subscriptions/resourceGroups/read"),
    ("GET", SUB, "Microsoft.Resources/subscriptions/read"),
    ("PATCH", f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1/providers/Microsoft.Resources/tags/default",
     "Microsoft.Resources/tags/write"),  # an extension resource: the innermost provider owns the action
    ("GET", f"{VAULT}/replicationProtectedItems", "Microsoft.RecoveryServices/vaults/replicationProtectedItems/read"),
    ("GET", ITEM, f"{ITEM_ACTIONS}/read"),
    ("PUT", ITEM, f"{ITEM_ACTIONS}/write"),
    ("POST", f"{ITEM}/remove", f"{ITEM_ACTIONS}/remove/action"),
    ("POST", f"{VAULT}/replicationRecoveryPlans/asr-s2d-x/testFailover",
     "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/testFailover/action"),
    # long-running-operation polls map to the provider's status action, never exempt
    ("GET", f"{SUB}/providers/Microsoft.Network/locations/northeurope/operations/9d2c",
     "Microsoft.Network/locations/operations/read"),
    ("GET", f"{SUB}/providers/Microsoft.Network/locations/northeurope/operationResults/9d2c",
     "Microsoft.Network/locations/operationResults/read"),
    ("GET", f"{SUB}/providers/Microsoft.Compute/locations/northeurope/operations/9d2c",
     "Microsoft.Compute/locations/operations/read"),
    ("GET", f"{SUB}/providers/Microsoft.Compute/locations/northeurope/operationResults/9d2c",
     "Microsoft.Compute/locations/operations/read"),
    ("GET", f"{VAULT}/replicationOperationStatus/job-1", "Microsoft.RecoveryServices/vaults/replicationOperationStatus/read"),
    ("GET", f"{VAULT}/replicationOperationResults/job-1",
     "Microsoft.RecoveryServices/vaults/replicationOperationStatus/read"),
    ("GET", f"{LB}?api-version=2024-05-01", "Microsoft.Network/loadBalancers/read"),
])
def test_action_of(method: str, path: str, action: str) -> None:
    assert aa.action_of(method, path) == action
    assert aa.action_of(method, aa.template_path(path)) == action  # the templated path maps the same way


@pytest.mark.parametrize(("method", "path"), [
    ("POST", LB),  # a POST on a resource itself names no verb
    ("OPTIONS", LB),
    ("GET", "/providers/Microsoft.Network"),
    ("GET", "/tenants"),
])
def test_requests_the_map_cannot_name_are_refused(method: str, path: str) -> None:
    with pytest.raises(aa.UnmappedRequest):
        aa.action_of(method, path)


def test_template_path_replaces_every_name_and_keeps_types_and_verbs() -> None:
    assert aa.template_path(f"{ITEM}/remove") == (
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.RecoveryServices/"
        "vaults/{name}/replicationFabrics/{name}/replicationProtectionContainers/{name}/replicationProtectedItems/"
        "{name}/remove")
    tagged = f"{RG}/providers/Microsoft.Compute/virtualMachines/n1/providers/Microsoft.Resources/tags/default"
    assert aa.template_path(tagged) == (
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/"
        "virtualMachines/{name}/providers/Microsoft.Resources/tags/{name}")


def nic_body(*, pools: list[str], nsg: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": SUBNET}, "privateIPAddress": "10.10.1.4",
                              "loadBalancerBackendAddressPools": [{"id": p} for p in pools]}
    body: dict[str, Any] = {"id": NIC, "location": "westeurope", "properties": {
        "ipConfigurations": [{"id": f"{NIC}/ipConfigurations/ipconfig1", "name": "ipconfig1", "properties": config}],
        "virtualMachine": {"id": f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1"}}}
    if nsg:
        body["properties"]["networkSecurityGroup"] = {"id": nsg}
    return body


@pytest.mark.parametrize(("method", "path", "body", "links"), [
    # a NIC PUT: its subnet and every pool it names are joined (linked access), its own configurations are not
    ("PUT", NIC, nic_body(pools=[POOL]), ["Microsoft.Network/loadBalancers/backendAddressPools/join/action",
                                          "Microsoft.Network/virtualNetworks/subnets/join/action"]),
    ("PUT", NIC, nic_body(pools=[], nsg=f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-1"),
     ["Microsoft.Network/networkSecurityGroups/join/action", "Microsoft.Network/virtualNetworks/subnets/join/action"]),
    # a load balancer PUT: the frontend's subnet; the rule's references to its own pool and probe are not links
    ("PUT", LB, {"properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"subnet": {"id": DR_SUBNET}}}],
        "loadBalancingRules": [{"name": "r", "properties": {"backendAddressPool": {"id": POOL},
                                                            "probe": {"id": f"{LB}/probes/p"}}}]}},
     ["Microsoft.Network/virtualNetworks/subnets/join/action"]),
    # Site Recovery's pool mapping (ReplicationProtectedItems_Update) names the DR pool by ID list
    ("PATCH", ITEM, {"properties": {"vmNics": [{"nicId": NIC, "ipConfigs": [
        {"ipConfigName": "ipconfig1", "recoveryLBBackendAddressPoolIds": [POOL]}]}]}},
     ["Microsoft.Network/loadBalancers/backendAddressPools/join/action"]),
    # reads and deletes carry no links; neither does a body without references
    ("GET", NIC, nic_body(pools=[POOL]), []),
    ("DELETE", LB, None, []),
    ("POST", f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1/runCommand",
     {"commandId": "RunPowerShellScript", "script": ["x"], "parameters": [{"name": "IPAddress", "value": "10.0.0.1"}]},
     []),
])
def test_links_of(method: str, path: str, body: Any, links: list[str]) -> None:
    assert list(aa.links_of(method, path, body)) == links


def test_enabling_a2a_replication_needs_what_site_recovery_validates_for_the_caller() -> None:
    body = {"properties": {"policyId": f"{VAULT}/replicationPolicies/p", "providerSpecificDetails": {
        "instanceType": "A2A", "fabricObjectId": f"{RG}/providers/Microsoft.Compute/virtualMachines/s2d-node1",
        "recoveryResourceGroupId": DR, "recoveryAzureNetworkId": DR_SUBNET.split("/subnets/")[0],
        "vmManagedDisks": [{"diskId": "d", "primaryStagingAzureStorageAccountId":
                            f"{RG}/providers/Microsoft.Storage/storageAccounts/stasrcachewe01"}]}}}
    links = set(aa.links_of("PUT", ITEM, body))
    expected = {a for actions in aa.ASR_ENABLE_LINKS.values() for a in actions}
    assert links == expected
    assert "Microsoft.Storage/storageAccounts/listkeys/action" in links  # the cache account (rule 6)
    assert aa.links_of("PATCH", ITEM, body) == ()  # an update re-validates nothing of that list
    other = {"properties": {"providerSpecificDetails": {"instanceType": "HyperVReplicaAzure", "fabricObjectId": "x"}}}
    assert aa.links_of("PUT", ITEM, other) == ()


def test_a_reprotect_is_validated_like_an_enable_for_the_resources_it_names() -> None:
    container = f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c"
    cache = f"{DR}/providers/Microsoft.Storage/storageAccounts/stasrcachene01"
    switch = {"properties": {"replicationProtectedItemName": "n1", "providerSpecificDetails": {
        "instanceType": "A2A", "recoveryContainerId": container, "recoveryResourceGroupId": RG,
        "policyId": f"{VAULT}/replicationPolicies/p",
        "vmManagedDisks": [{"diskId": "d", "primaryStagingAzureStorageAccountId": cache,
                            "recoveryResourceGroupId": RG}]}}}
    expected = {*aa.ASR_ENABLE_LINKS["recoveryResourceGroupId"], *aa.ASR_ENABLE_LINKS["primaryStagingAzureStorageAccountId"]}
    assert aa.action_of("POST", f"{container}/switchprotection") == (
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/switchprotection/action")
    assert set(aa.links_of("POST", f"{container}/switchprotection", switch)) == expected
    reprotect = {"properties": {"failoverDirection": "RecoveryToPrimary", "providerSpecificDetails": {
        "instanceType": "A2A", "recoveryContainerId": container, "recoveryResourceGroupId": RG,
        "vmDisks": [{"diskUri": "d", "primaryStagingAzureStorageAccountId": cache}]}}}
    assert set(aa.links_of("POST", f"{ITEM}/reProtect", reprotect)) == expected
    assert aa.links_of("POST", f"{ITEM}/unplannedFailover", reprotect) == ()
    assert aa.links_of("POST", f"{container}/remove", switch) == ()


def test_actions_are_compared_case_insensitively_both_ways() -> None:
    requests = [aa.request_of("GET", f"{SUB}/resourcegroups"), aa.request_of("PUT", NIC, nic_body(pools=[POOL]))]
    used = aa.actions_of(requests)
    missing, unused = aa.compare(used, ["microsoft.resources/subscriptions/resourcegroups/read",
                                        "Microsoft.Network/networkInterfaces/write",
                                        "Microsoft.Network/virtualNetworks/subnets/join/action",
                                        "Microsoft.Network/loadBalancers/delete"])
    assert missing == ["Microsoft.Network/loadBalancers/backendAddressPools/join/action"]
    assert unused == ["Microsoft.Network/loadBalancers/delete"]


def test_requests_round_trip_through_the_workers_files() -> None:
    request = aa.request_of("PUT", NIC, nic_body(pools=[POOL]))
    assert aa.Request.from_json(json.loads(json.dumps(request.to_json()))) == request


@pytest.mark.parametrize(("principal", "user_agent", "mine"), [
    ("app", "asr-s2d/0.1 azsdk-python-mgmt-network/33.1.0 Python/3.11.7", True),
    ("app", "azsdk-python-mgmt-network/33.1.0 Python/3.11.7", False),  # the test harness holding the app's identity
    ("operator", "asr-s2d/0.1 azsdk-python-mgmt-network/33.1.0", False),
    ("app", "", False),
])
def test_only_the_apps_own_client_factory_with_its_identity_counts(principal: str, user_agent: str, mine: bool) -> None:
    entry = SimpleNamespace(principal=principal, user_agent=user_agent, status=200)
    assert aa.is_app_request(entry, "app") is mine


def test_the_role_file_is_unique_and_names_only_actions() -> None:
    actions = aa.load_role_actions()
    assert len({a.lower() for a in actions}) == len(actions)
    for action in actions:
        assert action.startswith("Microsoft.") and (action.endswith(("/read", "/write", "/delete", "/action", "/*")))
    assert set(aa.load_notes()) <= set(actions)


def test_the_apps_client_factory_sends_the_user_agent_the_map_recognises() -> None:
    from shared.azure.clients import USER_AGENT

    assert USER_AGENT.startswith(aa.APP_USER_AGENT)
