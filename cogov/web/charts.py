"""Charts drawn on the server as inline SVG (图表): bars, lines and a map of the area, no script and no internet.

Pure functions over plain values (no Django): each returns one ``<svg>`` element as a string, valid XML on its
own, with a ``<title>`` for screen readers. Every text that reaches the markup — labels, names, links — is
escaped here, since names come from data; the caller may mark the result safe. Pages show a text table beside
each chart with the same numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

__all__ = ["LIGHT_COLOURS", "MapArea", "MapDot", "bar_chart", "heatmap_chart", "line_chart", "map_chart",
           "nice_ceiling"]

SVG_NS = "http://www.w3.org/2000/svg"
#: Colours of the traffic light (红黄绿灯) and of cases waiting on verification.
LIGHT_COLOURS = {"green": "#1b7f3b", "yellow": "#d08a00", "red": "#c0262d", "grey": "#6b7785"}
#: Series colours and dash patterns: the second series differs in pattern too, not in colour only.
SERIES_STYLES = (("#1d4ed8", ""), ("#b32d2e", "6 4"), ("#1b7f3b", "2 3"), ("#6b21a8", "10 3 2 3"))
BAR_COLOUR = "#1d4ed8"
_FONT = 'font-family="system-ui, sans-serif"'
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(value: object) -> str:
    """Text or attribute value made safe for XML and HTML (characters XML forbids are dropped)."""
    return escape(_XML_INVALID.sub("", str(value)), quote=True)


def _id(value: str) -> str:
    """An element id from the caller's identifier (letters, digits, - and _ only)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", value) or "chart"
    return cleaned if cleaned[0].isalpha() else "c" + cleaned


def _num(value: float) -> str:
    """A number as short text: integers without decimals, others with one."""
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _xy(value: float) -> str:
    """A coordinate with at most one decimal (anything not finite becomes 0)."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (1 for zero or less): the top of an axis."""
    if not value or value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-12):
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _open(ident: str, width: float, height: float, title: str, desc: str = "") -> list[str]:
    ident = _id(ident)
    labelled_by = f"{ident}-title {ident}-desc" if desc else f"{ident}-title"
    out = [
        (f'<svg xmlns="{SVG_NS}" class="chart" viewBox="0 0 {_xy(width)} {_xy(height)}" width="{_xy(width)}" '
         f'height="{_xy(height)}" role="img" aria-labelledby="{labelled_by}" preserveAspectRatio="xMidYMid meet" '
         f'overflow="hidden">'),
        f'<title id="{ident}-title">{_esc(title)}</title>',
    ]
    if desc:
        out.append(f'<desc id="{ident}-desc">{_esc(desc)}</desc>')
    return out


