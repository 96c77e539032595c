"""Who may do what, and who may see what (权限矩阵): every role, every action, inside and outside its area.

The expectations are written out by hand in the tables below — never computed from the product's own
permission code, or a wrong rule there would be copied here and the test could not fail. Outside his area a
person gets 404 (the case is invisible to him), never 403: 403 is only for a case he sees but may not act on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import transaction

from cogov import clock
from cogov.cases import workflow
from cogov.cases.models import Case
from cogov.cases.selectors import case_get_for_actor, case_list_for_actor
from cogov.cases.services import case_act, case_report
from cogov.errors import DomainError
from cogov.people.auth import token_issue
from cogov.people.models import Person
from cogov.people.permissions import Actor
from cogov.people.services import role_assign

from tests.conftest import IN_AREA_ONLY, IN_B_COMMUNITY, IN_BUILDING, IN_COURTYARD, ON_STREET

PEOPLE = ("station_a", "station_b", "building_head", "courtyard_head", "street_head", "area_head",
          "sanitation_crew", "property_crew", "enforcement_crew", "subdistrict_sup", "district_sup",
          "citizen", "citizen2", "anonymous")


@dataclass(frozen=True)
class Scene:
    """Where a case lies, what it is about, and who works on it there."""

    point: tuple[float, float]
    category: str
    reporter_verifies: bool  # what the category says (checked against the catalogue below)
    station: str  # the station head of the place
    unit: str  # the professional unit the station dispatches to


SCENES = {
    # litter on 香港中路 (station A, street); the citizen verifies the result himself
    "street": Scene(ON_STREET, "06010", True, "station_a", "sanitation"),
    # a broken fire installation in 1号楼 (station A, area, courtyard, building); heads verify
    "building": Scene(IN_BUILDING, "01013", False, "station_a", "property"),
    # a damaged litter bin in 八大关社区 (station B only); heads verify
    "b": Scene(IN_B_COMMUNITY, "03005", False, "station_b", "sanitation"),
}

#: The tie each person has to a case in each scene because of where it lies (no entry: outside his area).
TERRITORY = {
    "station_a": {"street": "station", "building": "station"},
    "station_b": {"b": "station"},
    "building_head": {"building": "head"},
    "courtyard_head": {"building": "head"},  # 1号楼 stands in his courtyard
    "street_head": {"street": "head"},  # the building is not on his street
    "area_head": {"building": "head"},  # the street runs outside his area
    "subdistrict_sup": {"street": "supervisor", "building": "supervisor", "b": "supervisor"},
    "district_sup": {"street": "supervisor", "building": "supervisor", "b": "supervisor"},
}
#: Unit crews are tied to a case only while it is dispatched to their unit.
CREW_OF = {"sanitation_crew": "sanitation", "property_crew": "property", "enforcement_crew": "enforcement"}
REPORTER = "citizen"  # reports every case below; citizen2 and the anonymous public are tied to none

CENTRE = {"station", "supervisor"}
#: Who may take each action, by their tie to the case (verify/rework depend on the category: see ``may``).
MAY = {
    "accept": CENTRE,
    "reject": CENTRE,
    "dispatch": CENTRE,
    "acknowledge": {"unit"},
    "return": {"unit"},
    "handle": {"unit"},
    "close": CENTRE,
    "request_extension": {"unit"},
    "approve_extension": CENTRE,
    "refuse_extension": CENTRE,
    "suspend": CENTRE,
    "resume": CENTRE,
    "merge": CENTRE,
    "reopen": {"reporter", "supervisor"},
    "comment": {"station", "head", "unit", "supervisor", "reporter"},
    "rate": {"reporter"},
}
VERIFY_BY_REPORTER = {"reporter", "supervisor"}  # the category asks the reporter, and he has an account
VERIFY_BY_TERRITORY = {"head", "station", "supervisor"}

#: The steps that bring a fresh case to where each action can be taken, and who takes them.
TO_ACCEPTED = ["accept"]
TO_DISPATCHED = TO_ACCEPTED + ["dispatch"]
TO_ACKNOWLEDGED = TO_DISPATCHED + ["acknowledge"]
TO_HANDLED = TO_ACKNOWLEDGED + ["handle"]
TO_CLOSED = TO_HANDLED + ["verify", "close"]
BEFORE = {
    "accept": [],
    "reject": [],
    "merge": [],
    "dispatch": TO_ACCEPTED,
    "acknowledge": TO_DISPATCHED,
    "return": TO_DISPATCHED,
    "request_extension": TO_DISPATCHED,
    "handle": TO_ACKNOWLEDGED,
    "suspend": TO_ACKNOWLEDGED,
    "comment": TO_ACKNOWLEDGED,
    "approve_extension": TO_ACKNOWLEDGED + ["request_extension"],
    "refuse_extension": TO_ACKNOWLEDGED + ["request_extension"],
    "resume": TO_ACKNOWLEDGED + ["suspend"],
    "verify": TO_HANDLED,
    "rework": TO_HANDLED,
    "close": TO_HANDLED + ["verify"],
    "reopen": TO_CLOSED,
    "rate": TO_CLOSED,
}


def may(action: str, scene: Scene) -> set[str]:
    """The ties that allow ``action`` on a case of ``scene``."""
    if action in ("verify", "rework"):
        return VERIFY_BY_REPORTER if scene.reporter_verifies else VERIFY_BY_TERRITORY
    return MAY[action]


def tie(person: str, scene_name: str, *, dispatched: bool) -> str | None:
    """The person's tie to a case of the scene (None: the case is outside his area)."""
    if scene_name in TERRITORY.get(person, {}):
        return TERRITORY[person][scene_name]
    if person in CREW_OF and dispatched and CREW_OF[person] == SCENES[scene_name].unit:
        return "unit"
    if person == REPORTER:
        return "reporter"
    return None


