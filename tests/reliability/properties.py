"""Event-order properties: worlds of up to four clusters, tag writes in rounds, and their events delivered
duplicated, shuffled, deferred to a later round and spread over threads, as Event Grid does.

The model of what must come out (``Model``): an event pokes its VM's cluster when, at delivery, the VM is
tagged ``asr-s2d=true``; a poke protects every node of the cluster tagged at that moment, in the cluster's
group. A node whose tag is removed after it was protected stays protected (asr-s2d never disables; it
reports). So at the end, each cluster's group holds exactly the nodes that were tagged when the cluster was
poked, every currently tagged node among them, and no node is enabled twice.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.mgmt.resource.resources import ResourceManagementClient
from hypothesis import strategies as st

from emulator import Emulator
from emulator.core.events import Subscriber
from emulator.core.faults import FaultRule
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.core.throttle import ThrottleConfig
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.recoveryservices.state import ITEM_TYPE
from emulator.settings import app_env
from shared.azure.clients import Clients
from shared.config import Settings
from shared.enrollment import service as enrollment
from shared.errors import TransientError
from shared.runtime import Runtime

# Examples per property; deterministic (derandomized) so CI runs the same worlds every time.
EXAMPLES = {"any_order": 12, "any_order_with_faults": 6}
UNTAG = ("untag-false", "untag-delete")
# Faults on the app's calls only: the operator's tag writes (the Tags API) must land to produce the events.
APP_CALLS = r"^/subscriptions/(?!.*/providers/Microsoft\.Resources/tags/default)"


@dataclass(frozen=True)
class Scenario:
    sizes: tuple[int, ...]  # nodes per cluster
    rounds: tuple[tuple[tuple[tuple[int, int], str], ...], ...]  # ((cluster, node), action) per round

    def node_name(self, node: tuple[int, int]) -> str:
        return f"c{node[0]}-n{node[1]}"


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    sizes = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=4)))
    nodes = [(c, n) for c, size in enumerate(sizes) for n in range(size)]
    op = st.tuples(st.sampled_from(nodes), st.sampled_from(("tag", "tag", *UNTAG)))
    rounds = draw(st.lists(st.lists(op, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3))
    return Scenario(sizes, tuple(rounds))


@dataclass
class Model:
    tagged: dict[int, set[str]] = field(default_factory=dict)
    protected: dict[int, set[str]] = field(default_factory=dict)

    def apply(self, cluster: int, name: str, action: str) -> None:
        nodes = self.tagged.setdefault(cluster, set())
        if action == "tag":
            nodes.add(name)
        else:
            nodes.discard(name)

    def deliver(self, pokes: list[tuple[int, str]]) -> None:
        """A round's deliveries: the tag state is the same for all of them (writes happen between rounds)."""
        for cluster in {c for c, name in pokes if name in self.tagged.get(c, set())}:
            self.protected.setdefault(cluster, set()).update(self.tagged[cluster])


