"""The people and the words of the education demo: logins, the course catalogue, name pools."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from crm_platform.metadata import Blueprint

Record = dict[str, Any]
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
ADMIN = "admin@example.com"
FINANCE = "finance@example.com"
REGISTRAR = "registrar@example.com"
OFFICER_NAMES = [
    ("张伟 Zhang Wei", "zh"),
    ("陈晨 Chen Chen", "zh"),
    ("Emma Liu", "en"),
    ("刘洋 Liu Yang", "zh"),
]

#: code, name, programme, level, fee, weeks, mode
COURSES = [
    ("LANG-IELTS", "雅思7分强化 IELTS band 7 intensive", "language", "intermediate", 16800, 12, "on_campus"),
    ("LANG-BIZ", "商务英语 Business English", "language", "beginner", 9800, 16, "blended"),
    ("LANG-JLPT", "日语N2冲刺 Japanese JLPT N2", "language", "intermediate", 12800, 20, "on_campus"),
    ("IT-PY", "Python全栈开发 Python full-stack", "it", "beginner", 19800, 24, "blended"),
    ("IT-DATA", "数据分析实战 Data analytics in practice", "it", "intermediate", 15800, 16, "online"),
    ("DES-UX", "UI/UX交互设计 UI and UX design", "design", "beginner", 14800, 16, "on_campus"),
    ("BUS-MBA", "在职MBA Part-time MBA", "business", "advanced", 128000, 104, "blended"),
    ("KIDS-STEM", "少儿编程 Kids coding (STEM)", "kids", "beginner", 6800, 12, "on_campus"),
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["子涵", "欣怡", "浩然", "梓萱", "宇轩", "雨桐", "思远", "佳琪", "俊杰", "诗涵", "一鸣", "晓东"]
_EN_FIRST = ["Amy", "Leo", "Chloe", "Ryan", "Iris", "Jason", "Mia", "Kevin", "Sophie", "Daniel"]
_EN_LAST = ["Wang", "Li", "Zhang", "Chen", "Liu", "Tan", "Wong", "Smith", "Ho", "Lin"]
_CITIES = ["上海", "北京", "深圳", "杭州", "苏州", "南京", "成都", "武汉", "Shanghai", "Hangzhou"]
FOLLOW_UPS = {
    "call": [
        "电话沟通课程安排",
        "Explained the timetable",
        "确认试听时间",
        "Asked about fees and instalments",
    ],
    "email": ["发送课程介绍和学费标准", "Sent the brochure", "发送面试邀请"],
    "visit": ["到校参观试听", "Campus tour and trial class"],
    "meeting": ["家长面谈", "Interview debrief with the applicant"],
}
#: Planned end of each applicant's path, with its weight.
PATHS = {"enquiry": 12, "applied": 12, "interview": 9, "offer": 6, "enrolled": 24, "declined": 9}
REASONS = ["other_school", "fees", "schedule", "not_qualified", "personal"]


@dataclass(frozen=True)
class Login:
    """One demo login."""

    email: str
    name: str
    role: str
    password: str
    manager: str | None = None
    language: str = "en"


def logins(blueprint: Blueprint) -> tuple[Login, ...]:
    """Admin, the admissions manager over the officers the assignment table names, finance, registrar."""
    table = next((a for a in blueprint.assignments if a.object == "applicant"), None)
    manager = (table.default if table else None) or "admissions.manager@example.com"
    officers = list(dict.fromkeys(e.user for e in table.entries)) if table else ["officer@example.com"]
    users = [
        Login(ADMIN, "Admin", "admin", "demo-admin"),
        Login(manager, "王丽 Wang Li", "admissions_manager", "demo-manager", language="zh"),
    ]
    for n, email in enumerate(o for o in officers if o != manager):
        name, language = OFFICER_NAMES[n % len(OFFICER_NAMES)]
        users.append(Login(email, name, "admissions_officer", "demo-officer", manager, language))
    users.append(Login(FINANCE, "赵敏 Zhao Min", "finance", "demo-finance", language="zh"))
    users.append(Login(REGISTRAR, "Grace Huang", "registrar", "demo-registrar"))
    return tuple(users)


def person(rng: random.Random) -> Record:
    """A believable applicant: Chinese or English name, phone, city, birth date, identity number."""
    if rng.random() < 0.65:
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        email = f"{rng.choice(['xm', 'lily', 'hz', 'yu', 'sun'])}{rng.randint(100, 9999)}@example.com"
    else:
        first, last = rng.choice(_EN_FIRST), rng.choice(_EN_LAST)
        name, email = f"{first} {last}", f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"
    born = dt.date(rng.randint(1988, 2008), rng.randint(1, 12), rng.randint(1, 28))
    national_id = (
        f"{rng.choice(['310104', '110108', '440305', '330106'])}{born:%Y%m%d}{rng.randint(100, 999)}"
    )
    national_id += rng.choice("0123456789X")
    values = {"name": name, "phone": f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}"}
    values |= {"city": rng.choice(_CITIES), "birth_date": born, "national_id": national_id}
    if rng.random() < 0.75:
        values["email"] = email
    return values