def expected(person: str, action: str, scene_name: str) -> str:
    """What should happen when ``person`` tries ``action`` on a case of the scene, as in ``attempt``."""
    t = tie(person, scene_name, dispatched="dispatch" in BEFORE[action])
    if t is None:
        return "404 case_not_found"
    return "ok" if t in may(action, SCENES[scene_name]) else "403 role_not_allowed"


def test_the_matrix_covers_every_action_people_take():
    assert set(BEFORE) == set(MAY) | {"verify", "rework"} == set(workflow.ACTIONS) - {"report", "escalate"}


def actor(city, who: str) -> Actor:
    return Actor(person_id=None, city_id=city.city.pk) if who == "anonymous" else city.actor(who)


def report(city, who: str | None, code: str, point, **kw) -> Case:
    return case_report(city=city.city, actor=actor(city, who) if who else None,
                       category_id=city.categories[code].pk, lon=point[0], lat=point[1], **kw)


def act(city, who: str, case: Case, action: str, **data) -> Case:
    return case_act(city_id=city.city.pk, number=case.number, actor=actor(city, who), action=action,
                    data=data)


def action_data(city, scene: Scene, action: str) -> dict:
    """Complete, valid data for ``action`` (so only the permission can refuse it)."""
    if action == "dispatch":
        return {"unit": city.service_units[scene.unit].pk, "reason": "按职责派遣"}
    if action == "merge":
        target = report(city, REPORTER, scene.category, scene.point, description="同一问题的先报案件")
        return {"into": target.number}
    return {
        "reject": {"reason": "不属于城市管理范围"}, "return": {"reason": "不属本单位职责"},
        "handle": {"note": "已处置完毕"}, "verify": {"note": "现场已整改"}, "rework": {"reason": "未整改到位"},
        "request_extension": {"reason": "需采购配件", "days": 2}, "refuse_extension": {"reason": "理由不充分"},
        "suspend": {"reason": "待专项整治"}, "reopen": {"reason": "问题又出现了"}, "comment": {"text": "请尽快处理"},
        "rate": {"rating": "satisfied"},
    }.get(action, {})


