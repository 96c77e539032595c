"""Cases (案件) and their history: categories, the case, its reporter, its hash-chained events."""

from __future__ import annotations

from django.db import models

from cogov.cases import workflow
from cogov.people.models import DUTY_CHOICES

SCOPE_CHOICES = [("building", "楼内"), ("courtyard", "楼院内"), ("outside", "街面")]
CATEGORY_KIND_CHOICES = [("component", "部件"), ("matter", "事项")]
URGENCY_CHOICES = [("normal", "一般"), ("urgent", "紧急"), ("emergency", "特急")]
TIME_UNIT_CHOICES = [
    ("working_hours", "工作时"),
    ("working_days", "工作日"),
    ("hours", "小时"),
    ("calendar_days", "自然日"),
]
SOURCE_CHOICES = [
    ("citizen", "市民上报"),
    ("head", "三长巡查"),
    ("merchant_group", "商户自律小组"),
    ("inspector", "执法巡查"),
    ("hotline", "12345热线"),
    ("volunteer", "志愿者"),
    ("open311", "Open311 接入"),
]
MODERATION_CHOICES = [("ok", "公开"), ("held", "待审核"), ("rejected", "不予公开")]
LEVEL_CHOICES = [("community", "社区"), ("subdistrict", "街道"), ("district", "区")]


class Category(models.Model):
    """案件类别 — a component or matter of a classification edition (GB/T 47678.5-2026 or the city's own)."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="categories")
    edition = models.CharField("标准版本", max_length=40)
    code = models.CharField("编码", max_length=20)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=10, choices=CATEGORY_KIND_CHOICES)
    major_code = models.CharField("大类编码", max_length=10, blank=True)
    major_name = models.CharField("大类名称", max_length=50, blank=True)
    scope = models.CharField("发生位置", max_length=10, choices=SCOPE_CHOICES, default="outside")
    duty_type = models.CharField("责任单位类型", max_length=20, choices=DUTY_CHOICES, blank=True)
    reporter_verifies = models.BooleanField("由上报人核查", default=False)
    keywords = models.CharField("关键词", max_length=300, blank=True)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "案件类别"
        constraints = [
            # the national table numbers components and their "abnormal" matters alike (01001 供水井盖 / 01001 …)
            models.UniqueConstraint(fields=["city", "edition", "kind", "code"], name="category_code_unique_per_edition")
        ]
        ordering = ["edition", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CategoryLimit(models.Model):
    """时限 — first-response and handling limits of a category for one urgency level."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="limits")
    urgency = models.CharField("紧急程度", max_length=10, choices=URGENCY_CHOICES, default="normal")
    first_response_amount = models.FloatField("响应时限", default=1)
    first_response_unit = models.CharField(max_length=20, choices=TIME_UNIT_CHOICES, default="working_hours")
    handling_amount = models.FloatField("处置时限", default=3)
    handling_unit = models.CharField(max_length=20, choices=TIME_UNIT_CHOICES, default="working_days")

    class Meta:
        verbose_name = verbose_name_plural = "类别时限"
        constraints = [models.UniqueConstraint(fields=["category", "urgency"], name="limit_unique_per_urgency")]


