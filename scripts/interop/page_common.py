"""What the browser scenarios of the chat page share (page_browser.py, page_input.py): Debian's
chromium, headless, driven by Selenium through chromium-driver, against a running
`tincan chat serve --http-port ...`.

A scenario script calls `configure(sys.argv)` (BASE_URL IRC_PORT SCREENSHOT_DIR), records each
scenario with `step`, and hands its main function to `run`, which prints one JSON object on stdout:
{"steps": [{"name", "ok", "detail", "seconds"}...], "screenshots": {name: {"path", "width", "height",
"colors"}}, "completed": bool}, and exits 0 only when the main function returned and every step passed.
"""
import hashlib
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import traceback
import zlib

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 30
PASSWORDS = {"ann": "ann-password-1", "bob": "bob-password-1", "carol": "carol-password-1"}


class Settings:
    """Where the server is and where screenshots go (set by `configure`)."""
    base = None
    irc_port = None
    shots = None


settings = Settings()
report = {"steps": [], "screenshots": {}, "completed": False}
browsers = []
work = tempfile.mkdtemp(prefix="tincan-page-")


def configure(argv):
    if len(argv) != 4:
        raise SystemExit(f"usage: {os.path.basename(argv[0])} BASE_URL IRC_PORT SCREENSHOT_DIR")
    settings.base, settings.irc_port, settings.shots = argv[1].rstrip("/"), int(argv[2]), argv[3]


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no chromium on PATH (Debian package chromium)")


def open_browser(width=1280, height=800):
    options = Options()
    options.binary_location = chromium_binary()
    downloads = tempfile.mkdtemp(prefix="downloads-", dir=work)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--no-first-run", "--disable-extensions", f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='profile-', dir=work)}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_window_size(width, height)
    if width < 500:
        # A desktop window has a minimum width; a phone's viewport is emulated instead.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    driver.downloads = downloads
    browsers.append(driver)
    driver.get(settings.base + "/")
    return driver


def close_browser(driver):
    if driver in browsers:
        browsers.remove(driver)
    try:
        driver.quit()
    except Exception:  # noqa: BLE001 - a browser that already died is closed enough
        pass


def wait(driver, condition, what, timeout=WAIT):
    try:
        # The page redraws its lists as lines arrive: an element found a moment ago may be gone.
        return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def log_in(driver, nick, password, button="login-submit"):
    wait(driver, lambda d: any(e.is_displayed() for e in css(d, '[data-test="login-nick"]')), "the login form")
    for field, value in (("login-nick", nick), ("login-password", password)):
        element = css(driver, f'[data-test="{field}"]')[0]
        element.clear()
        element.send_keys(value)
    css(driver, f'[data-test="{button}"]')[0].click()


def logged_in(driver):
    wait(driver, lambda d: any(e.is_displayed() for e in css(d, '[data-test="composer"]')), "the chat after logging in")
    wait(driver, lambda d: css(d, '[data-test="buffer"][data-name="#lobby"]'), "the lobby in the conversation list")


def say(driver, text):
    composer = css(driver, '[data-test="composer"]')[0]
    composer.send_keys(text)
    composer.send_keys(Keys.ENTER)


def message_texts(driver, sender=None):
    selector = '[data-test="messages"] [data-test="message"]' + (f'[data-from="{sender}"]' if sender else "")
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.querySelector('.text').textContent)", selector)


def wait_message(driver, sender, text):
    return wait(driver, lambda d: any(text in t for t in message_texts(d, sender)), f"{sender}'s message '{text}'")


def attribute(driver, selector, name):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])", selector, name)


def presence(driver, nick):
    return attribute(driver, f'[data-test="member"][data-nick="{nick}"]', "data-presence")


def click(driver, selector, what=None):
    """Clicks the element, finding it again if a redraw replaced it."""
    def attempt(d):
        found = css(d, selector)
        if not found:
            return False
        found[0].click()
        return True
    wait(driver, attempt, what or selector)


def conversations(driver):
    """What the store holds of each conversation, for failure messages."""
    return driver.execute_script("""
        const s = window.tincan.store.state;
        return [...s.buffers.values()].map(b => ({name: b.name, unread: b.unread, marker: b.marker, known: !!b.markerKnown,
            messages: b.messages.map(m => [m.time, m.from, m.text, m.id])})).concat(
            window.tincan.client.recent.filter(l => /MARKREAD|BATCH|CHATHISTORY|AUTHENTICATE|90[0-9]/.test(l)));""")


def open_buffer(driver, name):
    wait(driver, lambda d: css(d, f'[data-test="buffer"][data-name="{name}"]'), f"the conversation {name}")
    click(driver, f'[data-test="buffer"][data-name="{name}"]')
    wait(driver, lambda d: d.find_element(By.ID, "title").text == name, f"{name} open")


