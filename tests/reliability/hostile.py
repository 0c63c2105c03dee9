"""The hostile-input corpus (``tests/data/hostile/*.json``): one file per input, and how each one is played.

A file describes one input and what must come of it:

- ``raw``: bytes as they arrive (``text`` or ``bytes_hex``): broken JSON, JSON that is not an event;
- ``event``: one event object (``payload``) as Event Grid would deliver it, in either schema;
- ``generated``: a huge or deep input built at test time from a small spec (``generator``), so the repository
  does not carry megabytes;
- ``tags``: tag values an operator (or an attacker holding only tag-write rights) writes through the ARM
  Tags API on a VM, availability set or resource group (``setup`` adds the world they need: more nodes,
  another region, a DR-region copy); the resulting event is then handled;
- ``runbook``: a RecoveryPlanContext POSTed to the failover runbook endpoint.

``expect`` is ``malformed`` (the payload cannot be read: the CLI exits 2), ``rejected`` or ``ignored`` (an
outcome of that kind whose reason contains ``reason_contains``); a runbook input expects an HTTP status.
``cli: true`` also runs the input through ``asr-s2d handle-event`` (``cli_exit``, default 2 for malformed
input and 0 otherwise).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.providers.compute import state as compute
from emulator.providers.network import state as network

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
KINDS = ("raw", "event", "generated", "tags", "runbook")


@dataclass(frozen=True)
class Input:
    name: str
    spec: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.spec["kind"])

    @property
    def cli(self) -> bool:
        return bool(self.spec.get("cli"))

    @property
    def is_runbook(self) -> bool:
        return self.kind == "runbook" or self.spec.get("generator", "").startswith("runbook")

    @property
    def cli_exit(self) -> int:
        # handle-event exits 2 for a malformed or a rejected event (what no retry fixes), else 0.
        return int(self.spec.get("cli_exit", 2 if self.spec.get("expect") in ("malformed", "rejected") else 0))

    def payload(self) -> bytes:
        """The bytes delivered (for ``tags``: none; the event comes from the world)."""
        spec = self.spec
        if self.kind == "raw":
            return bytes.fromhex(spec["bytes_hex"]) if "bytes_hex" in spec else str(spec["text"]).encode()
        if self.kind == "event":
            return json.dumps(spec["payload"]).encode()
        if self.kind == "runbook":
            body = spec["body"]
            return body.encode() if isinstance(body, str) else json.dumps(body).encode()
        if self.kind == "generated":
            return generate(spec)
        raise ValueError(f"{self.name}: a {self.kind} input has no payload of its own")


def load_corpus() -> list[Input]:
    inputs = [Input(p.stem, json.loads(p.read_text())) for p in sorted(CORPUS.glob("*.json"))]
    for item in inputs:
        if item.kind not in KINDS:
            raise ValueError(f"{item.name}: unknown kind {item.kind!r}")
    return inputs


def generate(spec: dict[str, Any]) -> bytes:
    generator = spec["generator"]
    if generator == "deep-nesting":
        depth = int(spec["depth"])
        return b"[" * depth + b"]" * depth
    if generator == "padding":
        event = copy.deepcopy(spec["base"])
        event["data"]["padding"] = "A" * int(spec["bytes"])
        return json.dumps(event).encode()
    if generator == "long-field":
        event = copy.deepcopy(spec["base"])
        event["data"][spec["field"]] = event["data"][spec["field"]] + "/x" * (int(spec["bytes"]) // 2)
        return json.dumps(event).encode()
    if generator == "batch":
        return json.dumps([{**spec["base"], "id": f"{spec['base']['id']}-{i}"} for i in range(int(spec["count"]))]).encode()
    if generator == "runbook-vms":
        vms = {f"00000000-0000-4000-8000-{i:012d}": {"RoleName": f"vm{i}"} for i in range(int(spec["count"]))}
        return json.dumps({"RecoveryPlanName": "asr-s2d-s2dclu01", "FailoverType": "Unplanned",
                           "FailoverDirection": "PrimaryToSecondary", "VmMap": vms}).encode()
    if generator == "runbook-bytes":
        return json.dumps({"RecoveryPlanName": "asr-s2d-s2dclu01", "FailoverType": "Unplanned",
                           "FailoverDirection": "PrimaryToSecondary", "GroupId": "x" * int(spec["bytes"]),
                           "VmMap": {}}).encode()
    if generator == "runbook-nesting":
        depth = int(spec["depth"])
        return b'{"VmMap": ' + b"[" * depth + b"]" * depth + b"}"
    raise ValueError(f"unknown generator {generator!r}")


def prepare_tags(emu: Any, world: dict[str, Any], spec: dict[str, Any]) -> str:
    """The world a ``tags`` input needs (written straight into the emulated world: no events), and the ID of the
    resource whose tags the operator then writes."""
    setup = spec.get("setup") or {}
    sub, rg, region = world["subscription_id"], world["source_resource_group"], world["source_region"]
    with emu.world.lock:
        extra = setup.get("extra_nodes")
        if extra:
            subnet_id = world["source_subnet_id"]
            where = extra.get("region", region)
            if where != region:
                vnet = network.add_virtual_network(emu.world, subscription_id=sub, resource_group=rg,
                                                   name=f"vnet-{where}", location=where,
                                                   address_prefixes=["10.50.0.0/16"], subnets={"snet": "10.50.1.0/24"})
                subnet_id = vnet["properties"]["subnets"][0]["id"]
            for index in range(int(extra["count"])):
                name = f"extra-{where}-{index}"
                nic = network.create_nic(emu.world, subscription_id=sub, resource_group=rg, name=f"{name}-nic",
                                         location=where, subnet_id=subnet_id)
                compute.create_vm(emu.world, subscription_id=sub, resource_group=rg, name=name, location=where,
                                  nic_ids=[nic["id"]], tags=dict(extra["tags"]), power_state="running")
        if setup.get("node2_tags"):
            emu.world.get(world["vm_ids"][1])["tags"].update(setup["node2_tags"])
        target = setup.get("target", "vm")
        if target == "availability_set":
            return str(world["availability_set_id"])
        if target == "resource_group":
            return f"/subscriptions/{sub}/resourceGroups/{rg}"
        if target == "dr_vm":
            dr_rg, dr_region = world["dr_resource_group"], world["target_region"]
            nic = network.create_nic(emu.world, subscription_id=sub, resource_group=dr_rg, name="s2d-node1-nic",
                                     location=dr_region, subnet_id=world["recovery_subnet_id"])
            vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=dr_rg, name="s2d-node1",
                                   location=dr_region, nic_ids=[nic["id"]], power_state="running")
            return str(vm["id"])
    return str(world["vm_ids"][0])
