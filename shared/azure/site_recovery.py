"""Site Recovery gateway: the vault's state in one vault-wide paged list per kind, and every write
asr-s2d makes to ASR (each one a Site Recovery job: started and looked at once, never waited for; a job that still
runs raises ``OperationPending`` and the work item looks at it again later, ``shared.azure.operations``)."""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.azure import operations
from shared.azure.clients import Clients
from shared.azure.errors import is_not_found, read, read_all, read_or_none, translate, wire
from shared.errors import PermanentError
from shared.inventory import (
    AsrJob,
    AsrState,
    Container,
    ContainerMapping,
    Disk,
    Fabric,
    ItemNic,
    NetworkMapping,
    Policy,
    ProtectedItem,
    RecoveryPlan,
    frozen_tags,
)
from shared.names import plan_name

VAULT_API_VERSION = "2024-04-01"
# A plan's failover of a multi-VM group brings every node back from the group's common (multi-VM consistent) point,
# never from per-node points minutes apart (RecoveryPlanA2AFailoverInput.multiVmSyncPointOption).
MULTI_VM_SYNC_POINT = "UseMultiVmSyncRecoveryPoint"
A2A_NETWORK = "azureNetwork"


def _props(raw: dict[str, Any]) -> dict[str, Any]:
    return raw.get("properties") or {}


def fabric_from_wire(raw: dict[str, Any]) -> Fabric:
    custom = _props(raw).get("customDetails") or {}
    return Fabric(id=raw["id"], name=raw["name"], location=(custom.get("location") or raw.get("location") or "").lower())


def container_from_wire(raw: dict[str, Any]) -> Container:
    return Container(id=raw["id"], name=raw["name"], fabric_id=ids.fabric_of(raw["id"]))


def mapping_from_wire(raw: dict[str, Any]) -> ContainerMapping:
    props = _props(raw)
    return ContainerMapping(id=raw["id"], name=raw["name"],
                            source_container_id=props.get("sourceProtectionContainerId")
                            or raw["id"].split("/replicationProtectionContainerMappings/")[0],
                            target_container_id=props.get("targetProtectionContainerId") or "",
                            policy_id=props.get("policyId") or "")


def policy_from_wire(raw: dict[str, Any]) -> Policy:
    details = _props(raw).get("providerSpecificDetails") or {}
    return Policy(id=raw["id"], name=raw["name"],
                  app_consistent_minutes=details.get("appConsistentFrequencyInMinutes"),
                  crash_consistent_minutes=details.get("crashConsistentFrequencyInMinutes"),
                  recovery_point_history=details.get("recoveryPointHistory"),
                  multi_vm_sync=details.get("multiVmSyncStatus"))


def network_mapping_from_wire(raw: dict[str, Any]) -> NetworkMapping:
    props = _props(raw)
    return NetworkMapping(id=raw["id"], name=raw["name"], primary_network_id=props.get("primaryNetworkId") or "",
                          recovery_network_id=props.get("recoveryNetworkId") or "")