def case_ready_for(city, scene: Scene, action: str) -> Case:
    """A fresh case of the scene, driven by the right people to where ``action`` can be taken."""
    case = report(city, REPORTER, scene.category, scene.point, description=f"为「{action}」准备的案件",
                  contact_name="林先生", contact_phone="13800000000")
    for step in BEFORE[action]:
        if step in ("acknowledge", "handle", "request_extension"):
            who = scene.unit + "_crew"
        elif step == "verify":
            who = REPORTER if scene.reporter_verifies else scene.station
        else:
            who = scene.station
        case = act(city, who, case, step, **action_data(city, scene, step))
    return case


def attempt(city, who: str, case: Case, action: str, data: dict) -> str:
    """Try the action and undo it: "ok", or "<status> <code>" of the refusal (which must leave no trace)."""
    try:
        with transaction.atomic():
            case_act(city_id=city.city.pk, number=case.number, actor=actor(city, who), action=action,
                     data=data)
            transaction.set_rollback(True)
        return "ok"
    except DomainError as e:
        left = Case.objects.values_list("state", "event_count").get(pk=case.pk)
        assert left == (case.state, case.event_count), f"{who} was refused {action} but the case changed"
        return f"{e.status} {e.code}"


@pytest.mark.parametrize("scene_name", list(SCENES))
def test_each_person_may_act_only_where_the_table_says(small_city, scene_name):
    c, scene = small_city, SCENES[scene_name]
    assert c.categories[scene.category].reporter_verifies is scene.reporter_verifies
    actions = sorted(BEFORE)
    cases = {action: case_ready_for(c, scene, action) for action in actions}
    data = {action: action_data(c, scene, action) for action in actions}

    got = {(p, a): attempt(c, p, cases[a], a, data[a]) for p in PEOPLE for a in actions}

    want = {(p, a): expected(p, a, scene_name) for p in PEOPLE for a in actions}
    wrong = [f"{p:>16} {a:<18} expected {want[p, a]:<22} got {got[p, a]}"
             for p, a in want if got[p, a] != want[p, a]]
    assert not wrong, f"{len(wrong)} cells of the {scene_name} matrix differ:\n" + "\n".join(wrong)


def test_merge_into_a_case_outside_ones_area_is_refused_like_a_missing_one(small_city):
    """Merging must not reveal — or touch — a case the actor cannot see (here: station B's)."""
    c = small_city
    mine = report(c, "citizen", "06010", ON_STREET)
    theirs = report(c, "citizen2", "03005", IN_B_COMMUNITY)
    with pytest.raises(DomainError) as invisible:
        act(c, "station_a", mine, "merge", into=theirs.number)
    with pytest.raises(DomainError) as missing:
        act(c, "station_a", mine, "merge", into="20269999999")
    assert invisible.value.code == missing.value.code and invisible.value.status == missing.value.status
    assert Case.objects.get(pk=mine.pk).state == "reported"



#: Who should see which of the cases of ``city_with_cases`` (the rest must be absent, and 404 when asked for).
SEES = {
    "station_a": {"street", "courtyard", "building", "area"},
    "station_b": {"b"},
    "building_head": {"building"},
    "courtyard_head": {"courtyard", "building"},
    "street_head": {"street"},  # not the courtyard, though both are station A's
    "area_head": {"courtyard", "building", "area"},
    "sanitation_crew": {"street"},  # dispatched to it now
    "property_crew": {"courtyard"},
    "enforcement_crew": set(),  # the b case was dispatched to it, and it returned the case
    "subdistrict_sup": {"street", "courtyard", "building", "area", "b"},
    "district_sup": {"street", "courtyard", "building", "area", "b"},
    "citizen": {"street", "area"},  # his own reports only
    "citizen2": {"courtyard", "b"},
    "anonymous": set(),
}


