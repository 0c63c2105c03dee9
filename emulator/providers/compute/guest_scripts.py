"""What the app's in-guest scripts do when Run Command runs them on a node: the contract of
``shared/scripts/README.md`` (parameters, behaviour, last-line JSON), played against the guest model.

A script is recognised by its first line, ``# asr-s2d:<command> v<N>`` with the version the shipped script
carries; any other script (or version) changes nothing and prints nothing. As in PowerShell, parameters are
bound before the script starts: an unknown name, a missing mandatory parameter or a value failing its
validation pattern prints no JSON at all, only the binding error on stderr. Both scripts print the node's
pending ``warnings`` first (PowerShell warnings are noise before the result) and one compressed JSON object as
the last line.

Both see the cluster as far as it has settled since boot (``guest.settle_stage``): while ClusSvc starts,
``set-cluster-ip`` answers ``not-ready`` and ``cluster-health`` reports the service StartPending and no cluster;
while Storage Spaces Direct resyncs, ``cluster-health`` reports the virtual disks Warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from emulator.core.world import World
from emulator.providers.compute import guest

MARKER = re.compile(r"^\s*#\s*asr-s2d:(?P<command>[a-z0-9-]+)\s+v(?P<version>\d+)\s*$")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# The validation patterns set_cluster_ip.ps1 declares on its parameters.
IP_PATTERN = rf"^({_OCTET}\.){{3}}{_OCTET}$"
PREFIX_PATTERN = rf"^({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?[0-9])$"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_MOVE = rf"{_IPV4}={_IPV4}:{_PORT}"
ROLE_ADDRESSES_PATTERN = rf"^{_MOVE}(,{_MOVE}){{0,15}}$"  # FROM=TO:PORT, up to 16
REASON_LIMIT = 1000       # set_cluster_ip.ps1 cuts its reason to 1,000 characters
HEALTH_LIMIT = 4000       # cluster_health.ps1 shrinks its JSON below 4,000 bytes
NAME_LIMIT = 48           # ... and cuts names to 48 characters
_SCRIPT_PATH = r"C:\Packages\Plugins\Microsoft.CPlat.Core.RunCommandWindows\1.1.18\Downloads\script0.ps1"


@dataclass(frozen=True)
class ScriptResult:
    command: str | None  # the recognised command, None for an unknown script
    stdout: str
    stderr: str


class _BindingError(Exception):
    """PowerShell refused the parameters: the script never ran."""


@dataclass(frozen=True)
class Signature:
    """A script's ``param()`` block as PowerShell binds it: each parameter's validation (a regex, or "int:low:high")
    and its parameter sets (set -> the parameters it takes, each mandatory or not); ``default`` is
    ``[CmdletBinding(DefaultParameterSetName)]``, the set chosen when the given names fit several."""
    kinds: dict[str, str]
    sets: dict[str, dict[str, bool]]
    default: str | None = None


def execute(world: World, vm_id: str, script: list[str], parameters: dict[str, str]) -> ScriptResult:
    """Run a Run Command script on the VM's guest. ``parameters`` are the request's name -> value."""
    lines = "\n".join(script).splitlines()
    match = MARKER.match(lines[0]) if lines else None
    command = match.group("command") if match else ""
    if match is None or command not in _SCRIPTS or match.group("version") != _SCRIPTS[command][2]:
        return ScriptResult(None, "", "")
    run, signature, _version = _SCRIPTS[command]
    try:
        bound = _bind(parameters, signature)
    except _BindingError as err:
        return ScriptResult(command, "", f"{_SCRIPT_PATH} : {err}\n")
    cluster = guest.cluster_of(world, vm_id)
    result = run(world, vm_id, bound, guest.settle_stage(world, vm_id))
    noise = "".join(f"WARNING: {w}\n" for w in (cluster or {}).get("warnings", []))
    return ScriptResult(command, noise + json.dumps(result, separators=(",", ":")) + "\n", "")


def _bind(given: dict[str, str], signature: Signature) -> dict[str, str]:
    """PowerShell's order: names, then each value's validation, then the parameter set, then its mandatory ones."""
    canonical = {name.lower(): name for name in signature.kinds}
    bound: dict[str, str] = {}
    for name, value in given.items():
        if name.lower() not in canonical:
            raise _BindingError(f"A parameter cannot be found that matches parameter name '{name}'.")
        bound[canonical[name.lower()]] = value
    for name, value in bound.items():
        kind = signature.kinds[name]
        if kind.startswith("int:"):
            low, high = (int(x) for x in kind.split(":")[1:])
            try:
                number = int(value.strip())
            except ValueError:
                raise _BindingError(f"Cannot process argument transformation on parameter '{name}'. Cannot convert "
                                    f'value "{value}" to type "System.Int32".') from None
            if not low <= number <= high:
                raise _BindingError(f"Cannot validate argument on parameter '{name}'. The {number} argument is outside "
                                    f"the allowed range of {low}..{high}.")
            bound[name] = str(number)
        elif not re.match(kind, value):
            raise _BindingError(f"Cannot validate argument on parameter '{name}'. The argument \"{value}\" does not "
                                f"match the \"{kind}\" pattern.")
    fitting = [name for name, takes in signature.sets.items() if all(p in takes for p in bound)]
    if len(fitting) > 1:
        complete = [name for name in fitting if all(p in bound for p, m in signature.sets[name].items() if m)]
        fitting = [signature.default] if signature.default in fitting else complete
    if len(fitting) != 1:
        raise _BindingError("Parameter set cannot be resolved using the specified named parameters. One or more "
                            "parameters issued cannot be used together or an insufficient number of parameters were "
                            "provided.")
    missing = [name for name, mandatory in signature.sets[fitting[0]].items() if mandatory and name not in bound]
    if missing:
        raise _BindingError("Cannot process command because of one or more missing mandatory parameters: "
                            f"{' '.join(missing)}.")
    return bound


# -- set-cluster-ip -----------------------------------------------------------------------------------

def _set_cluster_ip(world: World, vm_id: str, params: dict[str, str], stage: str) -> dict[str, Any]:
    """v3: the core cluster IP (``IPAddress`` + ``ProbePort``) and each role IP (``RoleAddresses``
    ``FROM=TO:PORT,...``) onto the cluster network of ``SubnetPrefix``; v2's parameters alone move the core IP."""
    cluster = guest.cluster_of(world, vm_id)
    result: dict[str, Any] = {"status": "failed", "cluster": None, "access_point": None, "resources": [],
                              "roles_without_ip": [], "reason": None}

    def finish(status: str, reason: str | None) -> dict[str, Any]:
        result.update(status=status, reason=reason[:REASON_LIMIT] if reason else None)
        return result

    if cluster is None:
        return finish("failed", "The specified module 'FailoverClusters' was not loaded because no valid module file "
                                "was found in any module directory.")
    if stage in ("booting", "starting"):
        return finish("not-ready", "the cluster service (ClusSvc) is StartPending: the cluster has not settled since boot")
    node = next((n for n in cluster["nodes"] if (n["vm_id"] or "").lower() == vm_id.lower()), None)
    if node is not None and node["state"] == "Joining":
        result["cluster"] = cluster["name"]
        return finish("not-ready", "this node is Joining the cluster: it has not settled since boot")
    if cluster["cluster_service"] != "Running" or cluster["quorum"]["state"] != "Normal":
        return finish("failed", "Get-Cluster : The cluster service is not running on this node (the cluster has no "
                                "quorum).")
    result.update(cluster=cluster["name"], access_point=cluster["access_point"])
    result["roles_without_ip"] = [r["name"] for r in cluster["roles"]
                                  if any(m["type"] == "Distributed Network Name" for m in r["resources"])
                                  and not any(m["type"] == "IP Address" for m in r["resources"])]
    resources = cluster["ip_resources"]
    core = [r for r in resources if r.get("group", guest.CORE_GROUP) == guest.CORE_GROUP]
    role_ips = [r for r in resources if r.get("group", guest.CORE_GROUP) != guest.CORE_GROUP]
    moves = [(m.group(1), m.group(2), int(m.group(3)))
             for m in re.finditer(r"([0-9.]+)=([0-9.]+):([0-9]+)", params.get("RoleAddresses", ""))]
    note = None
    if not resources:
        return finish("no-ip-resource", f"the cluster has no IP Address resource (client access point: "
                                        f"{cluster['access_point']}); there is no cluster IP to move")
    if "IPAddress" in params and not core:
        roles = ", ".join(f"'{r['name']}' ({r.get('group')})" for r in role_ips)
        if not moves:
            return finish("no-ip-resource", f"the core cluster group has no IP Address resource; role IP resources: "
                                            f"{roles} (pass RoleAddresses to move them)")
        note = "the core cluster group has no IP Address resource: IPAddress was not applied"
    address_part, length = params["SubnetPrefix"].split("/")
    network = next((n for n in cluster["networks"]
                    if n["address"] == address_part and n["prefix_length"] == int(length)), None)
    if network is None:
        known = ", ".join(f"{n['name']} ({n['address']}/{n['prefix_length']})" for n in cluster["networks"])
        return finish("failed", f"no cluster network matches {params['SubnetPrefix']}; the cluster has: {known or 'none'}")
    if "Client" not in network.get("role", "ClusterAndClient"):
        return finish("failed", f"cluster network '{network['name']}' does not allow client access (role "
                                f"{network.get('role')}): an IP Address resource cannot come online on it")
    targets: list[tuple[dict[str, Any], str, int]] = []
    if "IPAddress" in params and core:
        # One address cannot live on two resources: one core IP moves, the one already on the network first.
        first = sorted(core, key=lambda r: (r["network"] != network["name"], r["name"]))[0]
        targets.append((first, params["IPAddress"], int(params["ProbePort"])))
    for source, address, port in moves:
        found = sorted((r for r in role_ips if r["address"] in (source, address)), key=lambda r: r["name"])
        if not found:
            return finish("failed", f"RoleAddresses: no role IP Address resource holds {source} (or {address})")
        if any(found[0] is t for t, _a, _p in targets):
            return finish("failed", f"RoleAddresses: IP Address resource '{found[0]['name']}' is moved twice")
        targets.append((found[0], address, port))
    changed = False
    for target, address, port in targets:
        before = target["address"]
        if (target["address"], target["probe_port"], target["network"], target["state"]) != \
                (address, port, network["name"], "Online"):
            changed = True
            # Stop-ClusterResource (its dependents go offline with it), Set-ClusterParameter, Start-ClusterGroup.
            guest.stop_resource(cluster, target["name"])
            target.update(address=address, probe_port=port, subnet_mask=guest.HOST_MASK, network=network["name"],
                          enable_dhcp=0)
            guest.start_group(cluster, target["group"])
        role = next(r for r in cluster["roles"] if r["name"] == target["group"])
        result["resources"].append({"name": target["name"], "group": target["group"], "address_before": before,
                                    "address": target["address"], "probe_port": target["probe_port"],
                                    "network": target["network"], "state": target["state"], "role_state": role["state"]})
        if target["state"] != "Online":
            return finish("failed", f"IP Address resource '{target['name']}' is {target['state']} after "
                                    f"Start-ClusterGroup: {address} does not belong to '{network['name']}' "
                                    f"({network['address']}/{network['prefix_length']})")
    return finish("changed" if changed else "unchanged", note)


