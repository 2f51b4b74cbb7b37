from __future__ import annotations

from tds_platform.simulate.fleet import FleetShape, build_fleet, tenant_name


def test_fleet_has_the_shape_asked_for_with_unique_equipment_per_tenant() -> None:
    fleet = build_fleet(FleetShape(tenants=3, sites=2, equipment=5), seed=1)
    assert len(fleet) == 30
    assert {d.tenant for d in fleet} == {"acme", "globex", "initech"}
    assert len({d.key for d in fleet}) == 30
    assert {d.site for d in fleet} == {"site-1", "site-2"}
    kinds = [d.kind.name for d in fleet if d.tenant == "acme" and d.site == "site-1"]
    assert kinds == ["chiller", "meter", "chiller", "meter", "chiller"]
    assert fleet[0].topic("telem") == "tds/acme/site-1/s1-chiller-01/telem"


def test_intervals_per_kind_and_phases_inside_the_interval() -> None:
    fleet = build_fleet(FleetShape(interval_s=10, kind_intervals_s={"meter": 60}), seed=1)
    for device in fleet:
        assert device.interval_s == (60 if device.kind.name == "meter" else 10)
        assert 0 <= device.phase_s < device.interval_s


def test_fleet_is_deterministic_per_seed() -> None:
    assert build_fleet(FleetShape(), 5) == build_fleet(FleetShape(), 5)
    assert [d.phase_s for d in build_fleet(FleetShape(), 5)] != [d.phase_s for d in build_fleet(FleetShape(), 6)]


def test_tenant_names_run_out_into_numbers() -> None:
    assert tenant_name(1) == "acme"
    assert tenant_name(7) == "tenant7"