@pytest.fixture
def city_with_cases(small_city):
    """Five cases: on the street, in the courtyard, in the building, in the area only, and in community B."""
    c = small_city
    street = report(c, "citizen", "06010", ON_STREET, contact_name="林先生", contact_phone="13800000001")
    act(c, "station_a", street, "accept")
    act(c, "station_a", street, "dispatch", unit=c.service_units["sanitation"].pk)
    courtyard = report(c, "citizen2", "Q0205", IN_COURTYARD, contact_phone="13800000002")
    act(c, "station_a", courtyard, "accept")
    act(c, "station_a", courtyard, "dispatch", unit=c.service_units["property"].pk)
    building = report(c, None, "Q0301", IN_BUILDING, contact_phone="13800000003")
    area = report(c, "citizen", "06010", IN_AREA_ONLY)
    act(c, "station_a", area, "accept")
    b = report(c, "citizen2", "03005", IN_B_COMMUNITY)
    act(c, "station_b", b, "accept")
    act(c, "station_b", b, "dispatch", unit=c.service_units["enforcement"].pk, reason="疑似人为损坏")
    act(c, "enforcement_crew", b, "return", reason="属环卫设施")
    c.cases = {"street": street, "courtyard": courtyard, "building": building, "area": area, "b": b}
    return c


def test_the_reading_table_names_everyone():
    assert set(SEES) == set(PEOPLE)


def test_each_person_lists_and_opens_exactly_the_cases_he_should_see(city_with_cases):
    c = city_with_cases
    label = {case.number: name for name, case in c.cases.items()}
    wrong = []
    for who in PEOPLE:
        a = actor(c, who)
        listed = {label[n] for n in case_list_for_actor(a).values_list("number", flat=True)}
        if listed != SEES[who]:
            wrong.append(f"{who} lists {sorted(listed)}, expected {sorted(SEES[who])}")
        for name, case in c.cases.items():
            try:
                case_get_for_actor(a, case.number)
                opened = "opens"
            except DomainError as e:
                opened = f"{e.status} {e.code}"
            want = "opens" if name in SEES[who] else "404 case_not_found"
            if opened != want:
                wrong.append(f"{who} on the {name} case: expected {want}, got {opened}")
    assert not wrong, "\n".join(wrong)


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


NOWHERE = "20269999999"  # a well-formed number no case has


def without_number(r, number: str) -> dict:
    """The JSON body with the case number blanked out (it is the one thing allowed to differ)."""
    return {k: v.replace(number, "N") if isinstance(v, str) else v for k, v in r.json().items()}


@pytest.mark.parametrize("who", ["station_a", "station_b", "street_head", "courtyard_head", "sanitation_crew",
                                 "enforcement_crew", "subdistrict_sup", "citizen2"])
def test_the_api_shows_the_same_cases_and_hides_the_rest_without_a_trace(client, city_with_cases, who):
    c = city_with_cases
    token = token_issue(person=c.people[who])
    r = client.get("/api/v1/cases", **auth(token))
    assert r.status_code == 200, r.content
    body = r.json()
    assert {case["number"] for case in body["results"]} == {c.cases[n].number for n in SEES[who]}
    assert body["count"] == len(SEES[who])

    missing = client.get(f"/api/v1/cases/{NOWHERE}", **auth(token))
    assert missing.status_code == 404
    for name, case in c.cases.items():
        r = client.get(f"/api/v1/cases/{case.number}", **auth(token))
        if name in SEES[who]:
            assert r.status_code == 200 and r.json()["number"] == case.number
        else:
            assert r.status_code == 404, (name, r.content)
            assert without_number(r, case.number) == without_number(missing, NOWHERE)


@pytest.mark.parametrize("who,action", [("station_b", "accept"), ("property_crew", "comment"),
                                        ("street_head", "comment"), ("citizen2", "comment")])
def test_acting_on_an_invisible_case_answers_exactly_like_a_missing_one(client, city_with_cases, who, action):
    c = city_with_cases
    token = token_issue(person=c.people[who])
    case = c.cases["building"]  # reported, anonymous, in the building: none of these people sees it
    body = {"text": "?"} if action == "comment" else {}
    invisible = client.post(f"/api/v1/cases/{case.number}/actions/{action}", body,
                            content_type="application/json", **auth(token))
    missing = client.post(f"/api/v1/cases/{NOWHERE}/actions/{action}", body, content_type="application/json",
                          **auth(token))
    assert invisible.status_code == missing.status_code == 404
    assert without_number(invisible, case.number) == without_number(missing, NOWHERE)



