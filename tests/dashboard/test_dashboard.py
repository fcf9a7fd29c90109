"""`glancelab dashboard` in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium) against a keystone-mode API with two file stores, the image cache and
Keystone's unified limits, logged in through the project's Keystone.

As demo: upload a qcow2 and watch the progress and the status reach
active, see the quota bar move, share the image with another project and accept it there;
as admin: deactivate it, queue it for the cache and see it cached; a lab's page with its
last grade's items and hints; the trainer's class scoreboard; both languages. A wrong
password and a forged CSRF token are refused; the token is never in a page or a URL.
Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import requests

from harness import GLANCELAB, ROOT, ApiServer, free_port, wait_until_answers

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = os.path.join(ROOT, "var", "screenshots")
PROJECT, OTHER = "demo", "dashboard-other"
MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed "
                                      "(make install-test installs them)")


def user_of(project: str) -> str:
    """demo, or keystone.member_of's user of another project; each password is its name."""
    return "demo" if project == "demo" else f"{project}--member-reader"


@pytest.fixture(scope="module")
def dash_api(keystone, limits, tmp_path_factory):
    work = tmp_path_factory.mktemp("dash-api")
    server = ApiServer(str(work), extra_conf=f"""
        [DEFAULT]
        auth_strategy = keystone
        use_keystone_limits = true
        enabled_backends = fast:file, cheap:file
        image_cache_dir = {work}/cache
        {keystone.authtoken_section()}
        [glance_store]
        default_backend = fast
        [fast]
        filesystem_store_datadir = {work}/fast
        [cheap]
        filesystem_store_datadir = {work}/cheap
        [os_glance_staging_store]
        filesystem_store_datadir = {work}/staging
        {keystone.oslo_limit_section()}
        """)
    server.base_store_conf = False
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def lab_homes(tmp_path_factory):
    """Two trainees' lab homes with the grades the toolkit saved for them."""
    from glancelab_toolkit.labs import grading, spec
    from glancelab_toolkit.labs.trainee import Trainee
    base = tmp_path_factory.mktemp("class")
    lab = spec.find("2.1")
    for name, passes in (("an", [False, True]), ("binh", [False, False])):
        trainee = Trainee(home=str(base / name), slot=0)
        trainee.record(lab, state="graded", started_at="2026-12-06T10:00:00+00:00")
        for index, passed in enumerate(passes):
            result = grading.Result(check="the new store directory belongs to glance, mode 0750",
                                    host="l21", passed=passed, seconds=0.1, problems=[] if passed
                                    else [{"problem": "/srv/glance/images has mode 0700",
                                           "hint": "its owner needs rwx",
                                           "fix": "chmod 0750 /srv/glance/images"}])
            grading.save_attempt(grading.Grade(lab="2.1", results=[result], log="",
                                               graded_at=f"2026-12-06T10:1{index}:00+00:00"),
                                 lab, trainee)
            time.sleep(0.01)  # attempt files are named by time
    return str(base)


@pytest.fixture(scope="module")
def dashboard(dash_api, keystone, lab_homes, tmp_path_factory):
    keystone.member_of(OTHER)
    port = free_port()
    log = open(tmp_path_factory.mktemp("dashboard") / "dashboard.log", "w+")
    process = subprocess.Popen([GLANCELAB, "dashboard", "--api-url", dash_api.url,
                                "--keystone-url", keystone.env["OS_AUTH_URL"],
                                "--lab-homes", lab_homes, "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "GLANCELAB_LAB_HOME":
                                    os.path.join(lab_homes, "an")})
    url = f"http://127.0.0.1:{port}"
    wait_until_answers(url + "/login")
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.seek(0)
    text = log.read()
    assert "Traceback" not in text and " 500 " not in text, text


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


def by_id(browser, element_id):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.ID, element_id)


def wait(browser, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda b: condition())


