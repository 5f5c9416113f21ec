"""The public contact form in a real browser at 375 px: no sign-in, Chinese, assigned by region.

A visitor who has never signed in opens ``/f/contact_us?lang=zh`` on a phone, fills it in and
sends it; the thank-you text is the blueprint's Chinese one, and the lead exists, from the
website form, owned by the east region's rep (the ``lead_assignment`` rule).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.people.users import UserDirectory

from .conftest import LiveServer, Web

#: The form refuses posts made sooner than this after the page was rendered (a robot's speed).
MIN_AGE_MS = 2_100


@pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)
def test_a_visitor_sends_the_contact_form_on_a_phone_in_chinese(web: Web, server: LiveServer) -> None:
    page = web.open("phone")
    page.goto("/f/contact_us?lang=zh")
    expect(page.locator("h1")).to_have_text("联系我们")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # One column, nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The honeypot is there for robots, drawn outside the screen, out of people's sight.
    box = page.locator("input[name=_homepage]").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0
    page.get_by_label("公司名称").fill("杭州湖畔科技有限公司")
    page.get_by_label("联系人姓名").fill("王芳")
    page.get_by_label("邮箱").fill("wang.fang@hupan.cn")
    page.get_by_label("电话").fill("13800138000")
    page.get_by_label("区域").select_option("east")
    page.get_by_label("备注").fill("希望了解50个席位的报价")
    web.shot(page, "filled")
    # A person takes a moment; a post within two seconds of the page is taken for a robot's.
    page.wait_for_timeout(MIN_AGE_MS)
    page.get_by_role("button", name="提交").click()

    expect(page.locator(".thanks")).to_contain_text("感谢您的垂询")
    web.shot(page, "thanks")
    records = server.application.platform.records
    [lead] = records.list("lead", actor=SYSTEM, limit=10).records
    east = UserDirectory(records.engine, records.tables).find("east.rep@example.com")
    assert east is not None
    assert lead["company"] == "杭州湖畔科技有限公司" and lead["source"] == "web"
    assert lead["owner_id"] == east.id
