"""What the app must never do, whatever arrives: act outside the allowed subscriptions, enroll a DR-region or
recovered VM, react to its own writes, put a tag value into script text, write a secret into a log line, or
disable or delete anything a setting does not allow."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator.azurite import KEY as AZURITE_KEY
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.resources.state import add_group, add_subscription
from shared import scripts
from shared.audit import service as audit
from shared.errors import LeaseLost
from shared.failover import service as failover
from tests.reliability import figures, hostile
from tests.reliability.story import ACTION, CLUSTER, CLUSTER_TAGS, Story
from tests.work import runbook

OTHER_SUBSCRIPTION = "0a1b2c3d-0000-4000-8000-00000000beef"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")
PARAMETERS = {"IPAddress": r"^\d{1,3}(\.\d{1,3}){3}$", "ProbePort": r"^\d{1,5}$",
              "SubnetPrefix": r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$"}


def run_commands(story: Story) -> list[dict[str, Any]]:
    status, runs = story.emu.handle_control("GET", "/_emulator/guest/run-commands", {}, b"")
    assert status == 200
    return list(runs)


def deliver_everything(story: Story, events: list[dict[str, Any]]) -> list[Any]:
    """Every event to the function its type routes it to (recovered VMs' writes included), as delivered."""
    outcomes = []
    for event in events:
        outcome = story.deliver(event)
        assert outcome is not None, f"event {event['data']['operationName']} raised"
        outcomes.append(outcome)
    return outcomes


def full_story(story: Story, tags: dict[str, str]) -> list[Any]:
    """Tag, enroll, protect, drill (test failover, cleanup), fail over; every event delivered to its function.
    Returns the outcomes."""
    story.begin_world()
    client = story.operator_sdk(ResourceManagementClient)
    for vm_id in story.world["vm_ids"]:
        client.tags.begin_update_at_scope(vm_id, {"operation": "Merge", "properties": {"tags": tags}}).result()
    outcomes = deliver_everything(story, story.drain())
    story.time_passes()
    outcomes += deliver_everything(story, story.drain())  # the app's own writes come back as events
    for action in (story.test_failover, story.cleanup, story.failover):
        actions = action()
        outcomes += deliver_everything(story, actions + story.others)
        story.time_passes()
    outcomes += deliver_everything(story, story.drain())
    return outcomes


def _all_events(story: Story) -> list[dict[str, Any]]:
    return story.drain()


# -- scope --------------------------------------------------------------------------------------------------

def test_only_allowed_subscriptions_are_read_or_written(story: Story) -> None:
    world = story.begin_world()
    with story.emu.world.lock:
        add_subscription(story.emu.world, OTHER_SUBSCRIPTION, "someone else's")
        add_group(story.emu.world, OTHER_SUBSCRIPTION, "rg-other", world["source_region"])
        vnet = network.add_virtual_network(story.emu.world, subscription_id=OTHER_SUBSCRIPTION, resource_group="rg-other",
                                           name="vnet-other", location=world["source_region"],
                                           address_prefixes=["10.60.0.0/16"], subnets={"snet": "10.60.1.0/24"})
        nic = network.create_nic(story.emu.world, subscription_id=OTHER_SUBSCRIPTION, resource_group="rg-other",
                                 name="other-nic", location=world["source_region"],
                                 subnet_id=vnet["properties"]["subnets"][0]["id"])
        other = compute.create_vm(story.emu.world, subscription_id=OTHER_SUBSCRIPTION, resource_group="rg-other",
                                  name="other-node", location=world["source_region"], nic_ids=[nic["id"]],
                                  power_state="running")
    client = story.operator_sdk(ResourceManagementClient, OTHER_SUBSCRIPTION)
    client.tags.begin_update_at_scope(other["id"], {"operation": "Merge", "properties": {"tags": CLUSTER_TAGS}}).result()
    foreign = story.drain()
    events = story.tag_nodes()
    since = story.emu.journal.last_seq
    outcomes = deliver_everything(story, foreign + events)
    assert outcomes[0].kind == "ignored" and "ALLOWED_SUBSCRIPTION_IDS" in outcomes[0].reason
    assert outcomes[1].kind == "enabled"
    audit.run_audit(story.runtime, repair=True, trigger="test")
    touched = {e.path.split("/")[2].lower() for e in story.emu.journal.entries(since=since)
               if e.principal == APP_PRINCIPAL_ID and e.path.lower().startswith("/subscriptions/")}
    assert touched == {world["subscription_id"].lower()}


def test_recovered_and_test_failover_vms_are_never_enrolled_though_they_carry_the_tags(story: Story) -> None:
    outcomes = full_story(story, CLUSTER_TAGS)
    dr = story.world["target_region"]
    dr_vms = [v for v in story.emu.world.by_type("Microsoft.Compute/virtualMachines") if v["location"] == dr]
    assert dr_vms and all(v["tags"].get("asr-s2d") == "true" for v in dr_vms), "ASR copies the source's tags"
    # An operator touching a recovered VM's tags sends one more event for it.
    client = story.operator_sdk(ResourceManagementClient)
    for vm in dr_vms:
        client.tags.begin_update_at_scope(vm["id"], {"operation": "Merge", "properties": {"tags": {"owner": "ops"}}}).result()
    retagged = deliver_everything(story, story.drain())
    assert [o.kind for o in retagged] == ["ignored"] * len(dr_vms)
    assert all("target region" in o.reason for o in retagged)
    audit.run_audit(story.runtime, repair=True, trigger="test")
    enabled = [e.body["properties"]["providerSpecificDetails"]["fabricObjectId"].lower()
               for e in story.emu.journal.entries()
               if e.method == "PUT" and "/replicationprotecteditems/" in e.path.lower() and e.principal == APP_PRINCIPAL_ID]
    assert sorted(enabled) == sorted(v.lower() for v in story.world["vm_ids"])
    assert [o.kind for o in outcomes if o.kind not in ("ignored",)].count("enabled") == 1
    figures.count("security_story_events", len(outcomes) + len(retagged))


def test_events_of_the_apps_own_writes_are_ignored_and_write_nothing(story: Story) -> None:
    story.deliver_all(story.begin("enroll"))
    own = [e for e in story.drain() if e["data"]["claims"][
        "http://schemas.microsoft.com/identity/claims/objectidentifier"] == APP_PRINCIPAL_ID]
    assert len(own) >= 10
    since = story.emu.journal.last_seq
    outcomes = deliver_everything(story, own)
    assert {o.kind for o in outcomes} == {"ignored"} and all("own identity" in o.reason for o in outcomes)
    assert story.app_writes(since) == []


# -- Run Command ------------------------------------------------------------------------------------------

def test_run_command_gets_values_only_as_parameters_on_the_normal_path(story: Story) -> None:
    tags = {**CLUSTER_TAGS, "asr-s2d-dr-ip": "10.20.1.10", "asr-s2d-probe-port": "59998"}
    full_story(story, tags)
    runs = run_commands(story)
    assert len(runs) == 2, runs  # the drill's test failover, then the failover
    # Every value a tag carries into the app (asr-s2d=true aside: "true" is PowerShell's $true too).
    values = {v for vm in story.emu.world.by_type("Microsoft.Compute/virtualMachines") for k, v in vm["tags"].items()
              if k.startswith("asr-s2d-")}
    values |= {p["value"] for run in runs for p in run["parameters"]}
    for run in runs:
        assert run["script"] == list(scripts.lines(scripts.SET_CLUSTER_IP)), "the script sent is not the shipped one"
        assert not [(v, line) for line in run["script"] for v in values if len(v) > 3 and v in line]
        assert {p["name"] for p in run["parameters"]} == set(PARAMETERS)
        for p in run["parameters"]:
            assert re.match(PARAMETERS[p["name"]], p["value"]), p
    assert [p["value"] for p in runs[-1]["parameters"] if p["name"] in ("IPAddress", "ProbePort")] == ["10.20.1.10", "59998"]


FAILOVER_INPUTS = [i for i in hostile.load_corpus() if i.spec.get("failover")]


@pytest.mark.parametrize("item", FAILOVER_INPUTS, ids=lambda i: i.name)
def test_hostile_tags_written_after_enrollment_never_reach_the_guest(story: Story, item: hostile.Input) -> None:
    """An attacker with tag-write rights changes a protected cluster's tags; ASR copies them to the recovered
    VMs. The tag event is refused, and after the failover neither the event, the runbook nor the audit runs
    anything in the guest or writes anything."""
    story.restore("protected")
    client = story.operator_sdk(ResourceManagementClient)
    for vm_id in story.world["vm_ids"]:
        client.tags.begin_update_at_scope(vm_id, {"operation": "Merge", "properties": {"tags": item.spec["tags"]}}).result()
    refused = deliver_everything(story, story.drain())
    assert {o.kind for o in refused} == {"rejected"}
    events = story.failover()
    since = story.emu.journal.last_seq
    outcome = story.deliver(events[0])
    assert outcome is not None and outcome.kind == "rejected" and item.spec["reason_contains"] in outcome.reason
    status, body = runbook(story.runbook_context("failover"), story.runtime)
    assert status == 400 and body["outcome"] == "rejected"
    audit.run_audit(story.runtime, repair=True, trigger="test")
    assert story.app_writes(since) == []
    assert run_commands(story) == []
    figures.count("hostile_inputs_at_failover")


# -- secrets in logs --------------------------------------------------------------------------------------

@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="shared")
    caplog.set_level(logging.DEBUG, logger="functions")
    caplog.set_level(logging.INFO, logger="azure")
    yield caplog


