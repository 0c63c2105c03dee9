"""The tag contract: the operator's interface, and untrusted input.

Every value is validated here and nowhere else; a bad value becomes a ``RejectedInput`` that names
the tag and the resource. Nothing read from a tag is ever pasted into script text: values leave
this module as typed Python values (an ``IPv4Address``, an ``int``, a name matching a strict pattern).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import RejectedInput

ENROLL = "asr-s2d"
CLUSTER = "asr-s2d-cluster"
NODES = "asr-s2d-nodes"
DR_IP = "asr-s2d-dr-ip"
DR_IPS = "asr-s2d-dr-ips"  # the roles' DR addresses: SOURCE=DR,SOURCE=DR (a SQL FCI's VNN IP, say)
PROBE_PORT = "asr-s2d-probe-port"
WITNESS = "asr-s2d-witness"
DRILL = "asr-s2d-drill"
ALL = (ENROLL, CLUSTER, NODES, DR_IP, DR_IPS, PROBE_PORT, WITNESS, DRILL)
MAX_ROLE_IPS = 15  # one Run Command moves the cluster IP and at most 15 role IPs (set_cluster_ip.ps1's pattern)

MAX_GROUP_SIZE = 16  # ASR: at most 16 VMs in one multi-VM consistency group
DEFAULT_PROBE_PORT = 59999
# Every validator matches the whole value (``fullmatch``): ``re.match`` with ``$`` would take a trailing newline.
CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_DIGITS = re.compile(r"[0-9]{1,5}")
_IPV4 = re.compile(r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}")
_STORAGE_ID = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w._()]{1,90}/providers/"
                         r"Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}", re.IGNORECASE)


def lookup(tags: Mapping[str, str] | None, name: str) -> str | None:
    """A tag's value; tag names are case-insensitive in Azure."""
    for key, value in (tags or {}).items():
        if key.lower() == name:
            return value
    return None


def _normal(name: str) -> str:
    return "".join(name.split()).lower().replace("_", "-")


def near_misses(tags: Mapping[str, str] | None) -> list[str]:
    """What looks meant for asr-s2d but is not what it reads, each as a sentence naming the tag and its value: a
    tag name with spaces or '_' (``asr_s2d``, ``asr-s2d ``), ``asr-s2d`` with a value that is neither true nor false
    (``ture``, ``yes``, ``1``), or a cluster named while ``asr-s2d`` is not true. Empty when nothing is amiss."""
    found: list[str] = []
    for key, value in (tags or {}).items():
        if key.lower() not in ALL and _normal(key) in ALL:
            found.append(f"tag {key!r} (={str(value)[:60]!r}) is not asr-s2d's tag {_normal(key)!r}: the name must be "
                         "exactly that, with no space or '_'")
    enroll = lookup(tags, ENROLL)
    if enroll is not None and enroll.strip().lower() not in ("true", "false", ""):
        found.append(f"tag {ENROLL}={enroll[:60]!r} is neither 'true' nor 'false': the VM is not enrolled")
    cluster = lookup(tags, CLUSTER)
    if cluster and cluster.strip() and (enroll is None or enroll.strip().lower() == ""):
        found.append(f"tag {CLUSTER}={cluster[:60]!r} names a cluster but {ENROLL} is not 'true': the VM is not "
                     "enrolled")
    return found


def mentions(tags: Mapping[str, str] | None) -> bool:
    """Any asr-s2d tag at all (any value): the resource may concern a cluster."""
    return any(lookup(tags, name) is not None for name in ALL)


def is_enrolled(tags: Mapping[str, str] | None) -> bool:
    value = lookup(tags, ENROLL)
    return value is not None and value.strip().lower() == "true"


@dataclass(frozen=True)
class ClusterIntent:
    """What a node's (effective) tags ask for, validated."""

    cluster: str | None
    expected_nodes: int | None
    dr_ip: ipaddress.IPv4Address | None
    probe_port: int
    witness_id: str | None
    drill: bool
    dr_ips: tuple[tuple[str, str], ...] = ()  # (source address, DR address) of role access points, from DR_IPS


