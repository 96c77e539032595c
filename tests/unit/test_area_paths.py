"""Whose area statistics a person may read (people.permissions.area_paths): the union of his areas."""

from __future__ import annotations

from cogov.people.permissions import Actor, Grant, area_paths


def actor(*grants: tuple[str, str]) -> Actor:
    return Actor(person_id=1, city_id=1, grants=tuple(Grant(role, None, path, None) for role, path in grants))


def test_the_areas_of_every_supervising_grant_count_and_nested_ones_fold_in():
    two = actor(("station_head", "370202/370202001/37020200100101/"), ("subdistrict_supervisor", "370202/370202002/"))
    assert area_paths(two) == ["370202/370202001/37020200100101/", "370202/370202002/"]
    nested = actor(("district_supervisor", "370202/"), ("station_head", "370202/370202001/37020200100101/"))
    assert area_paths(nested) == ["370202/"]


def test_the_whole_city_for_admins_and_city_supervisors_none_for_others():
    assert area_paths(actor(("admin", ""))) == [""]
    assert area_paths(actor(("city_supervisor", ""), ("station_head", "370202/"))) == [""]
    assert area_paths(actor(("building_head", "370202/"), ("unit_crew", ""))) is None
    assert area_paths(actor()) is None
    assert area_paths(actor(("station_head", ""))) == []  # a station head without an area reads nothing