def test_no_token_key_or_connection_string_in_any_log_line(story: Story, all_logs: pytest.LogCaptureFixture) -> None:
    from azure.storage.blob import BlobClient, BlobLeaseClient

    from emulator.core.faults import FaultRule

    full_story(story, CLUSTER_TAGS)
    # Failure paths log too: a throttled read, a dropped connection, a lease taken away.
    event = story.tag_nodes({"owner": "ops"})[0]
    for rule in (FaultRule(action="status", status=429, retry_after=1, method="GET", count=1),
                 FaultRule(action="reset", method="GET", count=1)):
        story.emu.faults.add(rule)
        assert story.deliver(event) is None
        story.emu.faults.clear()
    audit.run_audit(story.runtime, repair=True, trigger="test")
    failover.reassign_cluster(CLUSTER, story.runtime)
    blob = BlobClient.from_connection_string(story.azurite, story.runtime.settings.state_container, story.lock_blob())
    with story.runtime.lock(f"{story.world['subscription_id'].lower()}/{CLUSTER}") as lock:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
        with pytest.raises(LeaseLost):  # the renewal (every 5 s) fails and logs why
            for _tick in range(100):
                lock.check()
                time.sleep(0.1)

    scope = story.runtime.settings.arm_endpoint + "/.default"
    app_token = story.runtime.clients.credential.get_token(scope).token
    secrets = {"the app's bearer token": app_token, "the Azurite account key": AZURITE_KEY,
               "IDENTITY_HEADER": story.emu.identity_header}
    shapes = {"AccountKey=": "accountkey=", "sig=": "sig=", "Authorization: Bearer": "authorization: bearer"}
    records = all_logs.records
    assert len(records) > 100, "the run logged almost nothing: the capture is not working"
    leaks = []
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        text += " ".join(str(v) for k, v in vars(record).items() if k not in ("msg", "args", "exc_info"))
        leaks += [(name, record.name, text[:300]) for name, secret in secrets.items() if secret in text]
        leaks += [(name, record.name, text[:300]) for name, shape in shapes.items() if shape in text.lower()]
        leaks += [("a JWT", record.name, text[:300]) for _ in JWT.findall(text)]
    assert not leaks, leaks


