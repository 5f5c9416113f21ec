"""The people and the words of ``crm demo``: its org chart, logins and name pools.

The sales team is the one the blueprint's ``region`` assignment table names, so
"assign by region" hands new leads to the demo's own reps: the East China rep is the
rep the printed logins name, the table's default (the leads without a region) their
manager.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crm_platform.metadata import Blueprint


@dataclass(frozen=True)
class DemoUser:
    """One demo login."""

    email: str
    name: str
    role: str
    password: str
    manager: str | None = None
    team: str | None = None
    language: str = "en"
    #: Printed among the logins (the further region reps are not, to keep the list short).
    shown: bool = True


ADMIN = "admin@example.com"
FINANCE = "finance@example.com"
AGENT = "agent@example.com"
TECHNICIAN = "tech@example.com"
SERVICE_MANAGER = "service.manager@example.com"
#: Used when the blueprint has no region assignment table.
FALLBACK_MANAGER = "sales.manager@example.com"
FALLBACK_REP = "east.rep@example.com"

_REP_NAMES = {
    "east": ("李娜 Li Na", "zh"),
    "north": ("Tom Chen", "en"),
    "south": ("黄思琪 Huang Siqi", "zh"),
    "central": ("刘洋 Liu Yang", "zh"),
    "northeast": ("赵磊 Zhao Lei", "zh"),
    "southwest": ("Grace Wu", "en"),
    "northwest": ("马超 Ma Chao", "zh"),
}


@dataclass(frozen=True)
class OrgChart:
    """The demo users, managers first, and who plays which part."""

    users: tuple[DemoUser, ...]
    manager: str
    rep: str
    #: Region -> the rep who owns that region's accounts.
    region_reps: dict[str, str]

    def user(self, email: str) -> DemoUser:
        return next(u for u in self.users if u.email == email)


def org_chart(blueprint: Blueprint) -> OrgChart:
    """The demo's users: an admin, a sales manager over the region reps, finance and a service team."""
    table = next((a for a in blueprint.assignments if a.name == "region"), None)
    region_reps = {entry.value: entry.user for entry in table.entries} if table else {"east": FALLBACK_REP}
    manager = (table.default if table and table.default else None) or FALLBACK_MANAGER
    rep = region_reps.get("east") or next(iter(region_reps.values()))
    users = [
        DemoUser(ADMIN, "Admin", "admin", "demo-admin"),
        DemoUser(manager, "王经理 Wang Jun", "sales_manager", "demo-manager", team="sales", language="zh"),
        DemoUser(SERVICE_MANAGER, "Emily Zhou", "sales_manager", "demo-service", team="service"),
    ]
    for region, email in region_reps.items():
        if email in (u.email for u in users):
            continue
        name, language = _REP_NAMES.get(region, (email.split("@")[0], "en"))
        users.append(
            DemoUser(email, name, "sales_rep", "demo-rep", manager, "sales", language, shown=email == rep)
        )
    users += [
        DemoUser(FINANCE, "赵会计 Zhao Min", "finance", "demo-finance", language="zh"),
        DemoUser(AGENT, "Sam Lin", "service_agent", "demo-agent", SERVICE_MANAGER, "service"),
    ]
    if "technician" in blueprint.roles:
        users.append(
            DemoUser(
                TECHNICIAN, "陈工 Chen Gang", "technician", "demo-tech", SERVICE_MANAGER, "service", "zh"
            )
        )
    return OrgChart(tuple(users), manager, rep, region_reps)


# -- words ------------------------------------------------------------------------------------------

