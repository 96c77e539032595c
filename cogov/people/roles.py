"""Roles and duty types (角色与职责类型) as plain data, shared by rules and models."""

ROLE_CHOICES = [
    ("citizen", "市民"),
    ("volunteer", "志愿者"),
    ("station_head", "站长"),
    ("building_head", "楼院长"),
    ("street_head", "街巷长"),
    ("area_head", "区片长"),
    ("unit_dispatcher", "专业单位派单员"),
    ("unit_crew", "专业单位处置人员"),
    ("subdistrict_supervisor", "街道监管员"),
    ("district_supervisor", "区级监管员"),
    ("city_supervisor", "市级监管员"),
    ("admin", "系统管理员"),
]
ROLES = [r for r, _ in ROLE_CHOICES]
ROLE_NAMES = dict(ROLE_CHOICES)

DUTY_CHOICES = [
    ("water", "供水"),
    ("gas", "供气"),
    ("heating", "供热"),
    ("municipal", "市政"),
    ("greening", "园林"),
    ("sanitation", "环卫"),
    ("enforcement", "执法"),
    ("telecom", "通讯"),
    ("power", "电力"),
    ("property", "物业"),
]
DUTY_TYPES = [d for d, _ in DUTY_CHOICES]
DUTY_NAMES = dict(DUTY_CHOICES)