def log_in(browser, dashboard, user, project, password=None, lang="en"):
    from selenium.webdriver.common.by import By
    browser.delete_all_cookies()
    browser.get(f"{dashboard}/login?lang={lang}")
    for field, value in (("user", user), ("password", password or user), ("project", project)):
        by_id(browser, field).clear()
        by_id(browser, field).send_keys(value)
    by_id(browser, "login").click()
    # the click returns before the answer to the form has loaded
    wait(browser, lambda: not browser.current_url.startswith(f"{dashboard}/login?lang=")
         or browser.find_elements(By.ID, "refused"))


def click(browser, element_id):
    """Click a form's button and wait for the page the form leads to."""
    from selenium.common.exceptions import WebDriverException
    old = by_id(browser, element_id)
    old.click()

    def gone():  # the old page's button is no more (stale, or not of the document)
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True
    wait(browser, gone)


def shot(browser, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    browser.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def qcow2(tmp_path, data_mib: int) -> str:
    raw, out = tmp_path / "disk.raw", tmp_path / "disk.qcow2"
    with open(raw, "wb") as handle:
        handle.truncate(64 * MiB)
        handle.write(os.urandom(data_mib * MiB))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(out)],
                   check=True)
    return str(out)


def test_a_wrong_password_is_refused_and_opens_no_session(browser, dashboard):
    log_in(browser, dashboard, user_of(PROJECT), PROJECT, password="not-the-password")
    assert by_id(browser, "refused").text == "Wrong user, password or project."
    assert browser.get_cookie("glancelab_dashboard") is None
    browser.get(f"{dashboard}/images")
    assert browser.current_url.startswith(f"{dashboard}/login")


