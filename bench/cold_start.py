"""P1 cold start: what a fresh Functions worker pays to index the app, and each trigger on its first invocation.

Every sample is a fresh interpreter (``subprocess``) timing one import with ``time.perf_counter`` inside the
process, so interpreter start-up (the same for both) is left out. Bytecode is compiled first, as the app ships
it. Samples of the two sides are interleaved so drift in the machine's load hits both alike.

- ratio: median ``import function_app`` / median bare ``import azure.functions`` (goal: at most 1.3);
- first invocation: after ``import function_app`` (untimed), the time to import the service module the trigger
  imports lazily (found by reading ``functions/*.py``), and the management SDKs a first ARM call loads.
"""

from __future__ import annotations

import ast
import compileall
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.lab import progress
from bench.report import Figure, Goal

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.3
# What the client factory imports on a first ARM call or blob access (shared/azure/clients.py).
SDKS = ("azure.identity", "azure.mgmt.compute", "azure.mgmt.network", "azure.mgmt.resource.resources",
        "azure.mgmt.recoveryservicessiterecovery", "azure.storage.blob")

_TIMER = """
import time, importlib
{setup}
t = time.perf_counter()
for name in {modules!r}:
    importlib.import_module(name)
print(time.perf_counter() - t)
"""


def lazy_imports() -> dict[str, str]:
    """``{function name: service module}`` for every trigger that imports a ``shared`` module in its body."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "functions").glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")):
            for node in ast.walk(fn):
                if not isinstance(node, ast.ImportFrom):
                    continue
                module = node.module or ""
                if module != "shared" and not module.startswith("shared."):
                    continue
                for alias in node.names:  # ``from shared.audit import service``: the service module itself
                    submodule = f"{module}.{alias.name}"
                    # The first shared import is the trigger's service; a later one (``from shared.errors import
                    # RejectedInput``) names a class, not a module.
                    found.setdefault(fn.name, submodule if _is_module(submodule) else module)
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package: ``name`` is an attribute
        return False


def sample(modules: tuple[str, ...], *, setup: str = "") -> float:
    """Seconds to import ``modules`` in a fresh interpreter (after ``setup``, untimed)."""
    code = _TIMER.format(setup=setup, modules=modules)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def compile_bytecode() -> None:
    """The app ships .pyc: compile the app (site-packages were compiled by pip at install)."""
    for target in ("functions", "shared"):
        compileall.compile_dir(str(ROOT / target), quiet=1)
    compileall.compile_file(str(ROOT / "function_app.py"), quiet=1)


def run(*, runs: int = 9) -> Figure:
    compile_bytecode()
    triggers = lazy_imports()
    services = sorted(set(triggers.values()))
    progress(f"P1: {runs} fresh interpreters per measurement; services imported lazily: {', '.join(services)}")
    sample(("azure.functions",))  # warm the OS file cache; not counted
    sample(("function_app",))
    bare: list[float] = []
    app: list[float] = []
    for _ in range(runs):
        bare.append(sample(("azure.functions",)))
        app.append(sample(("function_app",)))
    ratio = statistics.median(app) / statistics.median(bare)
    first: dict[str, list[float]] = {module: [] for module in services}
    sdk: list[float] = []
    for _ in range(runs):
        for module in services:
            first[module].append(sample((module,), setup="import function_app"))
        sdk.append(sample(SDKS, setup="import function_app"))
    medians = {module: statistics.median(times) for module, times in first.items()}
    data = {
        "runs": runs,
        "bare_import_azure_functions_ms": round(statistics.median(bare) * 1000, 1),
        "import_function_app_ms": round(statistics.median(app) * 1000, 1),
        "ratio": round(ratio, 3),
        "samples_ms": {"bare": [round(t * 1000, 1) for t in bare], "app": [round(t * 1000, 1) for t in app]},
        "first_invocation_import_ms": {m: round(t * 1000, 1) for m, t in medians.items()},
        "triggers": triggers,
        "first_arm_call_sdk_import_ms": round(statistics.median(sdk) * 1000, 1),
    }
    progress(f"P1: azure.functions {data['bare_import_azure_functions_ms']} ms, function_app "
             f"{data['import_function_app_ms']} ms, ratio {ratio:.2f}")
    per_trigger = "; ".join(
        f"{module} {medians[module] * 1000:.0f} ms ({', '.join(sorted(f for f, m in triggers.items() if m == module))})"
        for module in services)
    goals = [
        Goal(f"`import function_app` / bare `import azure.functions` <= {GOAL_RATIO} (median of {runs} fresh "
             "processes each)",
             f"{data['import_function_app_ms']} ms / {data['bare_import_azure_functions_ms']} ms = {ratio:.2f}",
             ratio <= GOAL_RATIO),
        Goal("first invocation: the service module each trigger imports (reported)",
             f"{per_trigger}; then the management SDKs on the first ARM call: "
             f"{data['first_arm_call_sdk_import_ms']:.0f} ms", True),
    ]
    return Figure("P1", "cold start", measured=json.dumps(data["first_invocation_import_ms"]), goals=goals, data=data)
