"""Replication over time: initial replication progress, replication health and RPO, and the recovery
points a protected item offers.

Reads call ``refresh`` first, so what a client sees follows the clock (``AsrState.clock``, injectable)
and the configuration (``ReplicationConfig``): by default an item is ``Protected`` as soon as its
EnableDr job completes on the instant clock, and after initial replication of its largest disk on Azure's
clock (``world.clock``); with ``initial_replication_seconds`` it spends that long in
``UnprotectedStatesBegin`` with a growing ``monitoringPercentageCompletion``; with
``auto_progress = False`` it waits for the control API. Health and RPO can be pinned (degraded) through
the control API to exercise the app's audit.

Recovery points are crash-consistent, one every 5 minutes since protection, within the policy's
retention; with ``appConsistentFrequencyInMinutes = 0`` (what S2D needs) none is app-consistent.

``protect_like`` writes what a completed EnableDr job leaves, straight into the world (for worlds that
tests and the bench build without ARM calls).
"""

from __future__ import annotations

from typing import Any

from emulator.core.world import World
from emulator.providers.recoveryservices.items import (
    COMMIT_PENDING,
    State,
    a2a,
    enable,
    in_user_group,
    meta,
    props,
    set_state,
)
from emulator.providers.recoveryservices.state import (
    CRASH_CONSISTENT_MINUTES,
    RECOVERY_POINT_TYPE,
    asr_state,
    container_of,
    iso,
    now_iso,
    stable_guid,
)

# -- initial replication, health and RPO -------------------------------------------------------------

def start_initial_replication(world: World, item: dict[str, Any]) -> None:
    """The EnableDr job completed: initial replication starts (and may finish at once, see config)."""
    info = meta(world, item)
    info.replication_started = asr_state(world).clock()
    largest = max((int(d.get("diskCapacityInBytes") or 0) for d in a2a(item)["protectedManagedDisks"]), default=0)
    info.replication_seconds = world.clock.seconds("initial_replication", gib=largest / 1024 ** 3)
    info.progress_percent = None
    set_state(item, State.INITIAL_REPLICATION)
    props(item)["replicationHealth"] = "Normal"
    _set_progress(item, 0)
    refresh(world, item)


def _set_progress(item: dict[str, Any], percent: int) -> None:
    details = a2a(item)
    details["monitoringJobType"] = "InitialReplication"
    details["monitoringPercentageCompletion"] = percent
    for disk in details["protectedManagedDisks"]:
        disk.update(monitoringJobType="InitialReplication", monitoringPercentageCompletion=percent,
                    diskState="InitialReplicationPending")


def refresh(world: World, item: dict[str, Any]) -> dict[str, Any]:
    """Bring a read of the item up to date with time: initial replication progress, RPO, heartbeat."""
    state = asr_state(world)
    info = meta(world, item)
    now = state.clock()
    p = props(item)
    if p["protectionState"] == State.INITIAL_REPLICATION and info.progress_percent is None and state.config.auto_progress:
        seconds = state.config.initial_replication_seconds or info.replication_seconds
        started = info.replication_started if info.replication_started is not None else now
        elapsed = now - started
        if seconds <= 0 or elapsed >= seconds:
            mark_protected(world, item, at=started + max(seconds, 0))
        else:
            _set_progress(item, int(elapsed / seconds * 100))
    if p["protectionState"] == State.PROTECTED and not info.health_pinned:
        details = a2a(item)
        details["rpoInSeconds"] = state.config.rpo_seconds
        details["lastRpoCalculatedTime"] = iso(now)
        details["lastHeartbeat"] = iso(now)
    return item


def mark_protected(world: World, item: dict[str, Any], *, at: float | None = None) -> None:
    info = meta(world, item)
    info.protected_at = at if at is not None else asr_state(world).clock()
    info.progress_percent = None
    set_state(item, State.PROTECTED)
    p = props(item)
    if not info.health_pinned:
        p["replicationHealth"] = "Normal"
    details = a2a(item)
    details["monitoringJobType"] = None
    details["monitoringPercentageCompletion"] = None
    details["rpoInSeconds"] = asr_state(world).config.rpo_seconds
    details["lastRpoCalculatedTime"] = iso(info.protected_at)
    for disk in details["protectedManagedDisks"]:
        disk.update(monitoringJobType=None, monitoringPercentageCompletion=None, diskState="Protected")


