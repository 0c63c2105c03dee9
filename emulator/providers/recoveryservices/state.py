"""The Site Recovery model: vaults, the A2A plumbing (fabrics, containers, mappings, policies,
network mappings), the provider's private state, and the rules the plumbing obeys.

Every ASR object lives in the world as the JSON ASR answers, keyed by its lower-cased ID, so the
generic ``/_emulator/resource`` endpoint shows exactly what a client would read. What ASR keeps but
never shows (when initial replication started, which test-failover VMs belong to an item, which
operation backs a job) lives in ``world.extras[ASR]`` as an ``AsrState``.

This module must not know about HTTP: handlers parse requests and call these functions; the
functions raise ``AsrError`` when a rule is broken.

ASR quirk worth knowing: the IDs ASR returns for its own objects start with ``/Subscriptions/``
(capital S), unlike the vault's own ARM ID. Clients must compare IDs case-insensitively.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.core.world import World
from emulator.providers.recoveryservices import errors
from emulator.providers.recoveryservices.errors import AsrError

ASR = "recoveryservices.asr"
NAMESPACE = "Microsoft.RecoveryServices"
VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
FABRIC_TYPE = f"{VAULT_TYPE}/replicationFabrics"
CONTAINER_TYPE = f"{FABRIC_TYPE}/replicationProtectionContainers"
MAPPING_TYPE = f"{CONTAINER_TYPE}/replicationProtectionContainerMappings"
POLICY_TYPE = f"{VAULT_TYPE}/replicationPolicies"
NETWORK_MAPPING_TYPE = f"{FABRIC_TYPE}/replicationNetworks/replicationNetworkMappings"
ITEM_TYPE = f"{CONTAINER_TYPE}/replicationProtectedItems"
RECOVERY_POINT_TYPE = f"{ITEM_TYPE}/recoveryPoints"
PLAN_TYPE = f"{VAULT_TYPE}/replicationRecoveryPlans"
JOB_TYPE = f"{VAULT_TYPE}/replicationJobs"

#: ASR's "no job" marker in ``currentScenario`` (verbatim from the REST examples).
NO_JOB_TIME = "1753-01-01T01:01:01Z"

# A2A policy limits (support matrix): retention up to 15 days, app-consistent snapshots at most
# every 12 hours; crash-consistent points come every 5 minutes whatever the input says.
MAX_RETENTION_MINUTES = 15 * 24 * 60
MAX_APP_CONSISTENT_MINUTES = 12 * 60
CRASH_CONSISTENT_MINUTES = 5


# -- the provider's private state -----------------------------------------------------------------

@dataclass
class ReplicationConfig:
    """How initial replication progresses (``PUT /_emulator/asr/config``).

    ``initial_replication_seconds = 0`` (the default) makes an item ``Protected`` as soon as its
    EnableDr job completes on the instant clock, and after its largest disk's initial replication on Azure's
    clock (``emulator.core.clock``, ``initial_replication``). A positive value spreads initial replication
    over that many seconds of wall time instead (percentage grows linearly). ``auto_progress = False`` holds
    items in initial replication until ``POST /_emulator/asr/advance`` moves them.
    """

    initial_replication_seconds: float = 0.0
    auto_progress: bool = True
    rpo_seconds: int = 30

    def to_json(self) -> dict[str, Any]:
        return {"initial_replication_seconds": self.initial_replication_seconds,
                "auto_progress": self.auto_progress, "rpo_seconds": self.rpo_seconds}

    def update(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - {"initial_replication_seconds", "auto_progress", "rpo_seconds"}
        if unknown:
            raise ValueError(f"unknown ASR config keys: {sorted(unknown)}")
        if "initial_replication_seconds" in changes:
            seconds = float(changes["initial_replication_seconds"])
            if seconds < 0:
                raise ValueError("initial_replication_seconds must be >= 0")
            self.initial_replication_seconds = seconds
        if "auto_progress" in changes:
            self.auto_progress = bool(changes["auto_progress"])
        if "rpo_seconds" in changes:
            self.rpo_seconds = max(0, int(changes["rpo_seconds"]))


@dataclass
class ItemMeta:
    """What ASR knows about a protected item but does not show in its JSON."""

    vm_id: str
    replication_started: float | None = None
    replication_seconds: float = 0.0  # how long initial replication takes on the world's clock (0: instant)
    protected_at: float | None = None
    progress_percent: int | None = None  # pinned by the control API
    health_pinned: bool = False
    failover_kind: str | None = None  # "Unplanned" | "Planned"
    recovery_nic_ids: list[str] = field(default_factory=list)
    test_vm_id: str | None = None
    test_nic_ids: list[str] = field(default_factory=list)
    cleanup_pending: bool = False


@dataclass
class AsrState:
    config: ReplicationConfig = field(default_factory=ReplicationConfig)
    items: dict[str, ItemMeta] = field(default_factory=dict)  # lower-cased item ID -> meta
    job_operations: dict[str, str] = field(default_factory=dict)  # lower-cased job ID -> LRO id
    job_sequence: dict[str, int] = field(default_factory=dict)  # lower-cased job ID -> creation order
    # lower-cased job ID -> how to announce its caller's action ending (a cancel's event); None for a write's job
    job_events: dict[str, Callable[[str, str], None] | None] = field(default_factory=dict)
    clock: Callable[[], float] = time.time


def asr_state(world: World) -> AsrState:
    with world.lock:
        state = world.extras.get(ASR)
        if state is None:
            state = world.extras[ASR] = AsrState()
        assert isinstance(state, AsrState)
        return state


def now_iso(world: World) -> str:
    return iso(asr_state(world).clock())


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def stable_guid(*parts: str) -> str:
    """A GUID derived from names, so internal identifiers are deterministic across runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