# -- nothing disabled or deleted ------------------------------------------------------------------------------

def _removals(story: Story, since: int = 0) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in story.emu.journal.entries(since=since) if e.principal == APP_PRINCIPAL_ID
            and (e.method == "DELETE" or e.path.lower().endswith(("/remove", "/disableprotection")))]


def test_with_default_settings_nothing_is_disabled_or_deleted_but_the_drills_own_load_balancer(story: Story) -> None:
    full_story(story, CLUSTER_TAGS)
    # A node leaves its cluster's tags and the other moves to another cluster: reported, never undone by the app.
    client = story.operator_sdk(ResourceManagementClient)
    node1, node2 = story.world["vm_ids"]
    client.tags.begin_update_at_scope(node2, {"operation": "Merge", "properties": {"tags": {"asr-s2d": "false"}}}).result()
    client.tags.begin_update_at_scope(node1, {"operation": "Merge", "properties": {
        "tags": {"asr-s2d-cluster": "elsewhere"}}}).result()
    deliver_everything(story, story.drain())
    audit.run_audit(story.runtime, repair=True, trigger="test")
    removals = _removals(story)
    assert [m for m, _ in removals] == ["DELETE"], removals
    staged = next(e for e in story.emu.journal.entries() if e.method == "PUT" and e.path == removals[0][1])
    assert staged.principal == APP_PRINCIPAL_ID
    assert staged.body["tags"] == {"asr-s2d-cluster": CLUSTER, "managed-by": "asr-s2d", "asr-s2d-purpose": "test-failover"}


def test_with_allow_disable_replication_only_the_node_outside_its_group_is_disabled(
        emu: Any, azurite_server: Any, operator_sdk: Any) -> None:
    story = Story(emu, azurite_server.connection_string, operator_sdk, ALLOW_DISABLE_REPLICATION="true")
    story.begin_world()
    node1, node2 = story.world["vm_ids"]
    story.deliver_all(story.tag_nodes({"asr-s2d": "true", "asr-s2d-cluster": "alpha"}, [node1]))
    story.time_passes()
    item = next(i["id"] for i in story.emu.world.by_type("Microsoft.RecoveryServices/vaults/replicationFabrics/"
                                                           "replicationProtectionContainers/replicationProtectedItems")
                if i["properties"]["providerSpecificDetails"]["fabricObjectId"].lower() == node1.lower())
    since = story.emu.journal.last_seq
    story.tag_nodes(CLUSTER_TAGS, [node1])
    deliver_everything(story, story.tag_nodes(CLUSTER_TAGS, [node2]))
    assert [(m, path.lower()) for m, path in _removals(story, since)] == [("POST", f"{item}/remove".lower())]


def test_the_hostile_events_deliver_to_no_function_that_writes(story: Story) -> None:
    """Action events of the corpus reach the failover function; it refuses or ignores them and writes nothing."""
    story.begin_world()
    since = story.emu.journal.last_seq
    actions = [i for i in hostile.load_corpus() if i.kind == "event" and i.spec["payload"].get("eventType") == ACTION]
    assert actions
    for item in actions:
        assert failover.handle(item.spec["payload"], story.runtime).kind == item.spec["expect"], item.name
    assert story.app_writes(since) == []