def item_from_wire(raw: dict[str, Any]) -> ProtectedItem:
    props = _props(raw)
    details = props.get("providerSpecificDetails") or {}
    nics = []
    for nic in details.get("vmNics") or []:
        configs = nic.get("ipConfigs") or []
        primary = next((c for c in configs if c.get("isPrimary")), configs[0] if configs else {})
        nics.append(ItemNic(nic_id=nic.get("nicId") or nic.get("sourceNicArmId") or "",
                            ip_config_name=primary.get("name") or "",
                            recovery_pool_ids=tuple(primary.get("recoveryLBBackendAddressPoolIds") or ()),
                            tfo_pool_ids=tuple(primary.get("tfoLBBackendAddressPoolIds") or ()),
                            recovery_static_ip=primary.get("recoveryStaticIPAddress")))
    caches = tuple(sorted({d.get("primaryStagingAzureStorageAccountId") or ""
                           for d in details.get("protectedManagedDisks") or []} - {""}))
    return ProtectedItem(
        id=raw["id"], name=raw["name"], vm_id=details.get("fabricObjectId") or "",
        group_name=details.get("multiVmGroupName") or None, group_id=details.get("multiVmGroupId") or None,
        protection_state=props.get("protectionState") or "", replication_health=props.get("replicationHealth") or "",
        active_location=props.get("activeLocation") or "", policy_id=props.get("policyId") or "",
        rpo_seconds=details.get("rpoInSeconds"), test_failover_state=props.get("testFailoverState") or "None",
        last_test_failover=props.get("lastSuccessfulTestFailoverTime"), nics=tuple(nics), cache_account_ids=caches,
        recovery_vm_name=details.get("recoveryAzureVMName"),
        allowed_operations=tuple(props.get("allowedOperations") or ()), current_scenario=(
            (props.get("currentScenario") or {}).get("scenarioName")),
        recovery_vm_id=details.get("recoveryFabricObjectId") or None,
        test_vm_id=details.get("testFailoverRecoveryFabricObjectId") or None,
        current_job_id=_scenario_job(props.get("currentScenario")),
        last_failover=props.get("lastSuccessfulFailoverTime") or None,
        primary_region=_region(details.get("primaryFabricLocation")),
        recovery_region=_region(details.get("recoveryFabricLocation")),
        recovery_availability_set_id=details.get("recoveryAvailabilitySet") or None,
        recovery_zone=str(details["recoveryAvailabilityZone"]) if details.get("recoveryAvailabilityZone") else None,
        recovery_ppg_id=details.get("recoveryProximityPlacementGroupId") or None)


def _region(location: Any) -> str | None:
    """An A2A fabric location as a location name (``West Europe`` and ``westeurope`` alike)."""
    return str(location).lower().replace(" ", "") or None if location else None


def _scenario_job(scenario: dict[str, Any] | None) -> str | None:
    """The job of a ``currentScenario``; ASR names ``.../replicationJobs/None`` when nothing runs."""
    scenario = scenario or {}
    job_id = scenario.get("jobId") or ""
    if not job_id or (scenario.get("scenarioName") or "None") == "None" or job_id.rstrip("/").endswith("/None"):
        return None
    return str(job_id)


def job_from_wire(raw: dict[str, Any]) -> AsrJob:
    props = _props(raw)
    affected = ((props.get("customDetails") or {}).get("affectedObjectDetails") or {})
    errors = tuple(str(((e.get("serviceErrorDetails") or {}).get("message")) or e.get("errorLevel") or "")
                   for e in props.get("errors") or [])
    return AsrJob(id=raw["id"], name=raw["name"], scenario=props.get("scenarioName") or "",
                  state=props.get("state") or "", target_id=props.get("targetObjectId") or "",
                  target_name=props.get("targetObjectName") or "", target_type=props.get("targetInstanceType") or "",
                  affected=frozen_tags({str(k): str(v) for k, v in affected.items() if v is not None}),
                  start_time=props.get("startTime"), end_time=props.get("endTime"), errors=errors)


def plan_from_wire(raw: dict[str, Any]) -> RecoveryPlan:
    props = _props(raw)
    items = tuple(i["id"] for g in props.get("groups") or [] for i in g.get("replicationProtectedItems") or []
                  if i.get("id"))
    return RecoveryPlan(id=raw["id"], name=raw["name"], item_ids=items,
                        primary_fabric_id=props.get("primaryFabricId") or "",
                        recovery_fabric_id=props.get("recoveryFabricId") or "",
                        allowed_operations=tuple(props.get("allowedOperations") or ()),
                        current_scenario=(props.get("currentScenario") or {}).get("scenarioName"),
                        current_job_id=_scenario_job(props.get("currentScenario")),
                        runbook_actions=tuple(a.get("actionName") or "" for g in props.get("groups") or []
                                              if g.get("groupType") == "Boot" for a in g.get("endGroupActions") or []
                                              if (a.get("customDetails") or {}).get("instanceType")
                                              == RUNBOOK_ACTION))