def _empty(ident: str, title: str, text: str, width: float, height: float = 80) -> str:
    parts = _open(ident, width, height, title)
    parts.append(f'<text x="{_xy(width / 2)}" y="{_xy(height / 2)}" text-anchor="middle" {_FONT} font-size="14" '
                 f'fill="#5f6b76">{_esc(text)}</text></svg>')
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    ident: str = "bar",
    width: float = 480,
    bar_height: float = 22,
    label_width: float = 150,
    label_chars: int = 10,
    colour: str = BAR_COLOUR,
    empty_text: str = "暂无数据",
) -> str:
    """Horizontal bars, one per ``(label, value)``, scaled to the largest value; labels cut to ``label_chars``
    characters (the full label stays in each bar's ``<title>``)."""
    rows = [(str(label), float(value or 0)) for label, value in items]
    if not rows:
        return _empty(ident, title, empty_text, width)
    gap, top, value_room = 6.0, 6.0, 56.0
    height = top * 2 + len(rows) * (bar_height + gap) - gap
    plot = max(width - label_width - value_room, 10.0)
    top_value = max((v for _, v in rows), default=0.0)
    scale = plot / top_value if top_value > 0 else 0.0
    parts = _open(ident, width, height, title)
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + gap)
        w = max(value, 0.0) * scale
        mid = y + bar_height / 2
        parts.append(
            f'<g class="bar"><title>{_esc(label)}：{_esc(_num(value))}</title>'
            f'<text x="{_xy(label_width - 6)}" y="{_xy(mid)}" dy="0.35em" text-anchor="end" {_FONT} font-size="13" '
            f'fill="#1f2933">{_esc(_short(label, label_chars))}</text>'
            f'<rect x="{_xy(label_width)}" y="{_xy(y)}" width="{_xy(w)}" height="{_xy(bar_height)}" '
            f'fill="{_esc(colour)}" rx="2"/>'
            f'<text x="{_xy(label_width + w + 4)}" y="{_xy(mid)}" dy="0.35em" {_FONT} font-size="12" '
            f'fill="#1f2933">{_esc(_num(value))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    ident: str = "line",
    width: float = 640,
    height: float = 260,
    max_x_labels: int = 8,
    dots_up_to: int = 62,
    empty_text: str = "暂无数据",
    total_label: str = "合计",
) -> str:
    """Lines over the same x labels (a day each, say), one per ``(name, values)`` series, from zero to a nice top.

    A legend names the series; they differ in colour and dash pattern. Points are marked (with a ``<title>``
    each) while there are at most ``dots_up_to`` of them. ``total_label`` is the word before each series' sum
    (the caller passes it translated).
    """
    labels = [str(x) for x in x_labels]
    lines = [(str(name), [float(v or 0) for v in values]) for name, values in series]
    if not labels or not lines:
        return _empty(ident, title, empty_text, width)
    for name, values in lines:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    left, right, top, bottom = 44.0, 12.0, 30.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((max(v) for _, v in lines if v), default=0.0))
    n = len(labels)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y_at(v: float) -> float:
        return top + plot_h - max(v, 0.0) / top_value * plot_h

    desc = "；".join(f"{name}：{total_label} {_num(sum(values))}" for name, values in lines)
    parts = _open(ident, width, height, title, desc)
    for k in range(5):  # grid lines and the y axis labels
        v = top_value * k / 4
        y = y_at(v)
        parts.append(f'<line x1="{_xy(left)}" x2="{_xy(width - right)}" y1="{_xy(y)}" y2="{_xy(y)}" '
                     f'stroke="{"#9aa5b1" if k == 0 else "#e3e7eb"}" stroke-width="1"/>'
                     f'<text x="{_xy(left - 6)}" y="{_xy(y)}" dy="0.35em" text-anchor="end" {_FONT} font-size="11" '
                     f'fill="#5f6b76">{_esc(_num(v))}</text>')
    every = max(1, math.ceil(n / max(1, max_x_labels)))
    for i in range(0, n, every):
        parts.append(f'<text x="{_xy(x_at(i))}" y="{_xy(height - 8)}" text-anchor="middle" {_FONT} font-size="11" '
                     f'fill="#5f6b76">{_esc(labels[i])}</text>')
    legend_x = left
    for s, (name, values) in enumerate(lines):
        colour, dash = SERIES_STYLES[s % len(SERIES_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="legend"><line x1="{_xy(legend_x)}" x2="{_xy(legend_x + 22)}" y1="12" y2="12" '
                     f'stroke="{colour}" stroke-width="2.5"{dash_attr}/><text x="{_xy(legend_x + 27)}" y="12" '
                     f'dy="0.35em" {_FONT} font-size="12" fill="#1f2933">{_esc(name)}</text></g>')
        legend_x += 40 + 13 * len(name)
        points = " ".join(f"{_xy(x_at(i))},{_xy(y_at(v))}" for i, v in enumerate(values))
        parts.append(f'<g class="series"><title>{_esc(name)}：{_esc(total_label)} {_esc(_num(sum(values)))}</title>'
                     f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr} '
                     f'stroke-linejoin="round"/>')
        if n <= dots_up_to:
            for i, v in enumerate(values):
                parts.append(f'<circle cx="{_xy(x_at(i))}" cy="{_xy(y_at(v))}" r="2.5" fill="{colour}">'
                             f'<title>{_esc(labels[i])} {_esc(name)}：{_esc(_num(v))}</title></circle>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


class MapArea(NamedTuple):
    """One unit on the map: its outline as rings of (lon, lat), where to write its name, a link, and a shade 0–1."""

    name: str
    rings: Sequence[Sequence[tuple[float, float]]]
    label_at: tuple[float, float] | None = None
    href: str = ""
    note: str = ""
    shade: float = 0.0
    #: A colour of its own (a hotspot cell), instead of the shade.
    fill: str = ""


class MapDot(NamedTuple):
    """One case on the map: position, traffic light (green / yellow / red / grey), a label and a link."""

    lon: float
    lat: float
    light: str
    label: str
    href: str = ""


def _shade(fraction: float) -> str:
    """From a pale to a deeper blue-grey as ``fraction`` goes from 0 to 1."""
    f = min(max(fraction, 0.0), 1.0)
    low, high = (241, 244, 248), (160, 186, 222)
    r, g, b = (round(lo + (hi - lo) * f) for lo, hi in zip(low, high))
    return f"#{r:02x}{g:02x}{b:02x}"


def map_chart(
    areas: Sequence[MapArea],
    dots: Sequence[MapDot],
    *,
    title: str,
    ident: str = "map",
    width: float = 640,
    min_height: float = 240,
    max_height: float = 640,
    padding: float = 10,
    dot_radius: float = 4.5,
    label_size: float = 12,
    empty_text: str = "暂无地图数据",
    bounds: tuple[float, float, float, float] | None = None,
) -> str:
    """The areas' outlines projected into the box (longitude shrunk by cos(latitude), north up), each with its
    name, and the dots on top, coloured by traffic light. The height follows the area's shape, or ``bounds``
    (min lon, min lat, max lon, max lat) when given: a close-up, the rest cut off at the edge."""
    coords = [pt for a in areas for ring in a.rings for pt in ring]
    if not coords:
        coords = [(d.lon, d.lat) for d in dots]
    if bounds is not None:
        coords = [(bounds[0], bounds[1]), (bounds[2], bounds[3])]
    coords = [(float(x), float(y)) for x, y in coords if math.isfinite(x) and math.isfinite(y)]
    if not coords:
        return _empty(ident, title, empty_text, width)
    min_lon, max_lon = min(x for x, _ in coords), max(x for x, _ in coords)
    min_lat, max_lat = min(y for _, y in coords), max(y for _, y in coords)
    k = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = max((max_lon - min_lon) * k, 1e-9)
    span_y = max(max_lat - min_lat, 1e-9)
    inner_w = width - 2 * padding
    height = min(max(inner_w * span_y / span_x + 2 * padding, min_height), max_height)
    scale = min(inner_w / span_x, (height - 2 * padding) / span_y)
    off_x = padding + (inner_w - span_x * scale) / 2
    off_y = padding + (height - 2 * padding - span_y * scale) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return off_x + (lon - min_lon) * k * scale, off_y + (max_lat - lat) * scale

    parts = _open(ident, width, height, title)
    labels: list[str] = []
    candidates: list[tuple[float, float, float, MapArea]] = []
    for area in areas:
        path = " ".join(
            "M" + " L".join("{},{}".format(*map(_xy, project(x, y))) for x, y in ring) + " Z"
            for ring in area.rings if len(ring) >= 3
        )
        if not path:
            continue
        tip = f"{area.name}（{area.note}）" if area.note else area.name
        fill = _esc(area.fill) if area.fill else _shade(area.shade)
        stroke = 'stroke="#ffffff" stroke-width="0.5"' if area.fill else 'stroke="#52606d" stroke-width="1"'
        shape = (f'<path d="{path}" fill="{fill}" fill-rule="evenodd" {stroke}>'
                 f'<title>{_esc(tip)}</title></path>')
        if area.href:
            shape = f'<a href="{_esc(area.href)}" aria-label="{_esc(tip)}">{shape}</a>'
        parts.append(f'<g class="area">{shape}</g>')
        if area.label_at is not None:
            projected = [project(x, y) for ring in area.rings for x, y in ring]
            box_w = max(x for x, _ in projected) - min(x for x, _ in projected)
            box_h = max(y for _, y in projected) - min(y for _, y in projected)
            candidates.append((box_w * box_h, box_w, box_h, area))
    # names of the larger areas first; a name wider than its area, or over a name already written, is left out
    # (the area's <title> still names it)
    placed: list[tuple[float, float, float, float]] = []
    for _size, box_w, box_h, area in sorted(candidates, key=lambda c: -c[0]):
        name = _short(area.name, 8)
        text_w = label_size * len(name)
        if box_w < text_w or box_h < label_size:
            continue
        lx, ly = project(*area.label_at)
        box = (lx - text_w / 2 - 2, ly - label_size / 2 - 2, lx + text_w / 2 + 2, ly + label_size / 2 + 2)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        labels.append(f'<text x="{_xy(lx)}" y="{_xy(ly)}" dy="0.35em" text-anchor="middle" {_FONT} '
                      f'font-size="{_xy(label_size)}" fill="#1f2933" stroke="#ffffff" stroke-width="3" '
                      f'paint-order="stroke" pointer-events="none">{_esc(name)}</text>')
    parts.extend(labels)
    for dot in dots:
        if not (math.isfinite(dot.lon) and math.isfinite(dot.lat)):
            continue
        x, y = project(dot.lon, dot.lat)
        colour = LIGHT_COLOURS.get(dot.light, LIGHT_COLOURS["grey"])
        circle = (f'<circle class="dot {_esc(dot.light)}" cx="{_xy(x)}" cy="{_xy(y)}" r="{_xy(dot_radius)}" '
                  f'fill="{colour}" stroke="#ffffff" stroke-width="1"><title>{_esc(dot.label)}</title></circle>')
        if dot.href:
            circle = f'<a href="{_esc(dot.href)}" aria-label="{_esc(dot.label)}">{circle}</a>'
        parts.append(circle)
    parts.append("</svg>")
    return "".join(parts)


def _heat(fraction: float) -> str:
    """From white through amber to a deep red as ``fraction`` goes from 0 to 1."""
    f = min(max(fraction, 0.0), 1.0)
    stops = ((255, 255, 255), (253, 208, 120), (189, 0, 38))
    lo, hi, t = (stops[0], stops[1], f * 2) if f < 0.5 else (stops[1], stops[2], f * 2 - 1)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap_chart(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    title: str,
    marked: Sequence[Sequence[bool]] | None = None,
    ident: str = "heatmap",
    cell: float = 22,
    label_width: float = 44,
    column_label_every: int = 3,
    empty_text: str = "暂无数据",
) -> str:
    """A grid of shaded cells (rows × columns, e.g. the 7 days × 24 hours of a week), darker for larger values;
    a ``marked`` cell (a statistically significant hot hour) also gets a thick outline and a dot, so the mark
    does not rest on colour alone. Each cell's ``<title>`` gives its row, column and value."""
    rows = [[float(v or 0) for v in row] for row in values]
    if len(rows) != len(row_labels) or any(len(r) != len(column_labels) for r in rows):
        raise ValueError("heatmap values must have one row per row label and one value per column label")
    if not any(v > 0 for r in rows for v in r):
        return _empty(ident, title, empty_text, label_width + cell * max(len(column_labels), 10))
    top_value = max(max(r) for r in rows)
    width = label_width + cell * len(column_labels) + 4
    height = 18 + cell * len(rows) + 4
    parts = _open(ident, width, height, title)
    every = max(1, column_label_every)
    for j, label in enumerate(column_labels):
        if j % every == 0:
            parts.append(f'<text x="{_xy(label_width + j * cell + cell / 2)}" y="12" text-anchor="middle" {_FONT} '
                         f'font-size="11" fill="#1f2933">{_esc(label)}</text>')
    for i, (label, row) in enumerate(zip(row_labels, rows)):
        y = 18 + i * cell
        parts.append(f'<text x="{_xy(label_width - 6)}" y="{_xy(y + cell / 2)}" dy="0.35em" text-anchor="end" '
                     f'{_FONT} font-size="12" fill="#1f2933">{_esc(label)}</text>')
        for j, value in enumerate(row):
            x = label_width + j * cell
            mark = bool(marked and marked[i][j])
            fill = _heat(value / top_value if top_value > 0 else 0.0)
            stroke = 'stroke="#1f2933" stroke-width="2.5"' if mark else 'stroke="#e4e7eb" stroke-width="1"'
            tip = f"{label} {column_labels[j]}：{_num(value)}" + (" ★" if mark else "")
            parts.append(f'<g class="cell{" marked" if mark else ""}"><title>{_esc(tip)}</title>'
                         f'<rect x="{_xy(x)}" y="{_xy(y)}" width="{_xy(cell)}" height="{_xy(cell)}" fill="{fill}" '
                         f'{stroke}/>')
            if mark:
                parts.append(f'<circle cx="{_xy(x + cell / 2)}" cy="{_xy(y + cell / 2)}" r="{_xy(cell / 7)}" '
                             f'fill="#1f2933"/>')
            parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