def check_download(driver, name, payload):
    """Downloads the file card `name` in `driver`'s conversation; the bytes must be `payload`.
    Returns their SHA-256."""
    card = f'[data-test="file"][data-name="{name}"]'
    wait(driver, lambda d: css(d, card), f"the card of {name}")
    assert attribute(driver, card, "data-size") == str(len(payload)), attribute(driver, card, "data-size")
    click(driver, card + " a.download")
    target = os.path.join(driver.downloads, name)
    wait(driver, lambda d: os.path.exists(target) and os.path.getsize(target) == len(payload),
         f"the download of {name}")
    with open(target, "rb") as file:
        got = hashlib.sha256(file.read()).hexdigest()
    assert got == hashlib.sha256(payload).hexdigest(), "SHA-256 differs"
    return got


def png_summary(path):
    """Width, height and how many distinct colours a sample of the PNG's pixels has (pure Python)."""
    with open(path, "rb") as file:
        data = file.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour_type = header[0], header[1], header[2], header[3]
    channels = {2: 3, 6: 4, 0: 1, 4: 2}.get(colour_type, 4)
    stride = width * channels * depth // 8
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    colours = set()
    offset = 0
    for row in range(height):
        kind = raw[offset]
        line = bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        bpp = max(1, channels * depth // 8)
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        previous = line
        if row % 4 == 0:
            for x in range(0, width, 4):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
    return width, height, len(colours)


def screenshot(driver, name):
    path = os.path.join(settings.shots, name + ".png")
    driver.save_screenshot(path)
    width, height, colours = png_summary(path)
    report["screenshots"][name] = {"path": path, "width": width, "height": height, "colors": colours}
    assert colours >= 8, f"screenshot {name} looks blank ({colours} colours)"


class RawIRC:
    """A plain Python IRC client over a socket: signs up with REGISTER (a guest when password is
    None) and talks in the lobby."""

    def __init__(self, nick, password):
        self.sock = socket.create_connection(("127.0.0.1", settings.irc_port), timeout=WAIT)
        self.buffer = b""
        self.lines = []
        if password is None:
            self.send(f"NICK {nick}")
            self.send(f"USER {nick} 0 * :{nick}")
            self.wait_for(" 366 ")
            return
        self.send("CAP LS 302")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        self.send("CAP REQ :draft/account-registration")
        self.wait_for(" ACK ")
        self.send(f"REGISTER * * {password}")
        self.wait_for("REGISTER SUCCESS")
        self.send("CAP END")
        self.wait_for(" 366 ")

    def send(self, line):
        self.sock.sendall((line + "\r\n").encode())

    def wait_for(self, text):
        deadline = time.monotonic() + WAIT
        while True:
            for index, line in enumerate(self.lines):
                if text in line:
                    del self.lines[:index + 1]
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"the IRC client saw no '{text}'")
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"the IRC connection closed before '{text}'")
            self.buffer += data
            while b"\r\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\r\n", 1)
                decoded = line.decode("utf-8", "replace")
                if decoded.startswith("PING "):
                    self.send("PONG " + decoded[5:])
                self.lines.append(decoded)

    def close(self):
        self.sock.close()


def png_bytes():
    """A 24x24 PNG: a red square on blue."""
    rows = b""
    for y in range(24):
        rows += b"\x00" + b"".join(b"\xd0\x30\x30" if 6 <= x < 18 and 6 <= y < 18 else b"\x30\x50\xd0" for x in range(24))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 24, 24, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_png(path):
    with open(path, "wb") as file:
        file.write(png_bytes())


def run_step(name, function):
    """Runs one step and records it; a failure is recorded with its traceback, then raised again."""
    started = time.monotonic()
    try:
        detail = function()
        report["steps"].append({"name": name, "ok": True, "detail": detail or "", "seconds": round(time.monotonic() - started, 2)})
    except Exception as error:  # noqa: BLE001 - every failure is reported, then raised again
        report["steps"].append({"name": name, "ok": False, "detail": f"{error}\n{traceback.format_exc()}"})
        raise
    return detail


def step(name):
    """A decorator that runs the function at once as the step `name`."""
    def run(function):
        run_step(name, function)
        return function
    return run


def run(main, on_failure=None):
    """Runs `main`, closes every browser, prints the report and exits (0 when all passed)."""
    os.makedirs(settings.shots, exist_ok=True)
    status = 1
    try:
        main()
        status = 0 if all(s["ok"] for s in report["steps"]) else 1
    except Exception:  # noqa: BLE001 - reported in the steps
        if on_failure:
            on_failure()
    finally:
        for driver in list(browsers):
            close_browser(driver)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    sys.exit(status)
