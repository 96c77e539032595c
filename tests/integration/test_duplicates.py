"""疑似重复 at intake: the station head is offered a one-click merge only for reports the scorer rates above the
threshold (place and time agree; same or related category), with the score and its reasons on the console."""

from __future__ import annotations

import datetime as dt

import pytest

from cogov import clock
from cogov.cases.selectors import case_duplicates_near
from cogov.cases.services import case_report
from cogov.insight import duplicates as D
from tests.conftest import ON_STREET

METRE_LAT = 1 / 111_195


def north(point, metres):
    return point[0], point[1] + metres * METRE_LAT


def report(city, code="06010", point=ON_STREET, description="路边一堆暴露垃圾，好几天没人清"):
    return case_report(city=city.city, actor=None, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], contact_phone="13912345678", description=description)


def console_row(client, city, case):
    client.force_login(city.people["station_a"])
    html = client.get(f"/work/station/{city.units['37020200100101'].pk}/").content.decode()
    row = html[html.index(f'id="q-{case.number}"'):]
    return row[:row.index("</article>")]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_the_console_offers_a_merge_only_above_the_threshold(client, small_city):
    week_old = report(small_city)  # the same spot, but five days ago: another pile
    clock.freeze(clock.now() + dt.timedelta(days=5))
    first = report(small_city, point=north(ON_STREET, 8))
    clock.freeze(clock.now() + dt.timedelta(hours=3))
    street_on = report(small_city, point=north(ON_STREET, 120))  # same street, 120 m on: not the same pile
    other_kind = report(small_city, code="09009", point=north(ON_STREET, 5))
    new = report(small_city, point=north(ON_STREET, 35), description="香港中路口有一堆垃圾，味道很大")

    actor = small_city.actor("station_a")
    found = case_duplicates_near(actor, new)
    assert [c.number for c, _, _ in found] == [first.number]
    dup, metres, match = found[0]
    assert metres == 27 and match.score >= D.THRESHOLD
    assert match.reasons[:3] == ["相距 27 米", "同类", "相隔 3 小时"]
    # below the threshold nothing is hidden from a caller who asks for everything scored
    everything = {c.number for c, _, _ in case_duplicates_near(actor, new, threshold=0.0)}
    assert {first.number, street_on.number, week_old.number} <= everything
    assert other_kind.number not in everything

    row = console_row(client, small_city, new)
    assert "疑似重复" in row and f'value="{first.number}"' in row and "相距 27 米，同类" in row
    for number in (week_old.number, street_on.number, other_kind.number):
        assert f'value="{number}"' not in row
    assert f"相似度 {match.score:.2f}" in row


def test_a_related_category_counts_less_and_says_so(client, small_city):
    bin_full = report(small_city, code="06042", description="垃圾箱满溢，周边堆满垃圾")
    clock.freeze(clock.now() + dt.timedelta(minutes=20))
    new = report(small_city, point=north(ON_STREET, 10), description="垃圾箱旁边堆满垃圾")
    found = case_duplicates_near(small_city.actor("station_a"), new, threshold=0.0)
    assert [c.number for c, _, _ in found] == [bin_full.number]
    match = found[0][2]
    as_same = D.Report("a", "06010", *ON_STREET, bin_full.reported_at, text=f"{bin_full.title} {bin_full.description}",
                       source="citizen")
    same = D.score(as_same, D.Report("b", "06010", *north(ON_STREET, 10), new.reported_at,
                                     text=f"{new.title} {new.description}", source="citizen"))
    assert "相关类别" in match.reasons and match.score < same.score
    # a second passer-by filing the pile under a neighbouring category 20 minutes later: offered on the console
    assert [c.number for c, _, _ in case_duplicates_near(small_city.actor("station_a"), new)] == [bin_full.number]
    assert "相关类别" in console_row(client, small_city, new)


def test_a_report_with_nothing_near_gets_no_offer(client, small_city):
    alone = report(small_city)
    assert case_duplicates_near(small_city.actor("station_a"), alone) == []
    assert "疑似重复" not in console_row(client, small_city, alone)


def cogov(*argv: str) -> int:
    from cogov.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(argv))
    return e.value.code


