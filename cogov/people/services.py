"""Writes to people and duty (人员服务): accounts and role assignments."""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction

from cogov import clock
from cogov.errors import DomainError
from cogov.geo.models import City, Unit
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.roles import ROLES

#: The unit kind each territorial role is assigned to.
ROLE_SCOPE_KINDS = {
    "volunteer": (),
    "station_head": ("station",),
    "building_head": ("building", "courtyard"),
    "street_head": ("street",),
    "area_head": ("area",),
    "subdistrict_supervisor": ("subdistrict",),
    "district_supervisor": ("district",),
    "city_supervisor": (),
}


def person_create_admin(*, username: str, password: str, city_code: str | None = None) -> Person:
    """Create or reset an administrator (superuser, 系统管理员)."""
    city = City.objects.filter(code=city_code).first() if city_code else None
    person, _ = Person.objects.get_or_create(username=username)
    person.is_staff = person.is_superuser = True
    person.city = city or person.city
    person.display_name = person.display_name or "系统管理员"
    person.set_password(password)
    person.save()
    return person


def role_assign(
    *,
    person: Person,
    role: str,
    scope_unit: Unit | None = None,
    service_unit: ServiceUnit | None = None,
    valid_from: dt.datetime | None = None,
    valid_to: dt.datetime | None = None,
) -> RoleAssignment:
    """岗位任命 — assign ``role`` to ``person`` over ``scope_unit`` (or in ``service_unit``) for a time."""
    if role not in ROLES or role == "citizen":
        raise DomainError("bad_role", f"未知岗位：{role}")
    if role in ("unit_dispatcher", "unit_crew"):
        if service_unit is None:
            raise DomainError("missing_fields", "专业单位岗位需要指定专业单位")
        city_id = service_unit.city_id
    elif role == "admin":
        city_id = person.city_id
    else:
        kinds = ROLE_SCOPE_KINDS[role]
        if kinds and (scope_unit is None or scope_unit.kind not in kinds):
            raise DomainError("bad_scope", f"{role} 必须任命到：{'、'.join(kinds)}")
        city_id = scope_unit.city_id if scope_unit else person.city_id
    if city_id is None:
        raise DomainError("missing_fields", "无法确定所属城市")
    valid_from = valid_from or clock.now()
    if valid_to is not None and valid_to <= valid_from:
        raise DomainError("bad_period", "结束时间必须晚于开始时间")
    with transaction.atomic():
        return RoleAssignment.objects.create(
            city_id=city_id, person=person, role=role, scope_unit=scope_unit,
            scope_path=scope_unit.path if scope_unit else "", service_unit=service_unit,
            valid_from=valid_from, valid_to=valid_to,
        )


# --- Citizens signing in with a mobile number (手机号验证码登录) -------------------------------------------

#: A mainland mobile number (after dropping spaces, dashes and a +86 prefix).
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def phone_normalize(phone: str) -> str:
    """The 11 digits of a mainland mobile number; ``DomainError("bad_phone")`` for anything else."""
    digits = "".join(ch for ch in str(phone or "") if ch not in " -\u00a0\u3000")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
    if not MOBILE_RE.fullmatch(digits):
        raise DomainError("bad_phone", "请输入正确的 11 位手机号（中国大陆）")
    return digits


