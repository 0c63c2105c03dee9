"""``make demo``: the whole asr-s2d story on the embedded emulator + Azurite, printed step by step.

Nothing is mocked: the app's real code runs with real SDK clients over HTTPS against the emulator,
and the events it handles are the ones the emulator publishes after the operator's writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

STEP = 0


def say(text: str) -> None:
    global STEP
    STEP += 1
    print(f"\n[{STEP}] {text}", flush=True)


def detail(text: str) -> None:
    print(f"    {text}", flush=True)


class OperatorCredential:
    def __init__(self) -> None:
        from emulator.core.identity import issue_token, operator_principal

        self._token, self._expires = issue_token(operator_principal())

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires)


def deliver(events: list[dict[str, Any]], handle: Callable[[Any, Any], Any], rt: Any) -> list[Any]:
    """Through the azure-functions converter, as the host does; transient errors are redelivered."""
    from azure.functions.eventgrid import EventGridEventInConverter
    from azure.functions.meta import Datum

    from shared.errors import TransientError

    outcomes = []
    for body in events:
        for attempt in range(8):
            event = EventGridEventInConverter.decode(Datum(type="json", value=json.dumps(body)), trigger_metadata={})
            try:
                outcomes.append(handle(event, rt))
                break
            except TransientError as err:
                detail(f"event {body['id'][:8]}: transient ({err}); Event Grid redelivers (attempt {attempt + 2})")
        else:
            raise SystemExit(f"event {body['id']} was never handled")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--chaos", type=float, default=0.0, help="fault rate injected on every ARM call (0-0.5)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fault injection and event reordering")
    args = parser.parse_args(argv)

    from azure.mgmt.resource.resources import ResourceManagementClient

    from emulator import Emulator
    from emulator.azurite import Azurite
    from emulator.core.events import Subscriber
    from emulator.settings import app_env

    started = time.monotonic()
    say("Starting the ARM emulator (HTTPS, throwaway CA) and Azurite (blob storage) on 127.0.0.1")
    emu = Emulator()
    emu.start()
    azurite = Azurite.start()
    try:
        world = emu.seed("demo")
        env = app_env(emu, world, azurite_connection_string=azurite.connection_string)
        env["STATE_CONTAINER"] = f"demo{uuid.uuid4().hex[:8]}"
        os.environ.update(env)
        detail(f"ARM endpoint {emu.endpoint}, Azurite {azurite.blob_endpoint}")
        detail(f"source: {world['source_region']} ({', '.join(v.split('/')[-1] for v in world['vm_ids'])}), "
               f"target: {world['target_region']} (vault {world['vault_id'].split('/')[-1]})")
        return run_story(emu, world, args, started, ResourceManagementClient, Subscriber)
    finally:
        emu.stop()
        azurite.stop()


def run_story(emu: Any, world: dict[str, Any], args: argparse.Namespace, started: float,
              resource_client: type, subscriber: type) -> int:
    from shared import enrollment
    from shared.config import Settings
    from shared.runtime import Runtime

    settings = Settings.from_env()
    rt = Runtime.build(settings)
    sub = emu.events.subscribe(subscriber(mode="pull", duplicate=2 if args.chaos else 1, reorder=bool(args.chaos),
                                          seed=args.seed))
    operator = resource_client(OperatorCredential(), world["subscription_id"], base_url=emu.endpoint,
                               credential_scopes=[emu.endpoint + "/.default"], connection_verify=emu.ca_bundle,
                               polling_interval=0)
    if args.chaos:
        from emulator.core.faults import FaultRule

        say(f"Chaos: {args.chaos:.0%} of ARM calls fail (429, 500, 503, resets), events duplicated and reordered")
        share = args.chaos / 4
        for action, status, seed in (("status", 429, 1), ("status", 500, 2), ("status", 503, 3), ("reset", 0, 4)):
            emu.faults.add(FaultRule(action=action, status=status or 500, retry_after=0, probability=share,
                                     seed=args.seed * 10 + seed, path=r"^/subscriptions/"))

    say("Operator tags both nodes asr-s2d=true, asr-s2d-cluster=s2dclu01 through the ARM Tags API")
    for vm_id in world["vm_ids"]:
        operator.tags.begin_update_at_scope(
            vm_id, {"operation": "Merge", "properties": {"tags": {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}}}
        ).result()
        detail(f"tagged {vm_id.split('/')[-1]}")

    events = emu.events.drain(sub.id)
    say(f"The emulator published {len(events)} Microsoft.Resources.ResourceWriteSuccess event(s); "
        "the VM-tags-changed function handles them")
    for outcome in deliver(events, enrollment.handle, rt):
        detail(f"event {outcome.event_id[:8]} -> {outcome.kind}: {outcome.reason}")
        for line in outcome.plan:
            detail(f"  - {line}")

    say("Site Recovery replicates: initial replication, then Protected")
    emu.handle_control("POST", "/_emulator/asr/advance", {}, json.dumps({"to": "Protected"}).encode())
    for item in rt.asr.list_items():
        detail(f"{item.vm_id.split('/')[-1]}: {item.protection_state}, health {item.replication_health}, "
               f"group {item.group_name}, RPO {item.rpo_seconds}s")

    from emulator.demo_failover import failover_story

    failover_story(emu, world, rt, sub.id, credential=OperatorCredential(), say=say, detail=detail, deliver=deliver)

    say("What comes next: the drift audit and a drill (see README)")
    detail(f"done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