def test_the_evaluation_replays_the_cases_against_the_labels(small_city, tmp_path, capsys):
    first = report(small_city)
    clock.freeze(clock.now() + dt.timedelta(hours=2))
    second = report(small_city, point=north(ON_STREET, 20), description="香港中路口垃圾没人清理")
    clock.freeze(clock.now() + dt.timedelta(hours=1))
    unrelated = report(small_city, point=north(ON_STREET, 15), description="有个人在这里", code="09009")
    missed = report(small_city, code="06010", point=north(ON_STREET, 190), description="一堆垃圾")
    from cogov.cases.services import case_follow

    case_follow(case_id=first.pk, person_id=None, device_key="browser-1")  # 我也遇到了: caught at the form
    labels = tmp_path / "labels.csv"
    labels.write_text(f"案件编号,重复于\n{second.number},{first.number}\n{missed.number},{first.number}\n",
                      encoding="utf-8-sig")
    assert cogov("insight", "duplicates", "--eval", "--labels", str(labels), "--show-errors") == 0
    out = capsys.readouterr().out
    assert "4 件案件，2 条重复标注" in out
    assert "已确认的重复反映：站长合并 0 件；市民点「我也遇到了」1 次" in out
    whole = next(line for line in out.splitlines() if line.startswith("全部"))
    assert "精确率 1.000  召回率 0.500" in whole and "判对 1，误判 0，漏判 1" in whole
    assert f"漏判 {missed.number}（重复于 {first.number}）" in out and unrelated.number not in out

    bad = tmp_path / "bad.csv"
    bad.write_text("number,of\n1,2\n", encoding="utf-8")
    assert cogov("insight", "duplicates", "--eval", "--labels", str(bad)) == 2
    assert "标注文件需要列 案件编号,重复于" in capsys.readouterr().err
    assert cogov("insight", "duplicates", "--eval", "--labels", str(tmp_path / "none.csv")) == 2
    assert "标注文件不存在" in capsys.readouterr().err
    assert cogov("insight", "duplicates", "--labels", str(labels)) == 2
    assert "--fit" in capsys.readouterr().err
    assert cogov("insight", "duplicates", "--eval", "--labels", str(labels), "--threshold", "2") == 2


def test_the_same_photo_from_a_second_reporter_is_offered_even_far_and_late(client, small_city):
    from cogov.cases.models import Attachment
    from cogov.intake.photos import store_photos
    from tests.unit.test_duplicates import picture

    first = report(small_city, description="路灯不亮")
    store_photos(city_id=small_city.city.pk, files=[picture(1)], case=first)
    clock.freeze(clock.now() + dt.timedelta(hours=40))
    again = report(small_city, point=north(ON_STREET, 150), description="晚上这一段很黑")
    store_photos(city_id=small_city.city.pk, files=[picture(1)], case=again)
    forwarded = report(small_city, point=north(ON_STREET, 150), description="这里黑乎乎的")
    store_photos(city_id=small_city.city.pk, files=[picture(1, side=200, quality=40)], case=forwarded)
    stranger = report(small_city, point=north(ON_STREET, 150), description="这里黑乎乎的")
    store_photos(city_id=small_city.city.pk, files=[picture(2)], case=stranger)
    assert all(len(a.phash) == 16 for a in Attachment.objects.all())

    actor = small_city.actor("station_a")
    found = {c.number: m for c, _, m in case_duplicates_near(actor, again)}
    assert found[first.number].score >= 0.95 and "照片相同" in found[first.number].reasons
    found = {c.number: m for c, _, m in case_duplicates_near(actor, forwarded)}
    assert first.number in found and "照片相似" in found[first.number].reasons
    assert first.number not in {c.number for c, _, _ in case_duplicates_near(actor, stranger)}
    assert "照片相同" in console_row(client, small_city, again)


