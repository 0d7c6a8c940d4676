"""Real-browser helpers for the web tests and `make demo-web`: the app served by uvicorn on loopback in a
thread, and headless Chromium from the Debian packages driven by Selenium (no browser is downloaded)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from pipeline.web import WebConfig, create_app

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1440,1000", "--lang=vi")


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing or cannot start here."""


@contextmanager
def serve(config: WebConfig) -> Iterator[str]:
    """The app on a free loopback port in a background thread; yields its base URL."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@contextmanager
def chromium(downloads: Path | None = None, *, scripting: bool = True) -> Iterator[object]:
    """A headless Chromium with a fresh profile (JavaScript off when not `scripting`); BrowserUnavailable
    when it cannot start."""
    binary = next((path for path in CHROMIUM if os.access(path, os.X_OK)), None)
    driver_path = next((path for path in CHROMEDRIVER if os.access(path, os.X_OK)), None)
    if binary is None or driver_path is None:
        raise BrowserUnavailable("chromium and chromium-driver are not installed (apt-get install chromium "
                                 "chromium-driver)")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="congvan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    prefs: dict[str, object] = {}
    if downloads is not None:
        prefs.update({"download.default_directory": str(downloads), "download.prompt_for_download": False})
    if not scripting:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if prefs:
        options.add_experimental_option("prefs", prefs)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except WebDriverException as error:
        shutil.rmtree(profile, ignore_errors=True)
        raise BrowserUnavailable(f"chromium cannot start: {' '.join(str(error.msg or error).split())[:300]}") from None
    try:
        driver.set_page_load_timeout(60)
        if downloads is not None:
            driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
