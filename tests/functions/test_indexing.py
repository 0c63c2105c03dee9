"""The Functions host's view of the app: exactly these functions and bindings, and a cheap cold start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "on_vm_tags_changed": [{"name": "event", "type": "eventGridTrigger", "direction": "IN"}],
    "on_failover_completed": [{"name": "event", "type": "eventGridTrigger", "direction": "IN"}],
    "on_recovery_plan_runbook": [
        {"name": "req", "type": "httpTrigger", "direction": "IN", "authLevel": "FUNCTION", "methods": ["POST", "GET"],
         "route": "failover/runbook"},
        {"name": "$return", "type": "http", "direction": "OUT"}],
    "on_drift_audit": [{"name": "timer", "type": "timerTrigger", "direction": "IN",
                        "schedule": "%DRIFT_AUDIT_SCHEDULE%", "runOnStartup": False, "useMonitor": True}],
    "on_drill_schedule": [{"name": "timer", "type": "timerTrigger", "direction": "IN",
                           "schedule": "%DRILL_SCHEDULE%", "runOnStartup": False, "useMonitor": True}],
    # The worker: one bounded step per message of the work queue (host.json's queues settings).
    "on_work": [{"name": "msg", "type": "queueTrigger", "direction": "IN", "queueName": "%WORK_QUEUE%",
                 "connection": "WORK_QUEUE_CONNECTION"}],
    "status_page": [
        {"name": "req", "type": "httpTrigger", "direction": "IN", "authLevel": "FUNCTION", "methods": ["GET"],
         "route": "status"},
        {"name": "$return", "type": "http", "direction": "OUT"}],
}


def _indexed() -> dict[str, list[dict[str, object]]]:
    # A fresh interpreter: get_functions() may be called only once per FunctionApp instance.
    code = ("import json, function_app\n"
            "print(json.dumps({f.get_function_name(): json.loads(f.get_function_json())['bindings'] "
            "for f in function_app.app.get_functions()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_functions_and_bindings_are_exactly_the_expected_ones() -> None:
    indexed = _indexed()
    assert sorted(indexed) == sorted(EXPECTED)
    for name, bindings in EXPECTED.items():
        got = {b["name"]: b for b in indexed[name]}
        for expected in bindings:
            actual = got[expected["name"]]
            for key, value in expected.items():
                assert actual.get(key) == value, (name, expected["name"], key, actual)


def test_cold_import_loads_no_management_sdk() -> None:
    code = ("import sys, function_app\n"
            "heavy = sorted(m for m in sys.modules if m.startswith(('azure.mgmt', 'azure.identity', "
            "'azure.storage', 'azure.eventgrid', 'azure.monitor', 'opentelemetry', 'shared.')))\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