def test_the_demo_makes_a_second_report_at_an_open_standing_problem_a_duplicate():
    """Year._re_report: a new report of a standing category within SAME_SPOT_METRES of an open case of the same
    category (same courtyard and station) becomes a re-report of it; event-like categories and a patroller's
    second find stay independent; a closed case is forgotten."""
    import types

    import numpy as np

    from cogov.demo import history as H

    t0 = dt.datetime(2026, 5, 6, 8, 0, tzinfo=dt.UTC)

    class Sim:
        def __init__(self, events):
            self.events = [types.SimpleNamespace(at=at, to_state=s) for at, s in events]

        def state_at(self, at):
            state = ""
            for ev in self.events:
                if ev.at > at:
                    break
                state = ev.to_state
            return state

    def cat(code, scope="outside"):
        return types.SimpleNamespace(code=code, scope=scope, name="暴露垃圾")

    def plan(code, metres, hours, source="citizen", scope="outside"):
        point = (120.33, 36.06 + metres * METRE_LAT)
        return H.Plan(at=t0 + dt.timedelta(hours=hours), source=source, category=cat(code, scope), spot=None,
                      point=point, located={"station": 1})

    year = types.SimpleNamespace(rng=np.random.default_rng(1), _cell=H.Year._cell)
    first = plan("06010", 0, 0, source="head")
    still_open = Sim([(first.at, "reported"), (first.at + dt.timedelta(hours=3), "dispatched"),
                      (first.at + dt.timedelta(days=3), "closed")])
    standing = {("06010", *H.Year._cell(first.point)): [(first, still_open)]}
    again = plan("06010", 30, 20)
    H.Year._re_report(year, again, standing)
    assert again.flow == "merge" and again.duplicate_of is first and again.title  # in the reporter's own words
    for other in (plan("06010", 80, 20), plan("06010", 30, 24 * 4)):
        H.Year._re_report(year, other, standing)
        assert other.flow == "normal" and other.duplicate_of is None  # too far, closed by then
    # the same head's own second find stays his own case; another head's report of the pile is a re-report
    first.number = "A1"

    def sim_by(source, person):
        return types.SimpleNamespace(case=types.SimpleNamespace(source=source, reported_by_id=person))

    year.facts = types.SimpleNamespace(cases={"A1": sim_by("head", 7)})
    assert H.Year._own_find(year, sim_by("head", 7), first)
    assert not H.Year._own_find(year, sim_by("head", 8), first) and not H.Year._own_find(year, sim_by("citizen", 7),
                                                                                          first)
    car = plan("09009", 10, 2)
    standing[("09009", *H.Year._cell(car.point))] = [(plan("09009", 0, 0), still_open)]
    H.Year._re_report(year, car, standing)
    assert car.flow == "normal"  # event-like: another car
    assert standing[("06010", *H.Year._cell(first.point))] == []  # closed for good at day 4: forgotten


def test_the_fit_prints_the_weights_and_a_threshold(small_city, tmp_path, capsys):
    """``--fit`` (only for a tuning city): a logistic regression on the replay's candidate pairs, printed as the
    constants of duplicates.py."""
    first = report(small_city)
    numbers = []
    for hours, metres in ((1, 15), (2, 30), (30, 160), (50, 120), (3, 20), (60, 180)):
        clock.freeze(clock.now() + dt.timedelta(hours=hours))
        numbers.append(report(small_city, point=north(ON_STREET, metres)).number)
    labels = tmp_path / "labels.csv"
    labels.write_text("案件编号,重复于\n" + "".join(f"{n},{first.number}\n" for n in numbers[:2] + numbers[4:5]),
                      encoding="utf-8")
    assert cogov("insight", "duplicates", "--fit", "--labels", str(labels)) == 0
    out = capsys.readouterr().out
    assert "INTERCEPT = " in out and "THRESHOLD = " in out
    assert all(f'"{name}": ' in out for name in D.FEATURES)
    weights = {line.split('"')[1]: float(line.split(":")[1].rstrip(",")) for line in out.splitlines()
               if line.startswith('    "')}
    assert weights["metres"] < 0  # the close pairs are the labelled ones
    none = tmp_path / "none.csv"
    none.write_text("案件编号,重复于\n", encoding="utf-8")
    assert cogov("insight", "duplicates", "--fit", "--labels", str(none)) == 2
    assert "没有正例" in capsys.readouterr().err