def test_an_assignment_grants_only_between_its_start_and_its_end(small_city):
    c = small_city
    now = clock.now()
    day = dt.timedelta(days=1)
    station = c.units["37020200100101"]
    spans = {
        "ended": (now - 30 * day, now - day),
        "ends_now": (now - 30 * day, now),  # valid_to is exclusive
        "not_yet": (now + day, None),
        "starts_now": (now, None),  # valid_from is inclusive
        "current": (now - day, now + day),
    }
    for name, (since, until) in spans.items():
        p = Person.objects.create_user(username=name, password="pw", city=c.city)
        role_assign(person=p, role="station_head", scope_unit=station, valid_from=since, valid_to=until)
        c.people[name] = p
    case = report(c, "citizen2", "06010", ON_STREET)

    for name in spans:
        a = c.actor(name)
        grants = name in ("starts_now", "current")
        assert case_list_for_actor(a).filter(pk=case.pk).exists() is grants, name
        outcome = attempt(c, name, case, "accept", {})
        assert outcome == ("ok" if grants else "404 case_not_found"), name

    # the clock moves on: the current head's term ends, and with it his sight of the case
    clock.freeze(now + 2 * day)
    assert not case_list_for_actor(c.actor("current")).exists()
    assert attempt(c, "current", case, "accept", {}) == "404 case_not_found"
    assert attempt(c, "not_yet", case, "accept", {}) == "ok"


def test_an_ended_unit_assignment_hides_the_units_cases(client, small_city):
    c = small_city
    case = report(c, "citizen", "06010", ON_STREET)
    act(c, "station_a", case, "accept")
    case = act(c, "station_a", case, "dispatch", unit=c.service_units["sanitation"].pk)
    crew = Person.objects.create_user(username="old_crew", password="pw", city=c.city)
    role_assign(person=crew, role="unit_crew", service_unit=c.service_units["sanitation"],
                valid_from=clock.now() - dt.timedelta(days=60), valid_to=clock.now() - dt.timedelta(days=1))
    c.people["old_crew"] = crew
    assert not case_list_for_actor(c.actor("old_crew")).exists()
    assert attempt(c, "old_crew", case, "acknowledge", {}) == "404 case_not_found"
    r = client.get(f"/api/v1/cases/{case.number}", **auth(token_issue(person=crew)))
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"



PHONE = "13800000001"


@pytest.mark.parametrize("who,shown", [
    ("station_a", True), ("street_head", True), ("sanitation_crew", True), ("subdistrict_sup", True),
    ("district_sup", True),
    ("citizen2", False), ("station_b", False), ("property_crew", False), ("building_head", False),
])
def test_the_reporters_contact_is_shown_only_to_staff_with_a_role_on_the_case(client, city_with_cases, who,
                                                                               shown):
    c = city_with_cases
    case = c.cases["street"]  # reported by the citizen 林先生 with his phone, dispatched to sanitation
    token = token_issue(person=c.people[who])
    detail = client.get(f"/api/v1/cases/{case.number}", **auth(token))
    listing = client.get("/api/v1/cases", **auth(token))
    if shown:
        assert detail.status_code == 200
        assert (detail.json()["reporter_name"], detail.json()["reporter_phone"]) == ("林先生", PHONE)
        (listed,) = [x for x in listing.json()["results"] if x["number"] == case.number]
        assert listed["reporter_phone"] == PHONE
    else:
        assert detail.status_code == 404
        assert PHONE.encode() not in detail.content and PHONE.encode() not in listing.content
        assert "林先生".encode() not in detail.content and "林先生".encode() not in listing.content


def test_the_anonymous_public_never_sees_a_reporters_contact(client, small_city):
    cat = small_city.categories["06010"].pk
    r = client.post("/api/v1/cases", {"category_id": cat, "lon": ON_STREET[0], "lat": ON_STREET[1],
                                      "contact_name": "林先生", "contact_phone": PHONE},
                    content_type="application/json")
    assert r.status_code == 201
    assert PHONE.encode() not in r.content and "林先生".encode() not in r.content
    number = r.json()["number"]
    for path in (f"/api/v1/cases/{number}", "/api/v1/cases"):
        r = client.get(path)
        assert r.status_code == 401 and PHONE.encode() not in r.content