def test_upload_share_accept_deactivate_cache(browser, dashboard, dash_api, keystone, tmp_path):
    from selenium.webdriver.common.by import By
    user = user_of(PROJECT)
    log_in(browser, dashboard, user, PROJECT)
    assert browser.current_url == f"{dashboard}/images"
    assert by_id(browser, "who").text == f"{user} · {PROJECT}"
    cookie = browser.get_cookie("glancelab_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.get(f"{dashboard}/quotas")
    before = int(browser.find_element(By.CSS_SELECTOR, "#quota-image_size_total .used").text)

    # create by upload: the progress bar fills, then the image page follows it to active
    path = qcow2(tmp_path, 8)
    name = f"dash-{time.monotonic_ns()}"
    browser.get(f"{dashboard}/images/new")
    by_id(browser, "image-name").send_keys(name)
    by_id(browser, "file").send_keys(path)
    by_id(browser, "create-button").click()
    wait(browser, lambda: "/images/new" not in browser.current_url)
    image_id = browser.current_url.rsplit("/", 1)[1]
    wait(browser, lambda: by_id(browser, "image-status").text == "active")
    assert by_id(browser, "field-disk_format").text == "qcow2"
    assert int(by_id(browser, "field-size").text) == os.path.getsize(path)
    assert by_id(browser, "field-stores").text == "fast"
    shot(browser, "image")
    browser.get(f"{dashboard}/images?name={name}")
    row = browser.find_element(By.CSS_SELECTOR, f"#images tr[data-id='{image_id}']")
    assert "active" in row.find_element(By.CLASS_NAME, "status").text
    shot(browser, "images")
    browser.get(f"{dashboard}/quotas")
    after = int(browser.find_element(By.CSS_SELECTOR, "#quota-image_size_total .used").text)
    assert after - before == -(-os.path.getsize(path) // MiB)  # the quota counts MiB begun
    shot(browser, "quotas")
    # glance-direct: staged through the dashboard, then imported; its task is listed
    browser.get(f"{dashboard}/images/new")
    by_id(browser, "image-name").send_keys(name + "-direct")
    browser.find_element(By.CSS_SELECTOR, "input[name='source'][value='stage']").click()
    by_id(browser, "file").send_keys(path)
    by_id(browser, "create-button").click()
    wait(browser, lambda: "/images/new" not in browser.current_url)
    wait(browser, lambda: by_id(browser, "image-status").text == "active")
    assert "api_image_import" in by_id(browser, "image-tasks").text
    browser.get(f"{dashboard}/tasks")  # Glance's task list is for admins (policy)
    assert "The image API refused" in by_id(browser, "refused").text
    # no page carries a token (Keystone's are Fernet tokens, gAAAAA...), and no URL the
    # browser saw holds a secret
    assert not re.search(r"gAAAAA[\w-]{40}", browser.page_source)
    csrf = re.search(r'name="csrf" content="([^"]+)"', browser.page_source).group(1)
    assert csrf not in browser.current_url

    # share with another project, accept it there
    _other_token, other_project = keystone.member_of(OTHER)
    browser.get(f"{dashboard}/images/{image_id}")
    by_id(browser, "share-project").send_keys(other_project)
    click(browser, "share-button")
    assert "pending" in by_id(browser, "members").text
    log_in(browser, dashboard, user_of(OTHER), OTHER)
    browser.get(f"{dashboard}/images/{image_id}")
    click(browser, "accept-button")
    browser.get(f"{dashboard}/images?tab=shared")
    assert browser.find_elements(By.CSS_SELECTOR, f"#images tr[data-id='{image_id}']")
    by_id(browser, "lang-vi").click()
    wait(browser, lambda: by_id(browser, "tab-shared").text == "Được chia sẻ với tôi")
    assert "Trạng thái" in by_id(browser, "images").text
    by_id(browser, "lang-en").click()

    # as admin: deactivate and reactivate, queue for the cache and see it cached
    log_in(browser, dashboard, "admin", "admin")
    browser.get(f"{dashboard}/images/{image_id}")
    click(browser, "deactivate-button")
    assert by_id(browser, "image-status").text == "deactivated"
    click(browser, "reactivate-button")
    assert by_id(browser, "image-status").text == "active"
    click(browser, "cache-button")
    click(browser, "copy-button")  # to the other store (copy-image): in both, in time

    def in_both():
        browser.get(f"{dashboard}/images/{image_id}")
        return set(by_id(browser, "field-stores").text.split(",")) == {"fast", "cheap"}
    wait(browser, in_both)
    browser.get(f"{dashboard}/tasks")
    assert "success" in by_id(browser, "tasks").text
    browser.get(f"{dashboard}/cache")

    def cached():
        browser.refresh()
        return browser.find_elements(By.CSS_SELECTOR, f".cached tr[data-id='{image_id}']")
    wait(browser, cached)
    assert "of image_cache_max_size 10737418240 bytes" in by_id(browser, "node-1").text
    shot(browser, "cache")
    browser.get(f"{dashboard}/stores")
    for store in ("fast", "cheap"):  # as admin: type, weight, images, bytes and health too
        row = by_id(browser, f"store-{store}")
        assert row.text.startswith(store) and "file" in row.text and row.text.endswith("OK")
        images = 2 if store == "fast" else 1  # both uploads in fast, the copy in cheap
        held = (images, images * os.path.getsize(path))
        assert (int(row.find_element(By.CLASS_NAME, "images").text),
                int(row.find_element(By.CLASS_NAME, "bytes").text)) == held, row.text
    by_id(browser, "logout").click()
    wait(browser, lambda: browser.current_url.startswith(f"{dashboard}/login"))
    browser.get(f"{dashboard}/images")
    assert browser.current_url.startswith(f"{dashboard}/login")


def test_a_lab_page_shows_the_last_grade_and_the_class_its_scores(browser, dashboard):
    from selenium.webdriver.common.by import By
    log_in(browser, dashboard, user_of(PROJECT), PROJECT)
    browser.get(f"{dashboard}/labs")
    assert by_id(browser, "lab-2.1").find_element(By.CLASS_NAME, "score").text == "1/1"
    browser.get(f"{dashboard}/labs/2.1")
    items = by_id(browser, "grade-items").text
    assert "PASS l21: the new store directory belongs to glance" in items
    assert "/srv/glance/images" in by_id(browser, "guide").text  # the guide, rendered
    assert by_id(browser, "guide").find_elements(By.TAG_NAME, "h1") or \
        by_id(browser, "guide").find_elements(By.TAG_NAME, "h2")
    browser.get(f"{dashboard}/labs/2.1?lang=vi")
    assert "Lần chấm gần nhất" in browser.page_source
    assert "ĐẠT l21" in by_id(browser, "grade-items").text
    browser.get(f"{dashboard}/labs/2.1?lang=en")
    shot(browser, "lab")
    # a button runs the lab command here, its output shown as it comes (this lab has no
    # hosts any more: the grade says to start it)
    click(browser, "lab-grade")
    wait(browser, lambda: "run `glancelab lab start 2.1`" in by_id(browser, "lab-output").text)
    browser.get(f"{dashboard}/class")
    assert "for trainers" in by_id(browser, "refused").text  # a member is not a trainer
    assert not browser.find_elements(By.ID, "nav-class")
    log_in(browser, dashboard, "admin", "admin")
    browser.get(f"{dashboard}/class")
    an = by_id(browser, "trainee-an").text
    binh = by_id(browser, "trainee-binh").text
    assert "1/1" in an and "2 attempts" in an and "0/1" in binh


def test_a_forged_csrf_token_is_refused(dashboard):
    user = user_of(PROJECT)
    web = requests.Session()
    form = web.get(f"{dashboard}/login", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    forged = web.post(f"{dashboard}/login", timeout=30, allow_redirects=False, data={
        "csrf": "forged", "user": user, "password": user, "project": PROJECT})
    assert forged.status_code == 403 and "glancelab_dashboard" not in web.cookies
    signed = web.post(f"{dashboard}/login", timeout=30, allow_redirects=False, data={
        "csrf": csrf, "user": user, "password": user, "project": PROJECT})
    assert signed.status_code == 303 and "glancelab_dashboard" in web.cookies
    page = web.get(f"{dashboard}/images", timeout=30).text
    session_csrf = re.search(r'name="csrf" content="([^"]+)"', page).group(1)
    # another site's form (no CSRF token, or a wrong one) changes nothing
    made = web.post(f"{dashboard}/images", timeout=30, headers={"Accept": "application/json"},
                    data={"csrf": session_csrf, "name": "csrf-check", "disk_format": "raw",
                          "container_format": "bare"}).json()
    for offered in ({}, {"csrf": session_csrf + "x"}):
        refused = web.post(f"{dashboard}/images/{made['id']}/do/delete", data=offered,
                           timeout=30, allow_redirects=False)
        assert refused.status_code == 403
        refused = web.post(f"{dashboard}/logout", data=offered, timeout=30,
                           allow_redirects=False)
        assert refused.status_code == 403
    assert "csrf-check" in web.get(f"{dashboard}/images", timeout=30).text
    deleted = web.post(f"{dashboard}/images/{made['id']}/do/delete", timeout=30,
                       data={"csrf": session_csrf}, allow_redirects=False)
    assert deleted.status_code == 303


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
        wait_until_answers(f"{url}/login")
        page = requests.get(f"{url}/login", timeout=30)
        assert page.url == f"{url}/images" and "noauth-dash" in page.text
        assert "/logout" not in page.text
        # a client that connects and sends nothing is served by nobody for long: others are
        # answered meanwhile, and it is cut off
        idle = socket.create_connection(("127.0.0.1", port))
        idle.settimeout(30)
        began = time.monotonic()
        assert requests.get(f"{url}/images", timeout=5).status_code == 200
        assert idle.recv(1) == b"" and time.monotonic() - began < 25
        idle.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        api.stop()
    exposed = subprocess.run([GLANCELAB, "dashboard", "--keystone-url", "", "--host", "0.0.0.0",
                              "--port", str(free_port())], capture_output=True, text=True,
                             timeout=60)
    assert exposed.returncode == 2 and "loopback only" in exposed.stderr