class World:
    """One example's world: the demo seed plus the scenario's clusters, a runtime on a fresh container."""

    def __init__(self, emu: Emulator, azurite: str, operator_sdk: Callable[..., Any], scenario: Scenario, *,
                 fault_rate: float = 0.0, seed: int = 0) -> None:
        self.emu, self.scenario = emu, scenario
        emu.reset()
        emu.throttle.reset(ThrottleConfig(enabled=False))  # wall-clock throttling is not under test here
        demo = emu.seed("demo")
        self.vm_ids: dict[str, str] = {}
        with emu.world.lock:
            for cluster, size in enumerate(scenario.sizes):
                for index in range(size):
                    name = scenario.node_name((cluster, index))
                    nic = network.create_nic(emu.world, subscription_id=demo["subscription_id"],
                                             resource_group=demo["source_resource_group"], name=f"{name}-nic",
                                             location=demo["source_region"], subnet_id=demo["source_subnet_id"])
                    vm = compute.create_vm(emu.world, subscription_id=demo["subscription_id"],
                                           resource_group=demo["source_resource_group"], name=name,
                                           location=demo["source_region"], nic_ids=[nic["id"]],
                                           os_disk={"name": f"{name}-os", "size_gb": 64}, power_state="running")
                    self.vm_ids[name] = vm["id"]
        env = app_env(emu, demo, azurite_connection_string=azurite)
        env.update(STATE_CONTAINER=f"p{uuid.uuid4().hex[:20]}", WORK_QUEUE=f"p{uuid.uuid4().hex[:20]}",
                   ARM_RETRY_TOTAL="0" if fault_rate else "3")
        settings = Settings.from_env(env)
        self.rt = Runtime.build(settings, clients=Clients(settings))
        self.tags = operator_sdk(ResourceManagementClient)
        self.subscriber = emu.events.subscribe(Subscriber(mode="pull")).id
        if fault_rate:
            emu.faults.add(FaultRule(action="status", status=503, probability=fault_rate, seed=seed, path=APP_CALLS))
        self.kinds: Counter[str] = Counter()
        self.rejections: list[str] = []

    def write(self, node: tuple[int, int], action: str) -> list[dict[str, Any]]:
        """The operator's tag write through the ARM Tags API; returns the events it caused."""
        name = self.scenario.node_name(node)
        if action == "tag":
            body = {"operation": "Merge", "properties": {"tags": {"asr-s2d": "true", "asr-s2d-cluster": f"c{node[0]}"}}}
        elif action == "untag-false":
            body = {"operation": "Merge", "properties": {"tags": {"asr-s2d": "false"}}}
        else:
            body = {"operation": "Delete", "properties": {"tags": {"asr-s2d": "true"}}}
        self.tags.tags.begin_update_at_scope(self.vm_ids[name], body).result()
        return [e for e in self.emu.events.drain(self.subscriber)
                if e["data"]["operationName"] == "Microsoft.Resources/tags/write"]

    def deliver(self, batches: list[list[dict[str, Any]]]) -> None:
        """Each batch on its own thread; a transient failure is redelivered after time passes (Event Grid)."""
        errors: list[BaseException] = []

        def run(batch: list[dict[str, Any]]) -> None:
            try:
                for event in batch:
                    failures: list[str] = []
                    for _attempt in range(20):
                        try:
                            outcome = enrollment.handle(event, self.rt)
                        except TransientError as err:
                            failures.append(str(err))
                            self.emu.handle_control("POST", "/_emulator/asr/settle", {}, b"")
                            continue
                        self.kinds[outcome.kind] += 1
                        if outcome.kind == "rejected":
                            self.rejections.append(outcome.reason)
                        break
                    else:
                        raise AssertionError(f"event {event['id']} failed 20 deliveries: {failures[-3:]}")
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=run, args=(b,), daemon=True) for b in batches if b]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        if errors:
            raise errors[0]

    def groups(self) -> dict[str, set[str]]:
        """Protected VMs by multi-VM group, read from the emulated vault."""
        names = {v.lower(): k for k, v in self.vm_ids.items()}
        out: dict[str, set[str]] = {}
        with self.emu.world.lock:
            for item in self.emu.world.by_type(ITEM_TYPE):
                details = item["properties"]["providerSpecificDetails"]
                out.setdefault(details.get("multiVmGroupName") or "-", set()).add(
                    names.get(details["fabricObjectId"].lower(), details["fabricObjectId"]))
        return out

    def group_ids(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        with self.emu.world.lock:
            for item in self.emu.world.by_type(ITEM_TYPE):
                details = item["properties"]["providerSpecificDetails"]
                out.setdefault(details.get("multiVmGroupName") or "-", set()).add(details.get("multiVmGroupId"))
        return out

    def enable_puts(self) -> Counter[str]:
        """Successful enable PUTs by protected item (a PUT that failed on an injected fault did not happen)."""
        return Counter(e.path.lower() for e in self.emu.journal.entries()
                       if e.method == "PUT" and "/replicationprotecteditems/" in e.path.lower()
                       and e.principal == APP_PRINCIPAL_ID and e.status < 400 and not e.fault)


def play(world: World, scenario: Scenario, data: st.DataObject) -> Model:
    """Run the scenario's rounds: writes, then this round's deliveries (some deferred, duplicated, shuffled,
    spread over threads). The last round delivers everything still pending."""
    model = Model()
    pending: list[tuple[dict[str, Any], tuple[int, str]]] = []
    for number, ops in enumerate(scenario.rounds):
        for node, action in ops:
            events = world.write(node, action)
            model.apply(node[0], scenario.node_name(node), action)
            copies = data.draw(st.integers(1, 2), label="copies")
            pending += [(e, (node[0], scenario.node_name(node))) for e in events for _ in range(copies)]
        last = number == len(scenario.rounds) - 1
        defer = [False] * len(pending) if last else data.draw(
            st.lists(st.booleans(), min_size=len(pending), max_size=len(pending)), label="defer")
        now = [p for p, later in zip(pending, defer, strict=True) if not later]
        pending = [p for p, later in zip(pending, defer, strict=True) if later]
        order = data.draw(st.permutations(now), label="order") if now else []
        threads = data.draw(st.integers(1, 4), label="threads")
        model.deliver([poke for _event, poke in order])
        world.deliver([[e for e, _ in order[i::threads]] for i in range(threads)])
    assert not pending
    return model


def check(world: World, model: Model) -> None:
    expected = {f"c{c}": nodes for c, nodes in model.protected.items() if nodes}
    groups = world.groups()
    assert groups == expected, f"protected by group {groups}, expected {expected}"
    for cluster, tagged in model.tagged.items():
        assert tagged <= groups.get(f"c{cluster}", set()), f"cluster c{cluster}: tagged {tagged} not all protected"
    assert all(len(ids) == 1 for ids in world.group_ids().values()), world.group_ids()
    twice = {path: n for path, n in world.enable_puts().items() if n > 1}
    assert not twice, f"nodes enabled more than once: {twice}"
    assert not set(world.kinds) - {"enabled", "unchanged", "changed", "ignored", "rejected"}, dict(world.kinds)
    # The one refusal an untag can earn: asr-s2d deleted while asr-s2d-cluster stays is a near miss (issue 16).
    assert all("names a cluster but asr-s2d is not 'true'" in r for r in world.rejections), world.rejections
