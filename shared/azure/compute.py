"""Compute gateway: VMs (one paged list per subscription, or one GET with power state), availability
sets (read, and the recovery one asr-s2d creates), a region's fault-domain limit, and Run Command. Returns
``shared.inventory`` values; the SDK stays in here. A script's output is the guest's words: scrubbed
(``shared.observability.scrub``) as it enters, before anyone cuts or quotes it.

Run Command's own "not yet" is ``GuestNotReady``, never a failure: "The Run Command feature doesn't work if the VM
agent status is NOT READY" (its operation ends Failed with ``VMAgentStatusCommunicationError``) and "One script at a
time can run" (another one meanwhile is 409 Conflict) (learn.microsoft.com/azure/virtual-machines/windows/
run-command, "Restrictions"). A VM that just booted, as every node does after a failover, is not ready for minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import ids
from shared.azure.clients import Clients
from shared.azure.errors import error_code, read_all, read_or_none, translate, wire
from shared.errors import AsrS2dError, GuestNotReady
from shared.inventory import AvailabilitySet, Disk, Vm, VmAgent, frozen_tags
from shared.observability import scrub

AGENT_NOT_READY = "VMAgentStatusCommunicationError"  # the code a run command's operation fails with (module docstring)


@dataclass(frozen=True)
class RunCommandResult:
    stdout: str
    stderr: str
    succeeded: bool


def vm_from_wire(raw: dict[str, Any]) -> Vm:
    props = raw.get("properties") or {}
    storage = props.get("storageProfile") or {}
    disks: list[Disk] = []
    os_disk = storage.get("osDisk") or {}
    managed = os_disk.get("managedDisk") or {}
    if managed.get("id"):
        disks.append(Disk(managed["id"], managed.get("storageAccountType") or "Premium_LRS", True, None))
    for data in storage.get("dataDisks") or []:
        managed = data.get("managedDisk") or {}
        if managed.get("id"):
            disks.append(Disk(managed["id"], managed.get("storageAccountType") or "Premium_LRS", False, data.get("lun")))
    nics = (props.get("networkProfile") or {}).get("networkInterfaces") or []
    ordered = sorted(nics, key=lambda n: not (n.get("properties") or {}).get("primary", len(nics) == 1))
    power = None
    for status in ((props.get("instanceView") or {}).get("statuses") or []):
        code = status.get("code") or ""
        if code.startswith("PowerState/"):
            power = code.split("/", 1)[1]
    avset = (props.get("availabilitySet") or {}).get("id")
    return Vm(id=raw["id"], name=raw["name"], location=(raw.get("location") or "").lower(),
              tags=frozen_tags(raw.get("tags")), nic_ids=tuple(n["id"] for n in ordered if n.get("id")),
              disks=tuple(disks), availability_set_id=avset, vm_uuid=props.get("vmId") or "", power_state=power,
              computer_name=(props.get("osProfile") or {}).get("computerName") or "",
              zones=tuple(str(z) for z in raw.get("zones") or ()),
              proximity_placement_group_id=(props.get("proximityPlacementGroup") or {}).get("id") or None)


def vm_agent_from_wire(raw: dict[str, Any]) -> VmAgent:
    """The agent's status from a VM read with its instance view (``None`` status: the view reports no agent, as for
    a VM that is not running)."""
    agent = ((raw.get("properties") or {}).get("instanceView") or {}).get("vmAgent") or {}
    statuses = agent.get("statuses") or []
    first = statuses[0] if statuses else {}
    return VmAgent(status=first.get("displayStatus") or None, message=scrub(str(first.get("message") or ""))[:300],
                   version=str(agent.get("vmAgentVersion") or ""))


def avset_from_wire(raw: dict[str, Any]) -> AvailabilitySet:
    props = raw.get("properties") or {}
    members = props.get("virtualMachines") or []
    return AvailabilitySet(id=raw["id"], name=raw["name"], kind="availability_set", tags=frozen_tags(raw.get("tags")),
                           member_vm_ids=tuple(v["id"] for v in members if v.get("id")),
                           location=(raw.get("location") or "").lower(),
                           fault_domains=props.get("platformFaultDomainCount"),
                           update_domains=props.get("platformUpdateDomainCount"))


# The Resource SKUs capability that says how many fault domains an (Aligned: managed-disk) availability set can have in
# a region: Microsoft's docs read it with `az vm list-skus --resource-type availabilitySets` ("The number of fault
# domains varies by region", MicrosoftDocs/azure-docs articles/virtual-machines/disks-deploy-premium-v2.md).
FAULT_DOMAIN_CAPABILITY = "MaximumPlatformFaultDomainCount"


class ComputeGateway:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def list_vms(self, subscription_id: str) -> list[Vm]:
        """Every VM of a subscription in one paged list (no power state: that needs a GET per VM)."""
        return [vm_from_wire(v) for v in read_all(f"list VMs of subscription {subscription_id}",
                                                  self._clients.compute(subscription_id).virtual_machines.list_all)]

    def get_vm(self, vm_id: str) -> Vm | None:
        """One VM with its power state, or None when it does not exist."""
        rid = ids.parse(vm_id)
        client = self._clients.compute(rid.subscription)
        raw = read_or_none(f"read VM {rid.name}",
                           lambda: client.virtual_machines.get(rid.resource_group, rid.name, expand="instanceView"))
        return vm_from_wire(raw) if raw is not None else None

    def get_vm_and_agent(self, vm_id: str) -> tuple[Vm, VmAgent] | None:
        """One VM with its power state and its VM agent's status (one GET with the instance view), or None."""
        rid = ids.parse(vm_id)
        client = self._clients.compute(rid.subscription)
        raw = read_or_none(f"read VM {rid.name}",
                           lambda: client.virtual_machines.get(rid.resource_group, rid.name, expand="instanceView"))
        return (vm_from_wire(raw), vm_agent_from_wire(raw)) if raw is not None else None

    def list_availability_sets(self, subscription_id: str) -> list[AvailabilitySet]:
        sets = read_all(f"list availability sets of subscription {subscription_id}",
                        self._clients.compute(subscription_id).availability_sets.list_by_subscription)
        return [avset_from_wire(a) for a in sets]

    def list_availability_sets_in(self, resource_group_id: str) -> list[AvailabilitySet]:
        """Every availability set of one resource group (the recovery one) in one paged list."""
        sub, group = ids.subscription_of(resource_group_id), ids.resource_group_of(resource_group_id)
        return [avset_from_wire(a) for a in read_all(f"list availability sets of resource group {group}",
                                                     lambda: self._clients.compute(sub).availability_sets.list(group),
                                                     missing_is_empty=True)]

    def get_availability_set(self, avset_id: str) -> AvailabilitySet | None:
        rid = ids.parse(avset_id)
        raw = read_or_none(f"read availability set {rid.name}", lambda: self._clients.compute(
            rid.subscription).availability_sets.get(rid.resource_group, rid.name))
        return avset_from_wire(raw) if raw is not None else None

    def put_availability_set(self, avset_id: str, *, location: str, fault_domains: int, update_domains: int,
                             tags: dict[str, str]) -> AvailabilitySet:
        """Create (or rewrite) an Aligned availability set: the sku managed-disk VMs need."""
        rid = ids.parse(avset_id)
        body = {"location": location, "tags": tags, "sku": {"name": "Aligned"},
                "properties": {"platformFaultDomainCount": fault_domains, "platformUpdateDomainCount": update_domains}}
        try:
            raw = self._clients.compute(rid.subscription).availability_sets.create_or_update(
                rid.resource_group, rid.name, body)
        except Exception as err:
            raise translate(err, f"write availability set {rid.name}") from err
        return avset_from_wire(wire(raw))

    def max_fault_domains(self, subscription_id: str, location: str) -> int | None:
        """How many fault domains an availability set can have in ``location`` (the Resource SKUs list, filtered to
        the location: one paged read); None when the list does not say."""
        skus = read_all(f"list the compute SKUs of {location}", lambda: self._clients.compute(
            subscription_id).resource_skus.list(filter=f"location eq '{location}'"))
        for sku in skus:
            if (sku.get("resourceType") or "").lower() == "availabilitysets" and (sku.get("name") or "") == "Aligned":
                value = next((c.get("value") for c in sku.get("capabilities") or []
                              if c.get("name") == FAULT_DOMAIN_CAPABILITY), None)
                return int(value) if value is not None and str(value).isdigit() else None
        return None

    def run_command(self, vm_id: str, script: list[str], parameters: dict[str, str]) -> RunCommandResult:
        """Run a PowerShell script on the VM. Values travel only in ``parameters``, never in ``script``."""
        rid = ids.parse(vm_id)
        client = self._clients.compute(rid.subscription)
        body = {"commandId": "RunPowerShellScript", "script": script,
                "parameters": [{"name": k, "value": v} for k, v in parameters.items()]}
        try:
            result = wire(client.virtual_machines.begin_run_command(rid.resource_group, rid.name, body).result())
        except Exception as err:
            raise run_command_error(err, f"run command on {rid.name}") from err
        stdout = stderr = ""
        succeeded = True
        for status in result.get("value") or []:
            code = status.get("code") or ""
            if "StdOut" in code:
                stdout = status.get("message") or ""
            elif "StdErr" in code:
                stderr = status.get("message") or ""
            if code.endswith("/failed"):
                succeeded = False
        return RunCommandResult(stdout=scrub(stdout), stderr=scrub(stderr), succeeded=succeeded)


def run_command_error(err: Exception, doing: str) -> AsrS2dError:
    """A failed run command in the error tree: the guest's "not yet" (agent not Ready, another run in progress, the VM
    not running yet: 409) is ``GuestNotReady``; anything else as ``translate`` maps it."""
    translated = translate(err, doing)
    if error_code(err) == AGENT_NOT_READY or getattr(err, "status_code", None) == 409:
        return GuestNotReady(str(translated))
    return translated