# -- IDs ------------------------------------------------------------------------------------------

def vault_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{VAULT_TYPE}/{name}"


def asr_prefix(vault: dict[str, Any]) -> str:
    """The vault ID as ASR spells it in the IDs of its own objects (``/Subscriptions/...``)."""
    return "/Subscriptions/" + str(vault["id"]).split("/", 2)[2]


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def segment(resource_id: str, key: str) -> str | None:
    """The value after ``key`` in a resource ID (case-insensitive), e.g. ``resourceGroups``."""
    parts = resource_id.strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == key.lower():
            return parts[i + 1]
    return None


def subscription_of(resource_id: str) -> str:
    return segment(resource_id, "subscriptions") or ""


def vault_of(resource_id: str) -> str:
    """The ID of the vault that owns an ASR object ID."""
    parts = resource_id.strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "vaults":
            return "/" + "/".join(parts[: i + 2])
    raise errors.invalid_input(f"'{resource_id}' is not a Site Recovery resource ID.")


def same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and bool(a) and a.lower().rstrip("/") == b.lower().rstrip("/")


def _resource(resource_id: str, resource_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": resource_id, "name": name_of(resource_id), "type": resource_type, "properties": properties}


# -- vaults ---------------------------------------------------------------------------------------

def add_vault(world: World, subscription_id: str, resource_group: str, name: str, location: str,
              tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A Recovery Services vault (what ``PUT .../vaults/{name}`` creates); the seed calls this."""
    rid = vault_id(subscription_id, resource_group, name)
    with world.lock:
        existing = world.get(rid)
        vault = {
            "id": rid, "name": name, "type": VAULT_TYPE, "location": location.lower().replace(" ", ""),
            "tags": dict(tags or {}), "etag": f'W/"datetime\'{now_iso(world)}\'"',
            "sku": {"name": "Standard"},
            "properties": {"provisioningState": "Succeeded", "privateEndpointStateForBackup": "None",
                           "privateEndpointStateForSiteRecovery": "None", "publicNetworkAccess": "Enabled",
                           "redundancySettings": {"standardTierStorageRedundancy": "GeoRedundant",
                                                  "crossRegionRestore": "Disabled"},
                           "moveState": "Unknown"},
        }
        if existing is not None:
            vault["properties"] = existing["properties"]
        return world.put(vault)


def require_vault(world: World, subscription_id: str, resource_group: str, name: str) -> dict[str, Any]:
    found = world.get(vault_id(subscription_id, resource_group, name))
    if found is None:
        raise AsrError(404, "ResourceNotFound",
                       f"The Resource '{VAULT_TYPE}/{name}' under resource group '{resource_group}' was not found.")
    return found


def vault_for(world: World, asr_id: str) -> dict[str, Any]:
    found = world.get(vault_of(asr_id))
    if found is None:
        raise errors.not_found("vault", asr_id)
    return found


def require(world: World, resource_id: str | None, kind: str) -> dict[str, Any]:
    found = world.get(resource_id) if resource_id else None
    if found is None:
        raise errors.not_found(kind, name_of(resource_id or "") or "(none)")
    return found


# -- fabrics --------------------------------------------------------------------------------------

def fabric_location(fabric: dict[str, Any]) -> str:
    return str(fabric["properties"]["customDetails"].get("location", "")).lower()


def fabrics(world: World, vault: dict[str, Any]) -> list[dict[str, Any]]:
    return world.by_type(FABRIC_TYPE, scope=vault["id"])


def create_fabric(world: World, vault: dict[str, Any], name: str, custom: dict[str, Any]) -> dict[str, Any]:
    """An Azure fabric: one per region per vault (a second one for the same region is refused)."""
    if custom.get("instanceType") != "Azure":
        raise errors.invalid_input("Only Azure fabrics (customDetails.instanceType 'Azure') are supported for "
                                   "Azure-to-Azure replication.")
    location = str(custom.get("location") or "").lower().replace(" ", "")
    if not location:
        raise errors.invalid_input("customDetails.location is required for an Azure fabric.")
    rid = f"{asr_prefix(vault)}/replicationFabrics/{name}"
    with world.lock:
        existing = world.get(rid)
        if existing is not None:
            if fabric_location(existing) != location:
                raise errors.conflict(errors.FABRIC_EXISTS_FOR_LOCATION,
                                      f"The fabric '{name}' already exists for location '{fabric_location(existing)}'.")
            return existing
        for other in fabrics(world, vault):
            if fabric_location(other) == location:
                raise errors.conflict(
                    errors.FABRIC_EXISTS_FOR_LOCATION,
                    f"A fabric for location '{location}' already exists in the vault: '{other['name']}'.",
                    causes="A vault holds one Azure fabric per region.",
                    action=f"Use the existing fabric '{other['name']}'.")
        return world.put(_resource(rid, FABRIC_TYPE, {
            "friendlyName": name,
            "encryptionDetails": {"kekState": "None"},
            "rolloverEncryptionDetails": {"kekState": "None"},
            "internalIdentifier": stable_guid(rid),
            "bcdrState": "Valid",
            "customDetails": {"instanceType": "Azure", "location": location, "containerIds": [], "zones": [],
                              "extendedLocations": [], "locationDetails": []},
            "healthErrorDetails": [],
            "health": "Normal",
        }))


def fabric_for_location(world: World, vault: dict[str, Any], location: str) -> dict[str, Any] | None:
    return next((f for f in fabrics(world, vault) if fabric_location(f) == location.lower()), None)


# -- protection containers ------------------------------------------------------------------------

def containers(world: World, fabric: dict[str, Any]) -> list[dict[str, Any]]:
    return world.by_type(CONTAINER_TYPE, scope=fabric["id"])


def fabric_of(world: World, child: dict[str, Any]) -> dict[str, Any]:
    parts = child["id"].split("/")
    idx = next(i for i, p in enumerate(parts) if p.lower() == "replicationfabrics")
    return require(world, "/".join(parts[: idx + 2]), "fabric")


def container_of(world: World, child: dict[str, Any]) -> dict[str, Any]:
    parts = child["id"].split("/")
    idx = next(i for i, p in enumerate(parts) if p.lower() == "replicationprotectioncontainers")
    return require(world, "/".join(parts[: idx + 2]), "protection container")


def create_container(world: World, fabric: dict[str, Any], name: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    for item in inputs:
        if item.get("instanceType") not in ("A2A", None):
            raise errors.invalid_input(f"Unsupported container provider input '{item.get('instanceType')}'.")
    rid = f"{fabric['id']}/replicationProtectionContainers/{name}"
    with world.lock:
        existing = world.get(rid)
        if existing is not None:
            return existing
        container = world.put(_resource(rid, CONTAINER_TYPE, {
            "fabricFriendlyName": fabric["properties"]["friendlyName"],
            "friendlyName": name,
            "fabricType": "Azure",
            "protectedItemCount": 0,
            "pairingStatus": "NotPaired",
            "role": "",
            "fabricSpecificDetails": {"instanceType": "Azure"},
        }))
        fabric["properties"]["customDetails"]["containerIds"].append(rid)
        return container


def refresh_container_counts(world: World, container: dict[str, Any]) -> None:
    container["properties"]["protectedItemCount"] = len(world.by_type(ITEM_TYPE, scope=container["id"]))


# -- policies -------------------------------------------------------------------------------------

def _int_in(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.invalid_input(f"'{name}' must be a whole number of minutes between {low} and {high}; got {value!r}.")
    return value


def a2a_policy_details(given: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate an A2A policy input and return ``A2APolicyDetails`` as ASR reports them."""
    if given.get("instanceType") != "A2A":
        raise errors.invalid_input("Only A2A replication policies (instanceType 'A2A') are supported.")
    base = current or {}
    sync = given.get("multiVmSyncStatus", base.get("multiVmSyncStatus"))
    # multiVmSyncStatus is required on A2A policies; the wire enum is Enable / Disable (not Enabled).
    if sync is None:
        raise errors.invalid_input("'multiVmSyncStatus' is required for an A2A policy ('Enable' or 'Disable').")
    canonical = {"enable": "Enable", "disable": "Disable"}.get(str(sync).lower())
    if canonical is None:
        raise errors.invalid_input(f"'multiVmSyncStatus' must be 'Enable' or 'Disable'; got {sync!r}.")
    history = _int_in(given.get("recoveryPointHistory", base.get("recoveryPointHistory", 1440)),
                      "recoveryPointHistory", 0, MAX_RETENTION_MINUTES)
    crash = _int_in(given.get("crashConsistentFrequencyInMinutes",
                              base.get("crashConsistentFrequencyInMinutes", CRASH_CONSISTENT_MINUTES)),
                    "crashConsistentFrequencyInMinutes", 0, 60)
    app = _int_in(given.get("appConsistentFrequencyInMinutes", base.get("appConsistentFrequencyInMinutes", 240)),
                  "appConsistentFrequencyInMinutes", 0, MAX_APP_CONSISTENT_MINUTES)
    if app and app > history:
        raise errors.invalid_input("'appConsistentFrequencyInMinutes' must not exceed 'recoveryPointHistory' "
                                   f"({app} > {history}).")
    return {"instanceType": "A2A", "recoveryPointThresholdInMinutes": 60, "recoveryPointHistory": history,
            "appConsistentFrequencyInMinutes": app, "multiVmSyncStatus": canonical,
            "crashConsistentFrequencyInMinutes": crash}


def create_policy(world: World, vault: dict[str, Any], name: str, provider_input: dict[str, Any]) -> dict[str, Any]:
    rid = f"{asr_prefix(vault)}/replicationPolicies/{name}"
    details = a2a_policy_details(provider_input)
    with world.lock:
        existing = world.get(rid)
        if existing is not None:
            existing["properties"]["providerSpecificDetails"] = details
            return existing
        return world.put(_resource(rid, POLICY_TYPE, {"friendlyName": name, "providerSpecificDetails": details}))


def update_policy(world: World, policy: dict[str, Any], provider_input: dict[str, Any]) -> dict[str, Any]:
    """Editing a policy changes every item that uses it (they read it through ``policyId``)."""
    with world.lock:
        policy["properties"]["providerSpecificDetails"] = a2a_policy_details(
            provider_input, policy["properties"]["providerSpecificDetails"])
        return policy


# -- container mappings ---------------------------------------------------------------------------

def create_mapping(world: World, container: dict[str, Any], name: str, props: dict[str, Any]) -> dict[str, Any]:
    """A container mapping source -> target bound to a policy (forward, or reverse for failback)."""
    provider = props.get("providerSpecificInput") or {"instanceType": "A2A"}
    if provider.get("instanceType") != "A2A":
        raise errors.invalid_input("Only A2A container mappings (providerSpecificInput.instanceType 'A2A') are supported.")
    auto_update = provider.get("agentAutoUpdateStatus") or "Disabled"
    if auto_update not in ("Enabled", "Disabled"):
        raise errors.invalid_input("'agentAutoUpdateStatus' must be 'Enabled' or 'Disabled'.")
    policy = world.get(props.get("policyId") or "")
    if policy is None:
        raise errors.bad_request(errors.POLICY_NOT_FOUND, f"The replication policy '{props.get('policyId')}' was not found.",
                                 action="Create the policy first, then map the containers.")
    target = world.get(props.get("targetProtectionContainerId") or "")
    if target is None or target.get("type") != CONTAINER_TYPE:
        raise errors.invalid_input(f"The target protection container '{props.get('targetProtectionContainerId')}' "
                                   "was not found.")
    source_fabric, target_fabric = fabric_of(world, container), fabric_of(world, target)
    if same_id(source_fabric["id"], target_fabric["id"]) or fabric_location(source_fabric) == fabric_location(target_fabric):
        raise errors.invalid_input("Azure-to-Azure replication needs the target container in another region's fabric.")
    rid = f"{container['id']}/replicationProtectionContainerMappings/{name}"
    with world.lock:
        mapping = world.put(_resource(rid, MAPPING_TYPE, {
            "targetProtectionContainerId": target["id"],
            "targetProtectionContainerFriendlyName": target["properties"]["friendlyName"],
            "providerSpecificDetails": {
                "instanceType": "A2A", "agentAutoUpdateStatus": auto_update,
                "automationAccountArmId": provider.get("automationAccountArmId"),
                "automationAccountAuthenticationType": provider.get("automationAccountAuthenticationType", "RunAsAccount"),
                "scheduleName": None, "jobScheduleName": None,
            },
            "health": "Normal",
            "healthErrorDetails": [],
            "policyId": policy["id"],
            "state": "Paired",
            "sourceProtectionContainerFriendlyName": container["properties"]["friendlyName"],
            "sourceFabricFriendlyName": source_fabric["properties"]["friendlyName"],
            "targetFabricFriendlyName": target_fabric["properties"]["friendlyName"],
            "policyFriendlyName": policy["properties"]["friendlyName"],
        }))
        for paired in (container, target):
            paired["properties"]["pairingStatus"] = "Paired"
        return mapping


def mappings_from(world: World, container: dict[str, Any]) -> list[dict[str, Any]]:
    return world.by_type(MAPPING_TYPE, scope=container["id"])


def mapping_between(world: World, source_container: dict[str, Any], target_container_id: str,
                    policy_id: str | None = None) -> dict[str, Any] | None:
    """The container mapping source -> target (with ``policy_id``, the one bound to that policy: a container pair
    may be mapped once per policy, and enabling replication names the policy whose mapping it uses; see
    azure-cli ``az site-recovery protection-container mapping create --policy-id``)."""
    return next((m for m in mappings_from(world, source_container)
                 if same_id(m["properties"]["targetProtectionContainerId"], target_container_id)
                 and (policy_id is None or same_id(m["properties"]["policyId"], policy_id))), None)


# -- network mappings -----------------------------------------------------------------------------

def create_network_mapping(world: World, fabric: dict[str, Any], network_name: str, name: str,
                           props: dict[str, Any], *, vnet_location: Callable[[str], str | None]) -> dict[str, Any]:
    """An A2A network mapping: primary VNet (in ``fabric``'s region) -> recovery VNet."""
    specific = props.get("fabricSpecificDetails") or {}
    if specific.get("instanceType") != "AzureToAzure":
        raise errors.invalid_input("Azure-to-Azure network mappings need fabricSpecificDetails.instanceType 'AzureToAzure'.")
    vault = vault_for(world, fabric["id"])
    recovery_fabric = world.get(f"{asr_prefix(vault)}/replicationFabrics/{props.get('recoveryFabricName', '')}")
    if recovery_fabric is None:
        raise errors.invalid_input(f"The recovery fabric '{props.get('recoveryFabricName')}' was not found.")
    primary_id, recovery_id = str(specific.get("primaryNetworkId") or ""), str(props.get("recoveryNetworkId") or "")
    for vnet, expected in ((primary_id, fabric_location(fabric)), (recovery_id, fabric_location(recovery_fabric))):
        where = vnet_location(vnet)
        if where is None:
            raise errors.invalid_input(f"The virtual network '{vnet}' was not found.")
        if where != expected:
            raise errors.invalid_input(f"The virtual network '{vnet}' is in '{where}', not in the fabric's region '{expected}'.")
    rid = f"{fabric['id']}/replicationNetworks/{network_name}/replicationNetworkMappings/{name}"
    with world.lock:
        return world.put(_resource(rid, NETWORK_MAPPING_TYPE, {
            "state": "Paired",
            "primaryNetworkFriendlyName": name_of(primary_id),
            "primaryNetworkId": primary_id,
            "primaryFabricFriendlyName": fabric["properties"]["friendlyName"],
            "recoveryNetworkFriendlyName": name_of(recovery_id),
            "recoveryNetworkId": recovery_id,
            "recoveryFabricArmId": recovery_fabric["id"],
            "recoveryFabricFriendlyName": recovery_fabric["properties"]["friendlyName"],
            "fabricSpecificSettings": {"instanceType": "AzureToAzure",
                                       "primaryFabricLocation": fabric_location(fabric),
                                       "recoveryFabricLocation": fabric_location(recovery_fabric)},
        }))


def mapped_recovery_network(world: World, vault: dict[str, Any], primary_vnet_id: str) -> str | None:
    for mapping in world.by_type(NETWORK_MAPPING_TYPE, scope=vault["id"]):
        if same_id(mapping["properties"]["primaryNetworkId"], primary_vnet_id):
            return str(mapping["properties"]["recoveryNetworkId"])
    return None
