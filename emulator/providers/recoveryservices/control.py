"""Control endpoints for Site Recovery (under ``/_emulator/asr/``): what tests and the demo use to make
time pass or to degrade replication, never reachable through ARM.

- ``GET|PUT asr/config``: ``{"initial_replication_seconds": float, "auto_progress": bool, "rpo_seconds": int}``
  (see ``state.ReplicationConfig``).
- ``POST asr/advance``: ``{"to": "Protected" | "InitialReplication", "item": <item ID>?, "percent": int?}``;
  without ``item``, every replicating item moves. Answers ``{"items": [{"id", "protectionState", ...}]}``.
- ``POST asr/health``: ``{"item": <item ID>, "replicationHealth": "Critical", "rpoInSeconds": 7200,
  "healthErrors": [{"errorCode", "errorMessage", ...}]}``; ``{"item": ..., "reset": true}`` unpins.
- ``GET asr/jobs?vault=<vault ID>&state=InProgress``: the jobs (newest first).
- ``POST asr/settle``: completes every running operation (and so every ASR job), as time would.
- ``POST asr/jobs/fail``: ``{"job": <job ID or name>, "code": str?, "message": str?}`` ends a job ``Failed`` after
  its work was done, as a recovery plan's failover job ends when a step after the failover fails (a post-action
  runbook or script: each is a step of the plan's job, "Add Azure Automation runbooks to recovery plans",
  learn.microsoft.com/azure/site-recovery/site-recovery-runbook-automation): the items stay failed over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.providers.recoveryservices import items, jobs, replication
from emulator.providers.recoveryservices.state import ITEM_TYPE, JOB_TYPE, asr_state, same_id

if TYPE_CHECKING:
    from emulator.core.http import Host


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _item(emu: Host, item_id: Any) -> dict[str, Any]:
    found = emu.world.get(str(item_id or ""))
    if found is None or found.get("type") != ITEM_TYPE:
        raise KeyError(f"replicated item {item_id}")
    return found


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    p = item["properties"]
    return {"id": item["id"], "protectionState": p["protectionState"], "replicationHealth": p["replicationHealth"],
            "testFailoverState": p["testFailoverState"],
            "monitoringPercentageCompletion": p["providerSpecificDetails"].get("monitoringPercentageCompletion"),
            "rpoInSeconds": p["providerSpecificDetails"].get("rpoInSeconds")}


def register(emu: Host) -> None:
    world = emu.world

    def get_config(params: dict[str, str], body: Any) -> dict[str, Any]:
        return asr_state(world).config.to_json()

    def put_config(params: dict[str, str], body: Any) -> dict[str, Any]:
        config = asr_state(world).config
        with world.lock:
            config.update(_object(body))
        return config.to_json()

    def advance(params: dict[str, str], body: Any) -> dict[str, Any]:
        data = _object(body)
        to = str(data.get("to", "Protected"))
        with world.lock:
            if data.get("item"):
                targets = [_item(emu, data["item"])]
            else:
                targets = [i for i in items.all_items(world) if i["properties"]["protectionState"] in
                           (items.State.ENABLING, items.State.INITIAL_REPLICATION)]
            for item in targets:
                replication.advance(world, item, to, percent=data.get("percent"))
            return {"items": [_summary(replication.refresh(world, i)) for i in targets]}

    def health(params: dict[str, str], body: Any) -> dict[str, Any]:
        data = dict(_object(body))
        with world.lock:
            item = _item(emu, data.pop("item", None))
            replication.set_health(world, item, data)
            return _summary(item)

    def list_jobs(params: dict[str, str], body: Any) -> list[dict[str, Any]]:
        found = [j for j in world.all() if j.get("type") == JOB_TYPE]
        if params.get("vault"):
            # Job IDs start with /Subscriptions/ (ASR's casing); the vault ID may not.
            found = [j for j in found if same_id(j["id"].rsplit("/replicationJobs/", 1)[0], params["vault"])]
        if params.get("state"):
            found = [j for j in found if j["properties"]["state"].lower() == params["state"].lower()]
        order = asr_state(world).job_sequence
        return sorted(found, key=lambda j: -order.get(j["id"].lower(), -1))

    def settle(params: dict[str, str], body: Any) -> dict[str, Any]:
        with world.lock:
            settled = emu.lro.settle()
            state = asr_state(world)
            for job_id, op_id in state.job_operations.items():
                job = world.get(job_id)
                if job is not None and job["properties"]["state"] == "InProgress":
                    op = emu.lro.get(op_id)
                    if op.status == "Failed":
                        jobs.fail(world, job, op.error or {"code": "OperationFailed", "message": "failed"})
        return {"settled": settled}

    emu.control("GET", "asr/config", get_config)
    emu.control("PUT", "asr/config", put_config)
    emu.control("POST", "asr/advance", advance)
    emu.control("POST", "asr/health", health)
    emu.control("GET", "asr/jobs", list_jobs)
    def fail_job(params: dict[str, str], body: Any) -> dict[str, Any]:
        data = _object(body)
        wanted = str(data.get("job") or "").rstrip("/").rsplit("/", 1)[-1].lower()
        with world.lock:
            job = next((j for j in world.all() if j.get("type") == JOB_TYPE and j["name"].lower() == wanted), None)
            if job is None:
                raise KeyError(f"job {data.get('job')}")
            jobs.fail(world, job, {"code": str(data.get("code") or "RunbookActionFailed"),
                                   "message": str(data.get("message") or "A recovery plan action failed.")})
            return {"id": job["id"], "state": job["properties"]["state"]}

    emu.control("POST", "asr/settle", settle)
    emu.control("POST", "asr/jobs/fail", fail_job)
