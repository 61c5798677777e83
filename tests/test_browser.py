"""The playground's chat page in Debian's Chromium, driven by Playwright, as a newcomer uses it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.support.opportunities import seed_city

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def test_a_newcomer_onboards_in_arabic_on_the_chat_page(bot, served, tmp_path):
    async with chromium() as browser:
        await onboard_amina_in_arabic(browser, served, tmp_path)


async def onboard_amina_in_arabic(browser, served, tmp_path) -> None:
    """Open the page, chat as Amina, and check what she sees at each step."""
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(served.url)

    served.playground.add_user("Amina", "ar")
    await page.reload()
    await page.get_by_test_id("person-Amina").click()
    await page.locator("#composer").fill("/start")
    await page.locator("#composer").press("Enter")

    await page.get_by_role("button", name="✅ العربية").click()
    welcome = page.get_by_test_id("bot-message").filter(has_text="Passaparola").last
    await expect(welcome).to_be_visible()
    await expect(welcome).to_have_css("direction", "rtl")

    await page.get_by_role("button", name="✅").first.click()
    menu = page.get_by_test_id("bot-message").last
    await expect(menu.locator(".keyboard button")).to_have_count(5)

    await menu.locator(".keyboard button").last.click()  # Settings, edited in place
    await expect(page.get_by_test_id("bot-message").last.locator(".meta")).to_contain_text("edited")
    await page.locator("#commands-button").click()
    await expect(page.locator("#commands button").first).to_contain_text("/start")
    await page.screenshot(path=str(tmp_path / "arabic-onboarding.png"))


async def test_a_card_shared_on_the_page_opens_for_a_friend_in_her_language(
    conversation, bot, served, tmp_path
):
    await seed_city(conversation)
    async with chromium() as browser:
        await share_a_card_from_sara_to_amina(browser, served, tmp_path)


async def share_a_card_from_sara_to_amina(browser, served, tmp_path) -> None:
    """Sara shares a card with the Share button; Amina taps the card's button and reads it."""
    served.playground.add_user("Sara", "it")
    served.playground.add_user("Amina", "ar")
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(served.url)
    await page.get_by_test_id("person-Sara").click()
    await send(page, "/start")
    await page.get_by_role("button", name="✅ Italiano").click()
    await page.get_by_test_id("bot-message").last.locator(".keyboard button").first.click()
    await send(page, "/volunteer")
    await page.get_by_role("button", name="📚").click()
    await page.get_by_role("button", name="Doposcuola").click()

    await page.get_by_test_id("share-inline").click()
    await page.locator("#sheet").get_by_role("button", name="Amina").click()
    await page.get_by_test_id("person-Amina").click()
    shared = page.get_by_test_id("shared-card")
    await expect(shared).to_contain_text("Sara via @")
    await expect(shared).to_contain_text("Doposcuola")  # in Sara's language, as she shared it
    await shared.locator(".keyboard button").click()  # "Open in Passaparola"

    await page.get_by_role("button", name="✅ العربية").click()
    await page.get_by_test_id("bot-message").last.locator(".keyboard button").first.click()
    card = page.get_by_test_id("bot-message").filter(has_text="نادي الواجبات").last
    await expect(card).to_be_visible()
    await expect(card).to_have_css("direction", "rtl")
    await page.screenshot(path=str(tmp_path / "shared-card.png"))


async def send(page, text: str) -> None:
    """Type and send a message on the chat page."""
    await page.locator("#composer").fill(text)
    await page.locator("#composer").press("Enter")
