"""Read queries of the insight work: the closed cases a city's classifier learns from."""

from __future__ import annotations

from cogov.cases.models import Case, Category


def closed_case_texts(*, city_id: int) -> list[tuple[str, str]]:
    """(title + description, category code) of every closed case of the city with some text, oldest first.

    The category is the case's final one (after any reclassification while it was handled): what the
    station decided the report was about.
    """
    rows = (Case.objects.filter(city_id=city_id, state="closed").select_related("category")
            .order_by("reported_at", "pk").values_list("title", "description", "category__code"))
    out = []
    for title, description, code in rows:
        text = " ".join(s.strip() for s in (title, description) if s and s.strip())
        if text:
            out.append((text, code))
    return out


def category_words(*, city_id: int) -> tuple[dict[str, str], list[str]]:
    """The city's category names by code (a matter's name wins over a component's), and every name and
    keyword (domain words for the segmenter)."""
    names: dict[str, str] = {}
    words: list[str] = []
    for code, name, keywords in (Category.objects.filter(city_id=city_id).order_by("kind", "edition", "code")
                                 .values_list("code", "name", "keywords")):
        names[code] = name
        words.append(name)
        words += [w for w in (keywords or "").split() if w]
    return names, words
