"""One vocabulary for every page: the words of the traffic lights and of durations (cogov.web.display)."""

from __future__ import annotations

import datetime as dt

import pytest

from cogov.web.display import LIGHT_NAMES, duration_text, light_name

M = dt.timedelta(minutes=1)


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"),
    (dt.timedelta(0), "0 分钟"),
    (59 * M, "59 分钟"),
    (60 * M, "60 分钟"),  # a full hour still counts down in minutes
    (61 * M, "1.0 小时"),
    (90 * M, "1.5 小时"),
    (47 * 60 * M, "47.0 小时"),
    (48 * 60 * M, "2.0 天"),
    (23711 * M, "16.5 天"),  # the station console once said "超时 23711 分钟"
    (-23711 * M, "16.5 天"),  # the sign is the caller's: 剩余 or 超时
])
def test_durations_are_said_in_minutes_hours_or_days(value, text):
    assert duration_text(value) == text


def test_the_lights_have_one_word_each():
    assert {k: str(v) for k, v in LIGHT_NAMES.items()} == {
        "green": "正常", "yellow": "临期", "red": "超时", "grey": "待核查", "closed": "已结案"}
    assert light_name("red") == "超时" and light_name("") == "" and light_name(None) == "" and light_name("x") == ""


def test_every_page_says_the_lights_with_the_same_words(client, small_city):
    """The public map's legend used 时限内/临近时限/已超时 while the consoles said 正常/临期/超时."""
    body = client.get("/cases/map/").content.decode()
    legend = body[body.index('class="legend'):]
    legend = legend[:legend.index("</p>")]
    for word in ("正常", "临期", "超时", "已结案"):
        assert word in legend, word
    for old in ("时限内", "临近时限", "已超时"):
        assert old not in body, old
    client.force_login(small_city.people["district_sup"])
    dashboard = client.get("/work/dashboard/").content.decode()
    key = dashboard[dashboard.index('class="legend"'):]
    for word in ("超时", "临期", "正常", "待核查"):
        assert word in key[:key.index("</figcaption>")], word
