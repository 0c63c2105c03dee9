"""The asr-s2d Functions app: one blueprint per trigger, nothing heavy at import.

Only ``azure.functions`` and the thin trigger modules load here; services and management SDKs load
on first use, so a cold start that ends in "ignored" stays cheap.
"""

import azure.functions as func

from functions import drift_audit, drill, failover_completed, vm_tags_changed, worker

app = func.FunctionApp()
app.register_functions(vm_tags_changed.bp)
app.register_functions(failover_completed.bp)
app.register_functions(drift_audit.bp)
app.register_functions(drill.bp)
app.register_functions(worker.bp)
