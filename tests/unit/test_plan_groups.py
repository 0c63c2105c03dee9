"""A recovery plan update resends the groups as read: members change, groups and actions stay."""

from __future__ import annotations

from typing import Any

from shared.azure.site_recovery import plan_from_wire, plan_groups

RUNBOOK = {"actionName": "ip", "failoverTypes": ["UnplannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
           "customDetails": {"instanceType": "AutomationRunbookActionDetails", "runbookId": "rb"}}
MANUAL = {"actionName": "call the DBA", "customDetails": {"instanceType": "ManualActionDetails"}}


def group(kind: str, *items: str, start: list[Any] | None = None, end: list[Any] | None = None) -> dict[str, Any]:
    return {"groupType": kind, "replicationProtectedItems": [{"id": i, "virtualMachineId": f"vm-{i}"} for i in items],
            "startGroupActions": start or [], "endGroupActions": end or []}


def test_members_leave_their_group_and_new_ones_join_the_first_boot_group_every_action_kept() -> None:
    current = [group("Shutdown"), group("Failover", start=[MANUAL]), group("Boot", "A", "B", end=[RUNBOOK]),
               group("Boot", "C", start=[MANUAL])]
    groups = plan_groups(current, (("a", "vm-a"), ("C", "vm-C"), ("D", "vm-D")))
    assert [g["groupType"] for g in groups] == ["Shutdown", "Failover", "Boot", "Boot"]
    assert [[i["id"] for i in g["replicationProtectedItems"]] for g in groups] == [[], [], ["a", "D"], ["C"]]
    assert groups[1]["startGroupActions"] == [MANUAL] and groups[2]["endGroupActions"] == [RUNBOOK]
    assert groups[3]["startGroupActions"] == [MANUAL]
    assert current[2]["replicationProtectedItems"][1]["id"] == "B"  # the plan read is not changed in place


def test_a_plan_without_a_boot_group_gets_one_and_a_new_plan_is_one_boot_group() -> None:
    assert plan_groups([group("Shutdown")], (("A", "vm-A"),))[1] == group("Boot", "A")
    assert plan_groups([], (("A", "vm-A"), ("B", "vm-B"))) == [group("Boot", "A", "B")]


def test_an_item_listed_twice_is_kept_once() -> None:
    groups = plan_groups([group("Boot", "A"), group("Boot", "A")], (("A", "vm-A"),))
    assert [len(g["replicationProtectedItems"]) for g in groups] == [1, 0]


def test_the_plan_read_names_its_boot_groups_runbook_post_actions_only() -> None:
    raw = {"id": "p", "name": "p", "properties": {"groups": [
        group("Shutdown", end=[RUNBOOK]), group("Boot", "A", start=[RUNBOOK], end=[MANUAL, RUNBOOK])]}}
    assert plan_from_wire(raw).runbook_actions == ("ip",)