_CITIES = ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "西安", "广州", "天津", "青岛"]
_WORDS = [
    "星辰",
    "云帆",
    "恒通",
    "华创",
    "锐达",
    "博远",
    "启明",
    "天拓",
    "瑞丰",
    "鼎盛",
    "智联",
    "海纳",
    "远景",
    "中科",
]
_TRADES = ["科技", "制造", "物流", "信息技术", "电子", "贸易", "医疗器械", "新材料", "软件", "供应链"]
_EN_FIRST = ["Northwind", "Bluepeak", "Silverline", "Redwood", "Harbor", "Summit", "Everbright", "Lotus"]
_EN_SECOND = ["Systems", "Logistics", "Electronics", "Foods", "Robotics", "Trading", "Medical", "Materials"]
_EN_SUFFIX = ["Ltd.", "Co., Ltd.", "Group", "Asia Pacific", "(Shanghai) Ltd.", "Inc."]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "丽", "强", "军"]
_EN_PEOPLE = ["Anna", "David", "Kevin", "Linda", "Michael", "Sophie", "Jason", "Cathy", "Peter", "Iris"]
_EN_FAMILY = ["Wang", "Zhang", "Liu", "Chen", "Smith", "Müller", "Lee", "Tan", "Wong", "Ho"]

JOB_TITLES = {
    "decision_maker": ["总经理", "CIO", "VP Operations", "采购总监", "CEO"],
    "influencer": ["IT经理", "Head of IT", "财务经理", "Project manager"],
    "user": ["销售运营专员", "Operations analyst", "客服主管", "Engineer"],
    "gatekeeper": ["采购专员", "Executive assistant", "行政主管"],
}

PRODUCTS = [
    ("CRM 实施项目", "CRM rollout"),
    ("ERP 集成", "ERP integration"),
    ("数据中台", "Data platform"),
    ("年度服务合同", "Annual service contract"),
    ("设备更新", "Hardware refresh"),
    ("培训服务", "Training programme"),
    ("MES 二期", "MES phase 2"),
    ("渠道管理系统", "Channel portal"),
]

#: Follow-up subjects by kind: what a rep actually writes in the log.
FOLLOW_UPS = {
    "call": [
        "确认预算和时间表",
        "Discovery call with IT",
        "跟进报价反馈",
        "Pricing questions",
        "约下次拜访时间",
    ],
    "email": ["Sent the product brochure", "发送方案初稿", "Reference customer list", "发送会议纪要"],
    "visit": ["上门拜访，演示产品", "On-site workshop", "工厂参观", "Met the new CIO"],
    "meeting": ["需求评审会", "Quarterly business review", "技术交流会", "Contract terms meeting"],
    "note": ["客户预算可能延后到下季度", "Competitor quoted 15% lower", "决策人换人了，需重新建立关系"],
}
OUTCOMES = ["positive", "neutral", "no answer", "needs follow-up"]

TICKET_SUBJECTS = [
    "系统登录缓慢",
    "Printer offline after update",
    "数据导出报错",
    "Request for extra user licences",
    "接口同步失败",
    "How do I reset a password?",
    "设备异响",
    "Invoice question",
    "报表数据不一致",
    "Training request for new staff",
]

REP_TASKS = [
    "给客户回电：确认采购流程",
    "Prepare the demo for the IT team",
    "整理需求文档发给售前",
    "Send the revised proposal",
    "Call back about the budget",
    "准备季度回顾材料",
]


class Names:
    """Believable, unique company and person names from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._used: set[str] = set()

    def company(self) -> str:
        rng = self.rng
        for _ in range(100):
            if rng.random() < 0.7:
                name = f"{rng.choice(_CITIES)}{rng.choice(_WORDS)}{rng.choice(_TRADES)}有限公司"
            else:
                name = f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_SECOND)} {rng.choice(_EN_SUFFIX)}"
            if name not in self._used:
                self._used.add(name)
                return name
        # The pools ran out (a very large demo): number the rest.
        name = f"{rng.choice(_CITIES)}{rng.choice(_WORDS)}{rng.choice(_TRADES)}有限公司 {len(self._used)}"
        self._used.add(name)
        return name

    def person(self) -> str:
        rng = self.rng
        if rng.random() < 0.8:
            return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.choice([1, 2])))
        return f"{rng.choice(_EN_PEOPLE)} {rng.choice(_EN_FAMILY)}"

    def phone(self) -> str:
        return f"+86 1{self.rng.choice('3578')}{self.rng.randint(0, 9)} {self.rng.randint(1000, 9999)} " + (
            f"{self.rng.randint(1000, 9999)}"
        )
