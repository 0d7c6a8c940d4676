"""The web interface in a real headless Chromium (Debian's chromium + chromium-driver, Selenium): a clerk
searches a reference and a phrase without diacritics, opens the document and sees the hit boxed on the page,
corrects a number from the review queue and finds the document by it, marks a task done and exports the
tasks; reading works with scripting off. Skipped, with the reason, only where Chromium cannot start (never
under CI=true)."""

from __future__ import annotations

import csv
import shutil
import time

import pytest
import web_archive
from browser_support import BrowserUnavailable, chromium, serve
from components import require
from fakes_run import FAKE_STAGES
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By

from pipeline.archive import open_archive
from pipeline.web import WebConfig
from pipeline.web.auth import hash_password

PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    ids = web_archive.build(folder)
    with open_archive(folder / "archive.db") as store:
        store.add_user("lan", "editor", hash_password(PASSWORD))
    config = WebConfig(db=folder / "archive.db", uploads=folder / "uploads", stages=FAKE_STAGES)
    with serve(config) as base:
        yield base, ids, folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    try:
        context = chromium(downloads)
        driver = context.__enter__()
    except BrowserUnavailable as error:  # pragma: no cover - depends on the machine
        require(False, f"a working Chromium ({error})", "make setup installs chromium and chromium-driver")
    driver.downloads = downloads
    yield driver
    context.__exit__(None, None, None)


def _search(driver, base, query):
    driver.get(base + "/")
    box = driver.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(query)
    box.submit()


def _wait(condition, seconds=20.0):
    """The condition's first truthy value; a page still loading (element missing or replaced) is retried."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        except WebDriverException as error:
            # Chromium reports a node replaced while the page reloads this way too, not only as a stale element.
            if "does not belong to the document" not in str(error):
                raise
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_web_browser_reference_search_opens_the_page_with_the_hit_boxed(site, browser):
    base = site[0]
    _search(browser, base, "539/QD-UBND")
    hits = browser.find_elements(By.CSS_SELECTOR, "article.hit")
    titles = [hit.find_element(By.TAG_NAME, "h2").text for hit in hits]
    assert titles[0].startswith("539/QĐ-UBND") and "01/06/2020" in titles[0] and "NGHỆ AN" in titles[0]
    assert "02/04/2020" in titles[1] and "LẠNG SƠN" in titles[1]
    assert "Trích dẫn 539/QĐ-UBND" in hits[2].text
    hits[1].find_element(By.CSS_SELECTOR, "h2 a").click()
    image = browser.find_element(By.ID, "page-image")
    _wait(lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image))
    [box] = browser.find_elements(By.CSS_SELECTOR, "rect.hit-box")
    page = image.rect
    drawn = box.rect
    # the box sits where the drawn word is: "539/QĐ-UBND" is the second word of the second line
    word = next(w for w in web_archive.draw_page(site[2] / "check.png", web_archive.DECISION).words
                if w.text == "539/QĐ-UBND")
    scale = page["width"] / web_archive.PAGE[0]
    assert abs(drawn["x"] - (page["x"] + (word.box[0] - 4) * scale)) < 3
    assert abs(drawn["y"] - (page["y"] + (word.box[1] - 4) * scale)) < 3
    assert drawn["width"] > 20 and drawn["height"] > 5
    assert "1 chỗ khớp" in browser.find_element(By.CSS_SELECTOR, ".hit-note").text
    browser.find_element(By.LINK_TEXT, "200%").click()
    _wait(lambda: browser.find_element(By.ID, "page-image").rect["width"] > page["width"] * 1.5)


def test_web_browser_text_search_without_diacritics(site, browser):
    base = site[0]
    _search(browser, base, "nong thon moi")
    marks = [mark.text for mark in browser.find_elements(By.CSS_SELECTOR, "article.hit mark")]
    assert {"nông", "thôn", "mới"} <= set(marks)
    browser.find_elements(By.CSS_SELECTOR, "article.hit h2 a")[0].click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "rect.hit-box")) >= 3


def test_web_browser_correct_a_number_then_find_it(site, browser):
    base = site[0]
    browser.get(base + "/login")
    browser.find_element(By.NAME, "name").send_keys("lan")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    _wait(lambda: "lan" in browser.find_element(By.CSS_SELECTOR, ".account").text)
    browser.get(base + "/review")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr") if "17/TB-UBND" in r.text)
    row.find_element(By.LINK_TEXT, "Sửa").click()
    field = browser.find_element(By.ID, "f-code")
    field.clear()
    field.send_keys("18/TB-UBND")
    browser.find_element(By.ID, "save").click()
    _wait(lambda: browser.current_url.endswith("/review"))
    _search(browser, base, "18 tb ubnd")
    first = browser.find_element(By.CSS_SELECTOR, "article.hit")
    assert first.find_element(By.CSS_SELECTOR, ".code").text == "18/TB-UBND"
    assert "Chính văn bản" in first.text
    first.find_element(By.CSS_SELECTOR, "h2 a").click()
    history = browser.find_element(By.XPATH, "//h2[contains(., 'Lịch sử chỉnh sửa')]/following-sibling::table[1]")
    assert "17/TB-UBND" in history.text and "18/TB-UBND" in history.text and "lan" in history.text


def test_web_browser_mark_a_task_done_and_export(site, browser):
    base = site[0]
    browser.get(base + "/tasks?assignee=huyen")
    row = browser.find_element(By.CSS_SELECTOR, "table.tasks tbody tr")
    assert "Rà soát các tiêu chí" in row.text and "Đang làm" in row.text
    row.find_element(By.NAME, "toggle").click()
    row = _wait(lambda: next((r for r in browser.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
                              if "Đã xong" in r.text), None))
    assert "Rà soát các tiêu chí" in row.text and "Mở lại" in row.text
    for stale in browser.downloads.glob("*"):
        stale.unlink()
    browser.find_element(By.ID, "export-csv").click()
    exported = _wait(lambda: next((p for p in browser.downloads.glob("*.csv")), None))
    _wait(lambda: exported.stat().st_size > 0)
    rows = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert [(r["text"], r["status"]) for r in rows] == [("Rà soát các tiêu chí nông thôn mới", "done")]
    browser.find_element(By.ID, "export-ics").click()
    ics = _wait(lambda: next((p for p in browser.downloads.glob("*.ics")), None))
    _wait(lambda: "END:VCALENDAR" in ics.read_text(encoding="utf-8"))
    assert "STATUS:COMPLETED" in ics.read_text(encoding="utf-8")


def test_web_browser_reading_works_with_scripting_off(site, tmp_path):
    base = site[0]
    try:
        context = chromium(scripting=False)
        driver = context.__enter__()
    except BrowserUnavailable as error:  # pragma: no cover - depends on the machine
        require(False, f"a working Chromium ({error})", "make setup installs chromium and chromium-driver")
    try:
        _search(driver, base, "539 qd ubnd")
        driver.find_elements(By.CSS_SELECTOR, "article.hit h2 a")[1].click()
        assert driver.find_elements(By.CSS_SELECTOR, "rect.hit-box")
        driver.get(base + f"/documents/{site[1]['letter']}")
        assert "539/QĐ-UBND" in driver.find_element(By.CSS_SELECTOR, "table.refs").text
    finally:
        context.__exit__(None, None, None)
    shutil.rmtree(tmp_path, ignore_errors=True)
