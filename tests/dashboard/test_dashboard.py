"""`glancelab dashboard` in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium), against a keystone-mode API with Keystone's unified limits and the
project's Keystone: a login as a member of a project of its own, the images page with an
image the member made, the quota bar moving, both languages; a wrong password and a forged
CSRF token refused; the token never in a page or a URL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest
import requests

from harness import GLANCELAB, ROOT, ApiServer, free_port
from test_unified_limits import Limits, limited_api, limits  # noqa: F401 (fixtures)

PROJECT = "dashboard"
USER = f"{PROJECT}--member-reader"  # keystone.member_of's user; its password is its name

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = os.path.join(ROOT, "var", "screenshots")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed "
                                      "(make install-test installs them)")


@pytest.fixture(scope="module")
def dashboard(limited_api, keystone, tmp_path_factory):
    keystone.member_of(PROJECT)
    port = free_port()
    log = open(tmp_path_factory.mktemp("dashboard") / "dashboard.log", "w+")
    process = subprocess.Popen([GLANCELAB, "dashboard", "--api-url", limited_api.url,
                                "--keystone-url", keystone.env["OS_AUTH_URL"],
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/login", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.seek(0)
    text = log.read()
    assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def log_in(browser, dashboard, password=USER, lang="en"):
    from selenium.webdriver.common.by import By
    browser.get(f"{dashboard}/login?lang={lang}")
    for field, value in (("user", USER), ("password", password), ("project", PROJECT)):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "login").click()
    # the click returns before the answer to the form has loaded
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 30).until(
        lambda b: not b.current_url.startswith(f"{dashboard}/login?lang=")
        or b.find_elements(By.ID, "refused"))


def shot(browser, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    browser.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def test_a_wrong_password_is_refused_and_opens_no_session(browser, dashboard):
    from selenium.webdriver.common.by import By
    browser.delete_all_cookies()
    log_in(browser, dashboard, password="not-the-password")
    assert "Wrong user, password or project." in browser.find_element(By.ID, "refused").text
    assert browser.get_cookie("glancelab_dashboard") is None
    browser.get(f"{dashboard}/images")
    assert browser.current_url.startswith(f"{dashboard}/login")


def test_a_member_logs_in_and_sees_its_images_and_the_quota_bar_move(browser, dashboard,
                                                                     limited_api, keystone):
    from selenium.webdriver.common.by import By
    browser.delete_all_cookies()
    log_in(browser, dashboard)
    assert browser.current_url == f"{dashboard}/images"
    assert browser.find_element(By.ID, "who").text == f"{USER} · {PROJECT}"
    cookie = browser.get_cookie("glancelab_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    browser.get(f"{dashboard}/quotas")
    before = int(browser.find_element(By.CSS_SELECTOR, "#quota-image_size_total .used").text)
    token, _project_id = keystone.member_of(PROJECT)
    headers = {"X-Auth-Token": token}
    name = f"dash-{os.getpid()}-{time.monotonic_ns()}"
    image = requests.post(f"{limited_api.url}/v2/images", headers=headers, timeout=30, json={
        "name": name, "disk_format": "raw", "container_format": "bare"}).json()
    data = b"x" * (2 * 1024 * 1024)
    assert requests.put(f"{limited_api.url}/v2/images/{image['id']}/file", data=data,
                        headers={**headers, "Content-Type": "application/octet-stream"},
                        timeout=60).status_code == 204

    browser.get(f"{dashboard}/images?name={name}")
    row = browser.find_element(By.CSS_SELECTOR, f"#images tr[data-id='{image['id']}']")
    assert name in row.text and "active" in row.find_element(By.CLASS_NAME, "status").text
    shot(browser, "images")
    browser.get(f"{dashboard}/quotas")
    after = int(browser.find_element(By.CSS_SELECTOR, "#quota-image_size_total .used").text)
    assert after - before == len(data) // (1024 * 1024)  # the quota counts MiB
    shot(browser, "quotas")
    # the page never carries the token, nor does any URL the browser saw
    assert token not in browser.page_source and "X-Auth-Token" not in browser.page_source
    session_token = re.search(r'name="csrf" value="([^"]+)"', browser.page_source).group(1)
    assert session_token not in browser.current_url

    browser.get(f"{dashboard}/images?lang=vi")
    assert browser.find_element(By.ID, "tab-shared").text == "Được chia sẻ với tôi"
    assert "Trạng thái" in browser.find_element(By.ID, "images").text
    browser.get(f"{dashboard}/images?lang=en")
    browser.get(f"{dashboard}/stores")
    # this API runs one store: Glance lists stores only with enabled_backends
    assert "enabled_backends" in browser.find_element(By.ID, "single").text

    browser.find_element(By.ID, "logout").click()
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 30).until(lambda b: b.current_url.startswith(f"{dashboard}/login"))
    browser.get(f"{dashboard}/images")
    assert browser.current_url.startswith(f"{dashboard}/login")


def test_a_forged_csrf_token_is_refused(dashboard):
    web = requests.Session()
    form = web.get(f"{dashboard}/login", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    forged = web.post(f"{dashboard}/login", timeout=30, allow_redirects=False, data={
        "csrf": "forged", "user": USER, "password": USER, "project": PROJECT})
    assert forged.status_code == 403 and "glancelab_dashboard" not in web.cookies
    signed = web.post(f"{dashboard}/login", timeout=30, allow_redirects=False, data={
        "csrf": csrf, "user": USER, "password": USER, "project": PROJECT})
    assert signed.status_code == 303 and "glancelab_dashboard" in web.cookies
    # a logout from another site's form (no CSRF token, or a wrong one) does nothing
    for offered in ({}, {"csrf": csrf + "x"}):
        refused = web.post(f"{dashboard}/logout", data=offered, timeout=30,
                           allow_redirects=False)
        assert refused.status_code == 403
    assert web.get(f"{dashboard}/images", timeout=30, allow_redirects=False).status_code == 200


def test_a_noauth_api_needs_no_login_and_the_dashboard_stays_on_loopback(tmp_path):
    api = ApiServer(str(tmp_path / "api")).start()
    port = free_port()
    process = subprocess.Popen([GLANCELAB, "dashboard", "--api-url", api.url, "--keystone-url",
                                "", "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        created = requests.post(f"{api.url}/v2/images", timeout=30, json={
            "name": "noauth-dash", "disk_format": "raw", "container_format": "bare"})
        assert created.status_code == 201
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                page = requests.get(f"{url}/login", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert page.url == f"{url}/images" and "noauth-dash" in page.text
        assert "/logout" not in page.text
    finally:
        process.terminate()
        process.wait(timeout=10)
        api.stop()
    exposed = subprocess.run([GLANCELAB, "dashboard", "--keystone-url", "", "--host", "0.0.0.0",
                              "--port", str(free_port())], capture_output=True, text=True,
                             timeout=60)
    assert exposed.returncode == 2 and "loopback only" in exposed.stderr