class CalendarDay(models.Model):
    """节假日安排 — a day the bureau entered: off (放假) or worked (调休上班)."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="calendar_days")
    date = models.DateField("日期")
    is_workday = models.BooleanField("上班", default=False)
    name = models.CharField("说明", max_length=50, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "节假日安排"
        constraints = [models.UniqueConstraint(fields=["city", "date"], name="calendar_day_unique")]


class CalendarYear(models.Model):
    """已录入年份 — a year whose official holidays the bureau entered in full."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="calendar_years")
    year = models.PositiveIntegerField("年份")
    source = models.CharField("依据", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "已录入年份"
        constraints = [models.UniqueConstraint(fields=["city", "year"], name="calendar_year_unique")]


class CaseCounter(models.Model):
    """案件编号计数器 — one row per city and year, locked when a number is taken."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    year = models.PositiveIntegerField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["city", "year"], name="case_counter_unique")]


class Reporter(models.Model):
    """上报人 — a reporter's contact, kept apart from the case and shown to staff only."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    person = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField("姓名", max_length=50, blank=True)
    phone = models.CharField("电话", max_length=20, blank=True)
    email = models.CharField("邮箱", max_length=200, blank=True)
    device_id = models.CharField("设备标识", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "上报人"


class Case(models.Model):
    """案件 — one problem in one place, from report to evaluation."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="cases")
    number = models.CharField("案件编号", max_length=20)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    urgency = models.CharField("紧急程度", max_length=10, choices=URGENCY_CHOICES, default="normal")
    source = models.CharField("来源", max_length=20, choices=SOURCE_CHOICES)
    title = models.CharField("标题", max_length=100, blank=True)
    description = models.TextField("描述", blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    lon = models.FloatField("经度")
    lat = models.FloatField("纬度")
    #: The locate result frozen at intake: {kind: unit id}.
    units = models.JSONField(default=dict)
    district = models.ForeignKey("geo.Unit", null=True, on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey("geo.Unit", null=True, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey("geo.Unit", null=True, on_delete=models.PROTECT, related_name="+")
    station = models.ForeignKey("geo.Unit", null=True, on_delete=models.PROTECT, related_name="+")
    #: Path of the deepest unit at intake; "every case under X" is a prefix query.
    unit_path = models.CharField(max_length=400, db_index=True)
    state = models.CharField("状态", max_length=20, choices=workflow.STATE_CHOICES, default=workflow.INITIAL)
    level = models.CharField("所在层级", max_length=12, choices=LEVEL_CHOICES, default="community")
    max_level = models.CharField("最高层级", max_length=12, choices=LEVEL_CHOICES, default="community")
    handler_unit = models.ForeignKey(
        "people.ServiceUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    #: The head (楼院长/街巷长/区片长) the routing chose, and why.
    head = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    head_role = models.CharField(max_length=30, blank=True)
    suggested_unit = models.ForeignKey(
        "people.ServiceUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    routing_reasons = models.JSONField(default=list)
    reporter = models.ForeignKey(Reporter, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    reported_by = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_cases"
    )
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    extension_pending = models.BooleanField(default=False)
    rework_count = models.PositiveIntegerField(default=0)
    return_count = models.PositiveIntegerField(default=0)
    extension_count = models.PositiveIntegerField(default=0)
    rating = models.CharField(max_length=20, blank=True)
    reported_at = models.DateTimeField("上报时间")
    accepted_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    first_response_due = models.DateTimeField(null=True, blank=True)
    handling_due = models.DateTimeField(null=True, blank=True)
    #: Years a deadline was computed in without an official calendar (Mon–Fri assumed).
    deadline_fallback_years = models.JSONField(default=list)
    event_count = models.PositiveIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True)
    #: Public intake: a text carrying links or spam is held until a person allows it (never shown publicly before).
    moderation = models.CharField("审核", max_length=10, choices=MODERATION_CHOICES, default="ok")
    moderation_reasons = models.JSONField(default=list, blank=True)
    #: Open311 token (tokens/{token}): a stable public handle that is not the sequential number.
    token = models.CharField(max_length=40, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "案件"
        constraints = [models.UniqueConstraint(fields=["city", "number"], name="case_number_unique_per_city")]
        indexes = [
            models.Index(fields=["city", "state"]),
            models.Index(fields=["city", "station"]),
            models.Index(fields=["city", "handler_unit", "state"]),
            models.Index(fields=["city", "reported_at"]),
            # dashboards: closed and escalated in a period (cogov/cases/stats.py)
            models.Index(fields=["city", "closed_at"], name="case_city_closed_at_idx"),
            models.Index(fields=["city", "escalated_at"], name="case_city_escalated_at_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class CaseEvent(models.Model):
    """案件事件 — one step of a case's history; append-only and chained by hash."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    action = models.CharField(max_length=30)
    actor = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    #: The actor's id at the time, kept in the hashed payload (the FK may be nulled by erasure).
    actor_ref = models.CharField(max_length=40, blank=True)
    role = models.CharField(max_length=30)
    at = models.DateTimeField()
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = verbose_name_plural = "案件事件"
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="event_seq_unique_per_case")]
        ordering = ["case_id", "seq"]

    def save(self, *args, **kwargs):
        """Events are written once; an update through the ORM is refused."""
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("CaseEvent is append-only")
        super().save(*args, **kwargs)


ATTACHMENT_KIND_CHOICES = [("report", "上报照片"), ("after", "处置后照片")]


class Attachment(models.Model):
    """照片 — a photo of a case: the original kept for staff, a public copy without EXIF, and a thumbnail."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments")
    #: Who uploaded it before a case existed: a person, or a random token handed to an anonymous client —
    #: only they may attach it to a case.
    uploaded_by = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    upload_token = models.CharField(max_length=64, blank=True, db_index=True)
    kind = models.CharField("类型", max_length=10, choices=ATTACHMENT_KIND_CHOICES, default="report")
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    #: Perceptual hash (64-bit pHash, 16 hex digits) of the picture: the same photo re-compressed or resized by a
    #: second reporter's phone stays within a few bits (cogov/insight/duplicates.py). Empty for older photos.
    phash = models.CharField("感知哈希", max_length=16, blank=True, default="")
    #: Paths relative to MEDIA_ROOT.
    original = models.CharField(max_length=300)
    public = models.CharField(max_length=300)
    thumbnail = models.CharField(max_length=300)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "照片"


class CaseFollow(models.Model):
    """关注（我也遇到了）— someone met the same problem and follows the case instead of filing another.

    One per case and person, or per case and device (an anonymous browser's key); the analytics count a
    follow as a confirmed duplicate report.
    """

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="follows")
    person = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    device_key = models.CharField("设备标识", max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "关注"
        constraints = [
            models.UniqueConstraint(fields=["case", "person"], condition=models.Q(person__isnull=False),
                                    name="case_follow_unique_person"),
            models.UniqueConstraint(fields=["case", "device_key"], condition=~models.Q(device_key=""),
                                    name="case_follow_unique_device"),
        ]
