"""The governed city (辖区): tenants and the one table of territorial units."""

from __future__ import annotations

from django.db import models

KIND_CHOICES = [
    ("district", "区（市）"),
    ("subdistrict", "街道"),
    ("community", "社区"),
    ("station", "城市治理服务站"),
    ("area", "区片"),
    ("street", "街巷"),
    ("courtyard", "楼院"),
    ("building", "楼"),
]
KINDS = [k for k, _ in KIND_CHOICES]
#: Which kinds a kind may hang under (a street or courtyard belongs to a station, a building to a courtyard).
PARENT_KINDS = {
    "district": (None,),
    "subdistrict": ("district",),
    "community": ("subdistrict",),
    "station": ("community",),
    "area": ("station",),
    "street": ("station",),
    "courtyard": ("station", "area"),
    "building": ("courtyard", "station"),
}
#: Where a case sits (小事不出社区、大事不出街道).
LEVELS = ["community", "subdistrict", "district"]


class City(models.Model):
    """城市 — the tenant. Every row that belongs to a city carries its id."""

    code = models.CharField("行政区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=50)
    #: Bumped by every change of geography; a process rebuilds its locate index when behind.
    geo_version = models.PositiveIntegerField("地理数据版本", default=0)
    #: Bumped by every change of what reports read and rarely change (categories and limits, professional units
    #: and their areas, calendar, endpoints, unit names); processes re-read their caches when behind
    #: (cogov/cases/config.py). The database default lets code that predates the column still insert cities.
    config_version = models.PositiveIntegerField("配置版本", default=0, db_default=0, editable=False)
    #: Bounding box of the city's territory, for "outside the city" checks without loading the index.
    min_lon = models.FloatField("最小经度", null=True, blank=True)
    min_lat = models.FloatField("最小纬度", null=True, blank=True)
    max_lon = models.FloatField("最大经度", null=True, blank=True)
    max_lat = models.FloatField("最大纬度", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "城市"

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    """辖区单元 — district, sub-district, community, station, area, street, courtyard or building."""

    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="units", verbose_name="城市")
    kind = models.CharField("类型", max_length=12, choices=KIND_CHOICES)
    code = models.CharField("编码", max_length=40)
    name = models.CharField("名称", max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name="上级单元")
    #: Materialised path of codes, "370202/370202001/…/": everything under a unit is one prefix query.
    path = models.CharField("编码路径", max_length=400, db_index=True)
    #: WGS-84 geometry as WKB (the same bytes on SQLite and PostgreSQL; PostGIS optional).
    geometry = models.BinaryField("几何", null=True, blank=True)
    valid_from = models.DateField("生效日期", null=True, blank=True)
    valid_to = models.DateField("失效日期", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "辖区单元"
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="unit_code_unique_per_city")]
        indexes = [models.Index(fields=["city", "kind"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_kind_display()}）"