def advance(world: World, item: dict[str, Any], to: str, *, percent: int | None = None) -> None:
    """Control API: move an item's initial replication (``InitialReplication`` [at ``percent``] or ``Protected``)."""
    state = props(item)["protectionState"]
    if to == "Protected":
        if state not in (State.INITIAL_REPLICATION, State.ENABLING, State.PROTECTED):
            raise ValueError(f"item {item['name']} is {state}; only replicating items can become Protected")
        if state != State.PROTECTED:
            mark_protected(world, item)
    elif to in ("InitialReplication", State.INITIAL_REPLICATION):
        if state not in (State.INITIAL_REPLICATION, State.ENABLING, State.PROTECTED):
            raise ValueError(f"item {item['name']} is {state}; it cannot go back to initial replication")
        if state != State.INITIAL_REPLICATION:
            set_state(item, State.INITIAL_REPLICATION)
        info = meta(world, item)
        info.progress_percent = max(0, min(99, int(percent or 0)))
        _set_progress(item, info.progress_percent)
    else:
        raise ValueError("'to' must be 'Protected' or 'InitialReplication'")


def set_health(world: World, item: dict[str, Any], changes: dict[str, Any]) -> None:
    """Control API: pin replication health / RPO / health errors (as a degraded replication shows them)."""
    unknown = set(changes) - {"replicationHealth", "rpoInSeconds", "healthErrors", "lastRpoCalculatedTime", "reset"}
    if unknown:
        raise ValueError(f"unknown health keys: {sorted(unknown)}")
    info = meta(world, item)
    p, details = props(item), a2a(item)
    if changes.get("reset"):
        info.health_pinned = False
        p["healthErrors"] = []
        if p["protectionState"] == State.PROTECTED:
            p["replicationHealth"] = "Normal"
        refresh(world, item)
        return
    info.health_pinned = True
    if "replicationHealth" in changes:
        if changes["replicationHealth"] not in ("None", "Normal", "Warning", "Critical"):
            raise ValueError("replicationHealth must be None, Normal, Warning or Critical")
        p["replicationHealth"] = changes["replicationHealth"]
    if "rpoInSeconds" in changes:
        details["rpoInSeconds"] = int(changes["rpoInSeconds"])
        details["lastRpoCalculatedTime"] = changes.get("lastRpoCalculatedTime") or now_iso(world)
    if "healthErrors" in changes:
        p["healthErrors"] = [_health_error(world, e) for e in changes["healthErrors"] or []]