def _code_hash(phone: str, code: str) -> str:
    import hashlib
    import hmac

    from django.conf import settings

    return hmac.new(settings.SECRET_KEY.encode(), f"sms:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_code_send(*, city: City, phone: str) -> dt.datetime:
    """发送验证码 — make a 6-digit code for ``phone``, keep its hash, send it; returns when it expires.

    At most ``COGOV_SMS_CODES_PER_HOUR`` (5) codes per phone per hour (429 ``too_many_codes``); a new code
    replaces the phone's earlier ones. The message goes out after the row is committed.
    """
    import secrets

    from django.conf import settings

    from cogov.people import sms
    from cogov.people.models import PhoneCode

    phone = phone_normalize(phone)
    now = clock.now()
    per_hour = int(getattr(settings, "COGOV_SMS_CODES_PER_HOUR", 5))
    ttl = dt.timedelta(seconds=int(getattr(settings, "COGOV_SMS_CODE_TTL_SECONDS", 300)))
    with transaction.atomic():
        recent = list(PhoneCode.objects.filter(phone=phone, created_at__gt=now - dt.timedelta(hours=1))
                      .order_by("created_at").values_list("created_at", flat=True))
        if len(recent) >= per_hour:
            wait = max(1, int((recent[-per_hour] + dt.timedelta(hours=1) - now).total_seconds()) + 1)
            minutes = (wait + 59) // 60
            raise DomainError("too_many_codes", f"该手机号获取验证码过于频繁，请 {minutes} 分钟后再试", status=429,
                              detail={"retry_after": wait})
        code = f"{secrets.randbelow(10**6):06d}"
        PhoneCode.objects.filter(phone=phone, used_at__isnull=True).update(used_at=now)
        row = PhoneCode.objects.create(city=city, phone=phone, code_hash=_code_hash(phone, code), created_at=now,
                                       expires_at=now + ttl)
    sms.send_code(phone, code)
    return row.expires_at


def phone_code_verify(*, city: City, phone: str, code: str) -> Person:
    """核验验证码 — the citizen signing in with ``code``: found by phone in the city, or created.

    Refusals: ``no_code`` (none sent), ``code_expired`` (after 5 minutes), ``wrong_code`` (a try is counted),
    ``too_many_tries`` (after ``COGOV_SMS_MAX_TRIES``, 5: a new code is needed). A code works once.
    """
    import hmac

    from django.conf import settings
    from django.db.models import F

    from cogov.people.models import PhoneCode

    phone = phone_normalize(phone)
    code = "".join(str(code or "").split())
    max_tries = int(getattr(settings, "COGOV_SMS_MAX_TRIES", 5))
    now = clock.now()
    refusal = None
    with transaction.atomic():
        row = (PhoneCode.objects.select_for_update().filter(phone=phone, city=city, used_at__isnull=True)
               .order_by("-created_at", "-id").first())
        if row is None:
            raise DomainError("no_code", "请先获取验证码")
        if row.expires_at <= now:
            raise DomainError("code_expired", "验证码已过期，请重新获取")
        if row.tries >= max_tries:
            raise DomainError("too_many_tries", "验证码错误次数过多，请重新获取", status=429)
        if not hmac.compare_digest(row.code_hash, _code_hash(phone, code)):
            PhoneCode.objects.filter(pk=row.pk).update(tries=F("tries") + 1)
            left = max_tries - row.tries - 1
            refusal = (DomainError("wrong_code", f"验证码不正确，还可尝试 {left} 次") if left > 0
                       else DomainError("too_many_tries", "验证码错误次数过多，请重新获取", status=429))
        else:
            PhoneCode.objects.filter(pk=row.pk).update(used_at=now)
            person = citizen_for_phone(city=city, phone=phone)
    if refusal is not None:  # raised after the commit, so the failed try is counted
        raise refusal
    return person


def citizen_for_phone(*, city: City, phone: str) -> Person:
    """The citizen account of a verified mobile number in the city: an existing citizen with that phone, else
    a new one (``phone-<phone>``, no password). Staff accounts are never signed in by a text message."""
    from django.db.models import Exists, OuterRef

    from cogov.people.permissions import STAFF_ROLES

    phone = phone_normalize(phone)
    staff = RoleAssignment.objects.filter(person=OuterRef("pk"), role__in=sorted(STAFF_ROLES))
    candidates = (Person.objects.filter(city=city, phone=phone, is_staff=False, is_superuser=False)
                  .annotate(staff=Exists(staff)).filter(staff=False))
    username = f"phone-{phone}"
    person = candidates.filter(username__startswith=username).order_by("id").first() or candidates.order_by(
        "id").first()
    if person is None:
        taken = Person.objects.filter(username=username).exclude(city=city).exists()
        if taken:
            username = f"{username}-{city.code}"
        person, created = Person.objects.get_or_create(
            username=username, defaults={"city": city, "phone": phone, "display_name": f"市民（尾号{phone[-4:]}）"})
        if created:
            person.set_unusable_password()
            person.save(update_fields=["password"])
        elif person.is_staff or person.is_superuser or person.city_id != city.pk:
            raise DomainError("account_conflict", "该手机号对应的账号不能用验证码登录，请联系管理员", status=403)
    if not person.is_active:
        raise DomainError("account_disabled", "该账号已停用", status=403)
    return person
