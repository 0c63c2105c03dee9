"""Access points (issue 18): which load-balancer frontends are the cluster's roles, how the DR load balancer mirrors
them, and the ``asr-s2d-dr-ips`` tag, validated like every tag. Pure: no emulator."""

from __future__ import annotations

import pytest

from shared import tags
from shared.enrollment.plan import DrNetwork, dr_roles
from shared.errors import RejectedInput
from shared.inventory import Frontend, LoadBalancer, RoleFrontend, role_frontend_name, role_source_ip, source_roles
from tests.unit.builders import dr_subnet

LB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb-s2d-cluster"


def load_balancer(*fronts: Frontend) -> LoadBalancer:
    first = fronts[0] if fronts else None
    return LoadBalancer(id=LB, location="westeurope", frontend_ip=first.ip if first else None,
                        frontend_subnet_id=None, pool_id=None, pool_nic_ids=(), probe_port=first.probe_port if first
                        else None, has_ha_ports_rule=True, frontends=fronts)


CORE = Frontend("fe-cluster", "10.10.1.10", None, 59999)
SQL = Frontend("fe-sqlvnn", "10.10.1.11", None, 59998)


@pytest.mark.parametrize(("fronts", "probe", "roles"), [
    ((CORE, SQL), 59999, (("10.10.1.11", 59998),)),
    ((SQL, CORE), 59999, (("10.10.1.11", 59998),)),  # the core one is the one on the cluster's probe port
    ((CORE,), 59999, ()),
    ((Frontend("fe-x", "10.10.1.10", None, 1234),), 59999, ()),  # alone, whatever its port: the cluster IP
    ((CORE, Frontend("fe-norule", "10.10.1.12", None, None)), 59999, ()),  # no HA-ports rule with a probe: not one
    ((CORE, SQL, Frontend("fe-b", "10.10.1.9", None, 59997)), 59999, (("10.10.1.9", 59997), ("10.10.1.11", 59998))),
])
def test_source_roles(fronts: tuple[Frontend, ...], probe: int, roles: tuple[tuple[str, int], ...]) -> None:
    assert source_roles([load_balancer(*fronts)], probe) == roles


def test_a_role_frontend_name_carries_its_source_address_and_nothing_else_parses() -> None:
    assert role_frontend_name("10.10.1.11") == "fe-role-10-10-1-11"
    assert role_source_ip("fe-role-10-10-1-11") == "10.10.1.11"
    assert role_source_ip("FE-ROLE-10-10-1-11") == "10.10.1.11"
    for name in ("fe-cluster", "fe-role-10-10-1", "fe-role-10-10-1-300", "fe-role-"):
        assert role_source_ip(name) is None


def intent(**extra: str) -> tags.ClusterIntent:
    return tags.parse_intent({"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01", **extra}, "VM s2d-node1")


@pytest.mark.parametrize("value", [
    "10.10.1.11", "10.10.1.11=", "10.10.1.11=10.20.1", "10.10.1.11=10.20.1.11;x", "a=b",
    "10.10.1.11=10.20.1.11,10.10.1.11=10.20.1.12",  # a source twice
    "10.10.1.11=10.20.1.11,10.10.1.12=10.20.1.11",  # a DR address twice
    ",".join(f"10.10.1.{n}=10.20.1.{n}" for n in range(20, 36)),  # 16: more than one Run Command moves
])
def test_the_dr_ips_tag_refuses_what_is_not_source_dr_pairs(value: str) -> None:
    with pytest.raises(RejectedInput, match="asr-s2d-dr-ips"):
        intent(**{"asr-s2d-dr-ips": value})


def test_the_dr_ips_tag_reads_pairs_with_spaces_around_them() -> None:
    assert intent(**{"asr-s2d-dr-ips": " 10.10.1.12=10.20.1.12 , 10.10.1.11=10.20.1.11"}).dr_ips == (
        ("10.10.1.11", "10.20.1.11"), ("10.10.1.12", "10.20.1.12"))


def dr(held: tuple[RoleFrontend, ...] = ()) -> DrNetwork:
    dr_lb = LoadBalancer(id=LB + "-dr", location="northeurope", frontend_ip="10.20.1.4", frontend_subnet_id=None,
                         pool_id=None, pool_nic_ids=(), probe_port=59999, has_ha_ports_rule=True,
                         frontends=tuple(Frontend(role_frontend_name(r.source_ip), r.ip, None, r.probe_port)
                                         for r in held))
    return DrNetwork(subnet=dr_subnet(), load_balancer=dr_lb, source_load_balancers=(load_balancer(CORE, SQL),))


def test_the_dr_address_comes_from_the_tag_then_the_load_balancer_then_the_write() -> None:
    assert dr_roles("s2dclu01", intent(), dr()) == (RoleFrontend("10.10.1.11", None, 59998),)
    held = (RoleFrontend("10.10.1.11", "10.20.1.5", 59998),)
    assert dr_roles("s2dclu01", intent(), dr(held)) == held
    tagged = intent(**{"asr-s2d-dr-ips": "10.10.1.11=10.20.1.11"})
    assert dr_roles("s2dclu01", tagged, dr(held)) == (RoleFrontend("10.10.1.11", "10.20.1.11", 59998),)


@pytest.mark.parametrize(("value", "problem"), [
    ("10.10.1.11=10.30.1.11", "not a usable address of the DR subnet"),
    ("10.10.1.11=10.20.1.10", "not a usable address of the DR subnet"),  # the cluster IP's
    ("10.10.1.99=10.20.1.99", "which no load balancer fronting the nodes has"),
])
def test_a_dr_ips_tag_the_dr_side_cannot_honour_is_refused(value: str, problem: str) -> None:
    with pytest.raises(RejectedInput, match=problem):
        dr_roles("s2dclu01", intent(**{"asr-s2d-dr-ips": value, "asr-s2d-dr-ip": "10.20.1.10"}), dr())