# -- cluster-health -----------------------------------------------------------------------------------

def _cluster_health(world: World, vm_id: str, params: dict[str, str], stage: str) -> dict[str, Any]:
    cluster = guest.cluster_of(world, vm_id)
    if cluster is None:
        return {"cluster": None, "cluster_service": None, "nodes": [], "quorum": None, "pool": None,
                "virtual_disks": [], "csv": [], "ip_resources": [], "roles": [], "truncated": False,
                "errors": ["service: Cannot find any service with service name 'ClusSvc'.",
                           "cluster: The cluster service is not installed on this node.",
                           "storage: No MSFT_StoragePool objects found."]}
    if stage in ("booting", "starting"):
        # ClusSvc is starting: the cluster cmdlets fail and a clustered pool is not there yet.
        return {"cluster": None, "cluster_service": "StartPending", "nodes": [], "quorum": None, "pool": None,
                "virtual_disks": [], "csv": [], "ip_resources": [], "roles": [], "truncated": False,
                "errors": ["cluster: The cluster service is not running on this node."]}
    resyncing = stage == "repairing"

    def cut(name: str) -> str:
        return name[:NAME_LIMIT]

    def worst_first(items: list[dict[str, Any]], key: str, good: str) -> list[dict[str, Any]]:
        return sorted(items, key=lambda i: i[key] == good)  # stable: unhealthy first, order kept otherwise

    witness = cluster["quorum"]["witness"]
    up = sum(1 for n in cluster["nodes"] if n["state"] == "Up")
    report: dict[str, Any] = {
        "cluster": cut(cluster["name"]), "cluster_service": cluster["cluster_service"],
        "nodes": worst_first([{"name": cut(n["name"]), "state": n["state"]} for n in cluster["nodes"]], "state", "Up"),
        "quorum": {"state": "Majority", "has_quorum": cluster["quorum"]["state"] == "Normal" and up > 0,
                   "votes_up": up, "votes_total": len(cluster["nodes"]),
                   "witness": {"type": witness["type"], "state": None if witness["type"] == "None" else witness["state"],
                               "account": witness.get("account") if witness["type"] == "Cloud" else None}},
        "pool": {"name": cut(cluster["pool"]["name"]), "health": cluster["pool"]["health"]},
        "virtual_disks": worst_first([{"name": cut(v["name"]), "health": "Warning" if resyncing and v["health"] ==
                                       "Healthy" else v["health"]} for v in cluster["virtual_disks"]],
                                     "health", "Healthy"),
        "csv": worst_first([{"name": cut(c["name"]), "state": c["state"]} for c in cluster["csvs"]], "state", "Online"),
        "ip_resources": worst_first([{"name": cut(r["name"]), "group": cut(r.get("group", guest.CORE_GROUP)),
                                      "address": r["address"], "probe_port": r["probe_port"], "state": r["state"]}
                                     for r in cluster["ip_resources"]], "state", "Online"),
        "roles": worst_first([{"name": cut(r["name"]), "type": r["type"], "state": r["state"],
                               "owner": cut(r["owner"]) if r.get("owner") else None,
                               "resources": [{"name": cut(m["name"]), "type": m["type"], "state": m["state"]}
                                             for m in r["resources"]]} for r in cluster["roles"]], "state", "Online"),
        "truncated": False,
        "errors": [] if cluster["cluster_service"] == "Running" else
        ["cluster: The cluster service is not running on this node."],
    }
    lists = ("nodes", "virtual_disks", "csv", "ip_resources")
    while len(json.dumps(report, separators=(",", ":")).encode()) > HEALTH_LIMIT:
        longest = max(lists, key=lambda k: len(report[k]))
        if not report[longest]:
            longest = "roles"  # roles are trimmed last
        if not report[longest]:
            break
        report[longest].pop()
        report["truncated"] = True
    return report


# command -> (what it does, its param() block, the version the shipped script's marker carries)
_SCRIPTS: dict[str, tuple[Any, Signature, str]] = {
    # v3: either the core pair (IPAddress + ProbePort, RoleAddresses optional) or RoleAddresses alone; SubnetPrefix
    # always. The default set (Roles) decides when only SubnetPrefix and RoleAddresses are given.
    "set-cluster-ip": (_set_cluster_ip, Signature(
        kinds={"IPAddress": IP_PATTERN, "ProbePort": "int:1:65535", "SubnetPrefix": PREFIX_PATTERN,
               "RoleAddresses": ROLE_ADDRESSES_PATTERN},
        sets={"Core": {"IPAddress": True, "ProbePort": True, "SubnetPrefix": True, "RoleAddresses": False},
              "Roles": {"SubnetPrefix": True, "RoleAddresses": True}}, default="Roles"), "3"),
    "cluster-health": (_cluster_health, Signature(kinds={}, sets={"__AllParameterSets": {}}), "2"),
}