def _reject(where: str, tag: str, problem: str) -> RejectedInput:
    return RejectedInput(f"{where}: tag {tag} {problem}")


def cluster_name(value: str, where: str) -> str:
    name = value.strip()
    if not CLUSTER_NAME.fullmatch(name):
        raise _reject(where, CLUSTER, "must be 1-63 letters, digits, '-' or '_', starting with a letter or digit")
    return name


def parse_intent(tags: Mapping[str, str] | None, where: str) -> ClusterIntent:
    """Validate every asr-s2d tag of one resource; the first bad one raises ``RejectedInput``."""
    raw_cluster = lookup(tags, CLUSTER)
    cluster = cluster_name(raw_cluster, where) if raw_cluster is not None and raw_cluster.strip() else None

    expected: int | None = None
    raw_nodes = lookup(tags, NODES)
    if raw_nodes is not None and raw_nodes.strip():
        value = raw_nodes.strip()
        if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_GROUP_SIZE:
            raise _reject(where, NODES, f"must be a whole number from 1 to {MAX_GROUP_SIZE} (a multi-VM group holds "
                          f"at most {MAX_GROUP_SIZE} VMs)")
        expected = int(value)

    dr_ip: ipaddress.IPv4Address | None = None
    raw_ip = lookup(tags, DR_IP)
    if raw_ip is not None and raw_ip.strip():
        value = raw_ip.strip()
        if not _IPV4.fullmatch(value):
            raise _reject(where, DR_IP, "must be one IPv4 address in dotted decimal form (like 10.20.1.10)")
        dr_ip = ipaddress.IPv4Address(value)

    dr_ips: list[tuple[str, str]] = []
    raw_ips = lookup(tags, DR_IPS)
    if raw_ips is not None and raw_ips.strip():
        pairs = [p.strip() for p in raw_ips.strip().split(",")]
        for pair in pairs:
            source, _, target = pair.partition("=")
            if not (_IPV4.fullmatch(source.strip()) and _IPV4.fullmatch(target.strip())):
                raise _reject(where, DR_IPS, "must be SOURCE=DR pairs of IPv4 addresses separated by commas (like "
                              "10.10.1.11=10.20.1.11,10.10.1.12=10.20.1.12)")
            dr_ips.append((str(ipaddress.IPv4Address(source.strip())), str(ipaddress.IPv4Address(target.strip()))))
        if len(dr_ips) > MAX_ROLE_IPS or len({s for s, _ in dr_ips}) != len(dr_ips) or len(
                {t for _, t in dr_ips}) != len(dr_ips):
            raise _reject(where, DR_IPS, f"must name at most {MAX_ROLE_IPS} role addresses, each source and each DR "
                          "address once")

    port = DEFAULT_PROBE_PORT
    raw_port = lookup(tags, PROBE_PORT)
    if raw_port is not None and raw_port.strip():
        value = raw_port.strip()
        if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= 65535:
            raise _reject(where, PROBE_PORT, "must be a port number from 1 to 65535")
        port = int(value)

    witness: str | None = None
    raw_witness = lookup(tags, WITNESS)
    if raw_witness is not None and raw_witness.strip():
        value = raw_witness.strip()
        if not _STORAGE_ID.fullmatch(value):
            raise _reject(where, WITNESS, "must be the resource ID of a storage account")
        witness = value

    raw_drill = (lookup(tags, DRILL) or "").strip().lower()
    if raw_drill not in ("", "monthly", "off"):
        raise _reject(where, DRILL, "must be 'monthly' or 'off'")
    return ClusterIntent(cluster=cluster, expected_nodes=expected, dr_ip=dr_ip, probe_port=port,
                         witness_id=witness, drill=raw_drill == "monthly", dr_ips=tuple(sorted(dr_ips)))


def effective(own: Mapping[str, str] | None, *inherited: Mapping[str, str] | None) -> dict[str, str]:
    """A VM's asr-s2d tags after inheritance: its own tags win over its availability set's, which win
    over its resource group's (``inherited`` is given nearest first)."""
    merged: dict[str, str] = {}
    for source in (*reversed(inherited), own):
        for name in ALL:
            value = lookup(source, name)
            if value is not None:
                merged[name] = value
    return merged