# A2A's VMNicDetails (what an item reads) -> VMNicInputDetails (what an update sends), for the fields that differ.
_NIC_INPUT = {"tfoRecoveryNicName": "tfoNicName", "tfoRecoveryNicResourceGroupName": "tfoNicResourceGroupName"}
_NIC_KEEP = ("selectionType", "recoveryNetworkSecurityGroupId", "enableAcceleratedNetworkingOnRecovery",
             "tfoNetworkSecurityGroupId", "enableAcceleratedNetworkingOnTfo", "recoveryNicName",
             "recoveryNicResourceGroupName", "reuseExistingNic", "tfoRecoveryNicName", "tfoRecoveryNicResourceGroupName",
             "tfoReuseExistingNic", "targetNicName")
_IP_CONFIG_KEEP = ("isPrimary", "isSeletedForFailover", "recoverySubnetName", "recoveryStaticIPAddress",
                   "recoveryPublicIPAddressId", "recoveryLBBackendAddressPoolIds", "tfoSubnetName", "tfoStaticIPAddress",
                   "tfoPublicIPAddressId", "tfoLBBackendAddressPoolIds")


def nic_inputs(raw_item: dict[str, Any], *, nic_id: str, ip_config_name: str,
               changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Every NIC of the item as an update's ``vmNics``, each field as read, ``changes`` applied to ``nic_id``'s
    ``ip_config_name``. An update replaces the NIC settings (a NIC or a field left out is reset): Microsoft's
    ``Set-AzRecoveryServicesAsrReplicationProtectedItem`` resends them all the same way."""
    details = _props(raw_item).get("providerSpecificDetails") or {}
    out = []
    applied = False
    for nic in details.get("vmNics") or []:
        sent: dict[str, Any] = {"nicId": nic.get("nicId")}
        sent.update({_NIC_INPUT.get(k, k): nic[k] for k in _NIC_KEEP if nic.get(k) is not None})
        configs = []
        for config in nic.get("ipConfigs") or []:
            entry = {"ipConfigName": config.get("name"), **{k: config[k] for k in _IP_CONFIG_KEEP
                                                              if config.get(k) is not None}}
            if ids.same(nic.get("nicId"), nic_id) and str(config.get("name") or "").lower() == ip_config_name.lower():
                entry.update(changes)
                applied = True
            configs.append(entry)
        sent["ipConfigs"] = configs
        out.append(sent)
    if not applied:
        raise PermanentError(f"protected item {raw_item.get('name')} has no IP configuration {ip_config_name} on NIC "
                             f"{ids.name_of(nic_id)}: Site Recovery replicates another NIC or configuration")
    return out


RUNBOOK_ACTION = "AutomationRunbookActionDetails"
_GROUP_FIELDS = ("groupType", "replicationProtectedItems", "startGroupActions", "endGroupActions")


def plan_groups(current: list[dict[str, Any]], items: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """The plan's groups with ``items`` as its members, everything else kept.

    An update replaces each group's actions with what it sends (azure-powershell issues 8629 and 12837; its own
    ``Edit-AzRecoveryServicesAsrRecoveryPlan`` resends every group with its actions), so the operator's groups,
    their order and their pre- and post-actions (the failover runbook) are resent as read. Members that left are
    taken out of whichever group held them; new members join the first Boot group (one is added when there is none).
    """
    wanted = {item_id.lower(): (item_id, vm_id) for item_id, vm_id in items}
    placed: set[str] = set()
    groups = []
    for group in current:
        kept = []
        for entry in group.get("replicationProtectedItems") or []:
            key = str(entry.get("id") or "").lower()
            if key in wanted and key not in placed:
                placed.add(key)
                kept.append({"id": wanted[key][0], "virtualMachineId": entry.get("virtualMachineId") or wanted[key][1]})
        groups.append({**{k: group[k] for k in _GROUP_FIELDS if k in group}, "replicationProtectedItems": kept,
                       "startGroupActions": list(group.get("startGroupActions") or []),
                       "endGroupActions": list(group.get("endGroupActions") or [])})
    joining = [{"id": i, "virtualMachineId": v} for key, (i, v) in wanted.items() if key not in placed]
    boot = next((g for g in groups if g.get("groupType") == "Boot"), None)
    if boot is None:
        boot = {"groupType": "Boot", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []}
        groups.append(boot)
    boot["replicationProtectedItems"].extend(joining)
    return groups


def managed_disks(disks: tuple[Disk, ...], *, cache_account_id: str,
                  recovery_resource_group_id: str) -> list[dict[str, Any]]:
    """``A2AVmManagedDiskInputDetails`` of enable and switch protection alike: each disk staged through the cache,
    into the recovery resource group, on its own account type on the other side."""
    return [{"diskId": d.id, "primaryStagingAzureStorageAccountId": cache_account_id,
             "recoveryResourceGroupId": recovery_resource_group_id, "recoveryReplicaDiskAccountType": d.account_type,
             "recoveryTargetDiskAccountType": d.account_type} for d in disks]


def _item_parts(item_id: str) -> tuple[str, str, str]:
    parts = item_id.split("/")
    low = [p.lower() for p in parts]
    return (parts[low.index("replicationfabrics") + 1], parts[low.index("replicationprotectioncontainers") + 1],
            parts[low.index("replicationprotecteditems") + 1])


class SiteRecoveryGateway:
    def __init__(self, clients: Clients, vault_id: str) -> None:
        self._clients = clients
        self.vault_id = vault_id
        rid = ids.parse(vault_id)
        self._rg, self._vault, self._sub = rid.resource_group, rid.name, rid.subscription

    @property
    def _client(self) -> Any:
        return self._clients.site_recovery(self._sub)

    def _list(self, what: str, pager: Any) -> list[dict[str, Any]]:
        return read_all(f"list {what} of vault {self._vault}", lambda: pager(self._rg, self._vault))

    def vault_location(self) -> str:
        client = self._clients.resources(self._sub)
        raw = read(f"read vault {self._vault}",
                   lambda: client.resources.get_by_id(self.vault_id, api_version=VAULT_API_VERSION))
        return (raw.get("location") or "").lower()

    def observe(self, *, location: str | None = None) -> AsrState:
        """The vault's state: fabrics, containers, mappings, policies, network mappings, protected items and
        recovery plans, one paged list each (never a GET per item)."""
        c = self._client
        return AsrState(
            vault_id=self.vault_id,
            vault_location=location if location is not None else self.vault_location(),
            fabrics=tuple(fabric_from_wire(r) for r in self._list("fabrics", c.replication_fabrics.list)),
            containers=tuple(container_from_wire(r) for r in self._list(
                "protection containers", c.replication_protection_containers.list)),
            mappings=tuple(mapping_from_wire(r) for r in self._list(
                "container mappings", c.replication_protection_container_mappings.list)),
            policies=tuple(policy_from_wire(r) for r in self._list("policies", c.replication_policies.list)),
            network_mappings=tuple(network_mapping_from_wire(r) for r in self._list(
                "network mappings", c.replication_network_mappings.list)),
            items=tuple(item_from_wire(r) for r in self._list("protected items", c.replication_protected_items.list)),
            plans=tuple(plan_from_wire(r) for r in self._list("recovery plans", c.replication_recovery_plans.list)),
        )

    def list_items(self) -> list[ProtectedItem]:
        return [item_from_wire(r) for r in self._list("protected items", self._client.replication_protected_items.list)]

    def observe_cluster(self, cluster: str, *, with_plan: bool = True) -> AsrState:
        """What ``AsrState.cluster_items`` and ``cluster_key`` need about one cluster: its recovery plan (one GET,
        unless ``with_plan`` is off) and the vault's protected items (one paged list)."""
        plan = self.get_plan(plan_name(cluster)) if with_plan else None
        return AsrState(vault_id=self.vault_id, vault_location="", items=tuple(self.list_items()),
                        plans=(plan,) if plan is not None else ())

    def _wait(self, doing: str, begin: Any, *args: Any) -> dict[str, Any] | None:
        """Start a Site Recovery job and look at it once: its result when it ended at once, else ``OperationPending``
        (``shared.azure.operations``): no invocation sleeps on a job that takes minutes."""
        return operations.start(doing, begin, self._rg, self._vault, *args, api="site_recovery", subscription=self._sub)

    # -- plumbing -------------------------------------------------------------------------------
    def create_fabric(self, name: str, region: str) -> None:
        self._wait(f"create fabric {name}", self._client.replication_fabrics.begin_create, name,
                   {"properties": {"customDetails": {"instanceType": "Azure", "location": region}}})

    def create_container(self, fabric: str, name: str) -> None:
        self._wait(f"create protection container {name}", self._client.replication_protection_containers.begin_create,
                   fabric, name, {"properties": {"providerSpecificInput": [{"instanceType": "A2A"}]}})

    def ensure_policy(self, name: str, *, retention_minutes: int, exists: bool) -> None:
        settings = {"instanceType": "A2A", "recoveryPointHistory": retention_minutes,
                    "crashConsistentFrequencyInMinutes": 5, "appConsistentFrequencyInMinutes": 0,
                    "multiVmSyncStatus": "Enable"}
        if exists:
            self._wait(f"correct policy {name}", self._client.replication_policies.begin_update, name,
                       {"properties": {"replicationProviderSettings": settings}})
        else:
            self._wait(f"create policy {name}", self._client.replication_policies.begin_create, name,
                       {"properties": {"providerSpecificInput": settings}})

    def create_container_mapping(self, fabric: str, container: str, name: str, *, target_container_id: str,
                                 policy_id: str) -> None:
        self._wait(f"create container mapping {name}",
                   self._client.replication_protection_container_mappings.begin_create, fabric, container, name,
                   {"properties": {"targetProtectionContainerId": target_container_id, "policyId": policy_id,
                                   "providerSpecificInput": {"instanceType": "A2A",
                                                             "agentAutoUpdateStatus": "Disabled"}}})

    def create_network_mapping(self, fabric: str, name: str, *, primary_network_id: str, recovery_fabric: str,
                               recovery_network_id: str) -> None:
        self._wait(f"create network mapping {name}", self._client.replication_network_mappings.begin_create,
                   fabric, A2A_NETWORK, name,
                   {"properties": {"recoveryFabricName": recovery_fabric, "recoveryNetworkId": recovery_network_id,
                                   "fabricSpecificDetails": {"instanceType": "AzureToAzure",
                                                             "primaryNetworkId": primary_network_id}}})

    # -- protection -----------------------------------------------------------------------------
    def enable(self, *, fabric: str, container: str, item: str, vm_id: str, group: str, policy_id: str,
               recovery_container_id: str, disks: tuple[Disk, ...], cache_account_id: str,
               recovery_resource_group_id: str, recovery_vnet_id: str, recovery_subnet: str,
               group_id: str | None = None, recovery_availability_set_id: str | None = None,
               recovery_zone: str | None = None) -> None:
        """Enable A2A replication of one VM into the multi-VM group ``group`` (with ``group_id``, read from the
        group's items, when the group exists), placing the recovered VM in ``recovery_availability_set_id`` or
        ``recovery_zone`` (A2AEnableProtectionInput; Site Recovery fixes the availability type at enable)."""
        details: dict[str, Any] = {
            "instanceType": "A2A", "fabricObjectId": vm_id, "recoveryContainerId": recovery_container_id,
            "recoveryResourceGroupId": recovery_resource_group_id, "recoveryAzureNetworkId": recovery_vnet_id,
            "recoverySubnetName": recovery_subnet, "multiVmGroupName": group,
            "vmManagedDisks": managed_disks(disks, cache_account_id=cache_account_id,
                                            recovery_resource_group_id=recovery_resource_group_id),
        }
        if group_id:
            details["multiVmGroupId"] = group_id
        if recovery_availability_set_id:
            details["recoveryAvailabilitySetId"] = recovery_availability_set_id
        if recovery_zone:
            details["recoveryAvailabilityZone"] = recovery_zone
        self._wait(f"enable replication of {ids.name_of(vm_id)}", self._client.replication_protected_items.begin_create,
                   fabric, container, item, {"properties": {"policyId": policy_id, "providerSpecificDetails": details}})

    def disable(self, item_id: str) -> None:
        fabric, container, item = _item_parts(item_id)
        self._wait(f"disable replication of {item}", self._client.replication_protected_items.begin_delete,
                   fabric, container, item, {"properties": {"disableProtectionReason": "NotSpecified",
                                                            "replicationProviderInput": {"instanceType": "A2A"}}})

    def set_pool_mapping(self, item_id: str, *, nic_id: str, ip_config_name: str, pool_ids: tuple[str, ...],
                         test: bool) -> None:
        """Name the pool(s) on one NIC's IP configuration. The update's ``vmNics`` replaces the item's NIC settings
        (``nic_inputs``), so every NIC goes back as read with only that key changed: one read before the write."""
        fabric, container, item = _item_parts(item_id)
        raw = read(f"read protected item {item}", lambda: self._client.replication_protected_items.get(
            self._rg, self._vault, fabric, container, item))
        key = "tfoLBBackendAddressPoolIds" if test else "recoveryLBBackendAddressPoolIds"
        body = {"properties": {"vmNics": nic_inputs(raw, nic_id=nic_id, ip_config_name=ip_config_name,
                                                    changes={key: list(pool_ids)}),
                               "providerSpecificDetails": {"instanceType": "A2A"}}}
        self._wait(f"set load balancer pool of {item}", self._client.replication_protected_items.begin_update,
                   fabric, container, item, body)

    def get_item(self, item_id: str) -> ProtectedItem | None:
        fabric, container, item = _item_parts(item_id)
        raw = read_or_none(f"read protected item {item}", lambda: self._client.replication_protected_items.get(
            self._rg, self._vault, fabric, container, item))
        return item_from_wire(raw) if raw is not None else None

    # -- recovery plans -------------------------------------------------------------------------
    def upsert_plan(self, name: str, *, primary_fabric_id: str, recovery_fabric_id: str,
                    items: tuple[tuple[str, str], ...], exists: bool) -> None:
        groups = plan_groups([], items)
        current = self._raw_plan(name) if exists else None
        if current is not None:
            groups = plan_groups(_props(current).get("groups") or [], items)
            self._wait(f"update recovery plan {name}", self._client.replication_recovery_plans.begin_update, name,
                       {"properties": {"groups": groups}})
        else:
            self._wait(f"create recovery plan {name}", self._client.replication_recovery_plans.begin_create, name,
                       {"properties": {"primaryFabricId": primary_fabric_id, "recoveryFabricId": recovery_fabric_id,
                                       "failoverDeploymentModel": "ResourceManager", "groups": groups}})

    def _raw_plan(self, name: str) -> dict[str, Any] | None:
        return read_or_none(f"read recovery plan {name}",
                            lambda: self._client.replication_recovery_plans.get(self._rg, self._vault, name))

    def get_plan(self, name: str) -> RecoveryPlan | None:
        raw = self._raw_plan(name)
        return plan_from_wire(raw) if raw is not None else None

    # -- jobs -----------------------------------------------------------------------------------
    def list_jobs(self) -> list[AsrJob]:
        """The vault's jobs, one paged list (newest first, as ASR lists them)."""
        return [job_from_wire(r) for r in self._list("jobs", self._client.replication_jobs.list)]

    def get_job(self, job_id: str) -> AsrJob | None:
        """One job by ID or name, or None when ASR no longer knows it."""
        name = ids.name_of(job_id)
        raw = read_or_none(f"read job {name}", lambda: self._client.replication_jobs.get(self._rg, self._vault, name))
        return job_from_wire(raw) if raw is not None else None

    # -- drills and the way back ----------------------------------------------------------------
    def test_failover_plan(self, name: str, *, network_id: str, recovery_point_type: str = "LatestProcessed",
                           direction: str = "PrimaryToRecovery") -> None:
        """Test-fail the recovery plan over into the isolated ``network_id`` (A2A ``VmNetworkAsInput``);
        ``RecoveryToPrimary`` once its items were reprotected and replicate back (a drill of the way back)."""
        body = {"properties": {"failoverDirection": direction, "networkType": "VmNetworkAsInput",
                               "networkId": network_id,
                               "providerSpecificDetails": [{"instanceType": "A2A",
                                                            "recoveryPointType": recovery_point_type,
                                                            "multiVmSyncPointOption": MULTI_VM_SYNC_POINT}]}}
        self._wait(f"test failover of recovery plan {name}", self._client.replication_recovery_plans.begin_test_failover,
                   name, body)

    def test_failover_cleanup_plan(self, name: str, *, comments: str) -> None:
        """Delete the test-failover VMs of the recovery plan (ASR's "Cleanup test failover")."""
        self._wait(f"clean up the test failover of recovery plan {name}",
                   self._client.replication_recovery_plans.begin_test_failover_cleanup, name,
                   {"properties": {"comments": comments[:1024]}})

    def reprotect_item(self, item_id: str, *, recovery_container_id: str, cache_account_id: str,
                       disks: tuple[Disk, ...], recovery_resource_group_id: str, policy_id: str) -> None:
        """Reverse replication of a failed-over (committed) item: the failed-over VM's managed ``disks`` replicate
        back into ``recovery_container_id`` (the container it was protected from, which holds the item) and
        ``recovery_resource_group_id``, staging through ``cache_account_id`` in the region it runs in now.

        Azure-to-Azure reprotect is switch protection on the item's container (``reProtect``'s
        ``A2AReprotectInput`` has no managed disks), sent as azure-powershell's
        ``Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure`` sends it
        (UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs ``A2ARPIReprotect``). ASR re-creates the item
        under the other container."""
        fabric, container, item = _item_parts(item_id)
        body = {"properties": {"replicationProtectedItemName": item, "providerSpecificDetails": {
            "instanceType": "A2A", "recoveryContainerId": recovery_container_id,
            "recoveryResourceGroupId": recovery_resource_group_id, "policyId": policy_id,
            "vmManagedDisks": managed_disks(disks, cache_account_id=cache_account_id,
                                            recovery_resource_group_id=recovery_resource_group_id)}}}
        self._wait(f"reprotect {item}", self._client.replication_protection_containers.begin_switch_protection,
                   fabric, container, body)

    def failover_point_time(self, item_id: str) -> str | None:
        """The time of the recovery point the item's last (test) failover used, or None when unknown."""
        fabric, container, item = _item_parts(item_id)
        c = self._client
        try:
            raw = wire(c.replication_protected_items.get(self._rg, self._vault, fabric, container, item))
            point_id = _props(raw).get("failoverRecoveryPointId") or ""
            if not point_id:
                return None
            point = wire(c.recovery_points.get(self._rg, self._vault, fabric, container, item, ids.name_of(point_id)))
        except Exception as err:
            if is_not_found(err):
                return None
            raise translate(err, f"read the failover recovery point of {item}") from err
        return _props(point).get("recoveryPointTime") or None