def _health_error(world: World, given: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ValueError("each health error must be an object")
    return {"innerHealthErrors": [], "errorSource": given.get("errorSource", "ProtectionService"),
            "errorType": given.get("errorType", "Replication"), "errorLevel": given.get("errorLevel", "Error"),
            "errorCategory": given.get("errorCategory", "Replication"), "errorCode": str(given.get("errorCode", "")),
            "summaryMessage": given.get("summaryMessage", given.get("errorMessage", "")),
            "errorMessage": given.get("errorMessage", ""), "possibleCauses": given.get("possibleCauses", ""),
            "recommendedAction": given.get("recommendedAction", ""), "creationTimeUtc": now_iso(world),
            "recoveryProviderErrorMessage": None, "entityId": None, "errorId": stable_guid(str(given)),
            "customerResolvability": "Allowed"}


# -- recovery points ----------------------------------------------------------------------------------

PER_VM, MULTI_VM = "PerVmRecoveryPoint", "MultiVmSyncRecoveryPoint"
# A2AFailoverInput / RecoveryPlanA2AFailoverInput ``multiVmSyncPointOption`` (REST spec, recoveryservicessiterecovery
# service.json): which of an item's points a failover of a multi-VM group may use.
USE_MULTI_VM, USE_PER_VM = "UseMultiVmSyncRecoveryPoint", "UsePerVmRecoveryPoint"


def _points_at(world: World, item: dict[str, Any], since: float) -> list[float]:
    """Times on a 5-minute grid from ``since`` within the policy's retention (oldest first)."""
    policy = world.get(props(item)["policyId"])
    details = policy["properties"]["providerSpecificDetails"] if policy else {}
    retention = int(details.get("recoveryPointHistory", 1440)) * 60
    step = CRASH_CONSISTENT_MINUTES * 60
    now = asr_state(world).clock()
    oldest = max(since, now - retention)
    count = max(int((now - since) // step) + 1, 1)
    return [since + i * step for i in range(count) if since + i * step >= oldest] or [since]


def _group_anchor(world: World, item: dict[str, Any]) -> float | None:
    """When the item's user-specified multi-VM group has common points from: once every member is protected (the
    last one's protection), on that member's grid. None outside such a group or while a member is not protected."""
    others = in_user_group(world, item)
    if not others:
        return None
    times = [meta(world, m).protected_at for m in (item, *others)]
    return None if any(t is None for t in times) else max(t for t in times if t is not None)


def recovery_points(world: World, item: dict[str, Any]) -> list[dict[str, Any]]:
    """Crash-consistent points every 5 minutes, within the policy's retention (newest first): the item's own
    (``PerVmRecoveryPoint``, on a grid from its own protection: each node's differ) and, for a member of a multi-VM
    group, the group's common points (``MultiVmSyncRecoveryPoint``, the same times for every member: what multi-VM
    consistency is for, docs "Multi-VM consistency" in azure-to-azure-architecture / site-recovery-faq).

    S2D clusters get crash-consistent points only; with ``appConsistentFrequencyInMinutes = 0`` there is
    never an application-consistent one.
    """
    info = meta(world, item)
    # Points stay listed after a failover until it is committed (the point can still be changed).
    if info.protected_at is None or props(item)["protectionState"] not in (State.PROTECTED, *COMMIT_PENDING):
        return []
    policy = world.get(props(item)["policyId"])
    app_every = int(((policy or {}).get("properties", {}).get("providerSpecificDetails") or {})
                    .get("appConsistentFrequencyInMinutes", 0)) * 60
    disks = [d["diskId"] for d in a2a(item)["protectedManagedDisks"]]
    found = [(t, PER_VM) for t in _points_at(world, item, info.protected_at)]
    anchor = _group_anchor(world, item)
    if anchor is not None:
        found += [(t, MULTI_VM) for t in _points_at(world, item, anchor)]
    points = []
    for t, sync in sorted(found, key=lambda p: (-p[0], p[1] != MULTI_VM)):
        offset = t - info.protected_at
        kind = "ApplicationConsistent" if app_every and offset % app_every == 0 and offset > 0 else "CrashConsistent"
        name = stable_guid(item["id"], "rp", sync, str(int(t)))
        points.append({"id": f"{item['id']}/recoveryPoints/{name}", "name": name, "type": RECOVERY_POINT_TYPE,
                       "properties": {"recoveryPointTime": iso(t), "recoveryPointType": kind,
                                      "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointSyncType": sync,
                                                                  "disks": disks}}})
    return points


def latest_point(world: World, item: dict[str, Any], point_type: str | None = None,
                 sync_option: str | None = None) -> dict[str, Any] | None:
    """The newest point of the type; with ``UseMultiVmSyncRecoveryPoint`` the newest common one of the item's group,
    else (``UsePerVmRecoveryPoint`` or no option) the item's own newest."""
    wanted = MULTI_VM if sync_option == USE_MULTI_VM else PER_VM
    points = [p for p in recovery_points(world, item)
              if p["properties"]["providerSpecificDetails"]["recoveryPointSyncType"] == wanted]
    if point_type == "LatestApplicationConsistent":
        points = [p for p in points if p["properties"]["recoveryPointType"] == "ApplicationConsistent"]
    return points[0] if points else None


# -- worlds built without ARM calls --------------------------------------------------------------------------

def protect_like(world: World, template: dict[str, Any], vm: dict[str, Any], *, group: str, recovery_resource_group_id: str,
                 recovery_network_id: str, recovery_subnet_name: str, cache_account_id: str) -> dict[str, Any]:
    """``vm`` (its OS disk) replicating with ``template``'s policy and containers in multi-VM group ``group``, its
    initial replication started: what a completed EnableDr job leaves (no job, no event)."""
    disk_id = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    like = template["properties"]
    item = enable(world, container_of(world, template), vm["properties"]["vmId"], {
        "policyId": like["policyId"], "providerSpecificDetails": {
            "instanceType": "A2A", "fabricObjectId": vm["id"], "recoveryContainerId": like["recoveryContainerId"],
            "recoveryResourceGroupId": recovery_resource_group_id, "recoveryAzureNetworkId": recovery_network_id,
            "recoverySubnetName": recovery_subnet_name, "multiVmGroupName": group,
            "vmManagedDisks": [{"diskId": disk_id, "recoveryResourceGroupId": recovery_resource_group_id,
                                "primaryStagingAzureStorageAccountId": cache_account_id}]}})
    start_initial_replication(world, item)
    return item
