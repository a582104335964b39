#!/usr/bin/env python3
"""The chat page's input paths in real browsers (page_common.py says how): a file dropped on the
conversation, an image pasted, an upload cancelled under a throttled network, notifications, and
the page used with the keyboard alone.

Usage: page_input.py BASE_URL IRC_PORT SCREENSHOT_DIR (a fresh server with --quiet-presence 10: it signs
up ann, bob, erin and fay, and fills the lobby past the mark last)

The scenarios are the functions in SCENARIOS, run in order; each is one step of the report (the
same JSON as page_browser.py's). A failed scenario does not stop the others: the browsers it may
have left in a strange state are closed, and the next scenario opens fresh ones. To add a scenario,
write a function that takes the `People` and decorate it with `@scenario("what it shows")`.
"""
import base64
import os
import sys
import time

# No __pycache__ beside the scripts in the repository.
sys.dont_write_bytecode = True
from page_common import (  # noqa: E402
    PASSWORDS, RawIRC, attribute, check_download, click, close_browser, configure, css, log_in, logged_in, open_browser,
    open_buffer, png_bytes, presence, report, run, run_step, say, screenshot, settings, wait, wait_message, work,
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

SCENARIOS = []


def scenario(name):
    """Appends the function to SCENARIOS as the step `name`."""
    def register(function):
        SCENARIOS.append((name, function))
        return function
    return register


class People:
    """ann and bob, each logged in in a desktop browser, opened when a scenario first asks and kept
    for the scenarios after it (closed after a failed one)."""

    def __init__(self):
        self.drivers = {}
        self.signed_up = set()

    def browser(self, nick):
        if nick not in self.drivers:
            driver = open_browser()
            log_in(driver, nick, PASSWORDS[nick], "login-submit" if nick in self.signed_up else "register-submit")
            logged_in(driver)
            self.signed_up.add(nick)
            self.drivers[nick] = driver
            wait(driver, lambda d: d.execute_script("return window.tincan.store.state.me") == nick, f"the nick {nick}")
        return self.drivers[nick]

    def pair(self):
        """ann and bob, both on the lobby, each seeing the other online."""
        ann, bob = self.browser("ann"), self.browser("bob")
        wait(ann, lambda d: presence(d, "bob") == "online", "bob online in ann's member list")
        wait(bob, lambda d: presence(d, "ann") == "online", "ann online in bob's member list")
        open_buffer(ann, "#lobby")
        open_buffer(bob, "#lobby")
        return ann, bob

    def close(self):
        for driver in self.drivers.values():
            close_browser(driver)
        self.drivers = {}


# MARK: helpers

def stays_false(driver, condition, seconds=3):
    """Whether `condition` stays false for `seconds`: "nothing arrives" has no event to wait for."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition(driver):
            return False
        time.sleep(0.1)
    return True


def page_file(driver, payload, name, kind):
    """Makes a File in the page (window.testFile) from bytes given here."""
    driver.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        window.testFile = new File([bytes], arguments[1], { type: arguments[2] });""",
        base64.b64encode(payload).decode(), name, kind)


def files_sent(driver, sender):
    """How many messages from `sender` in the open conversation carry a link to this server's files."""
    return driver.execute_script("""
        return [...document.querySelectorAll('[data-test="message"][data-from="' + arguments[0] + '"] .text a')]
            .filter((a) => new URL(a.href).pathname.startsWith('/files/')).length""", sender)


def focused(driver):
    """What has the focus: its id, data-test, data-name/data-nick, whether it shows and whether the
    browser draws a focus ring on it (:focus-visible)."""
    return driver.execute_script("""
        const e = document.activeElement;
        if (!e || e === document.body) return { tag: 'body' };
        const box = e.getBoundingClientRect();
        return { tag: e.tagName.toLowerCase(), id: e.id, test: e.dataset.test || null,
            name: e.dataset.name || e.dataset.nick || null,
            shown: box.width > 0 && box.height > 0 && getComputedStyle(e).visibility !== 'hidden',
            ring: e.matches(':focus-visible') && getComputedStyle(e).outlineStyle !== 'none' };""")


def press(driver, *keys):
    """Keys as a person types them, to whatever has the focus."""
    ActionChains(driver).send_keys(*keys).perform()


def alt(driver, key):
    ActionChains(driver).key_down(Keys.ALT).send_keys(key).key_up(Keys.ALT).perform()


def tab_to(driver, matches, what, backwards=False, limit=25):
    """Presses Tab (or Shift+Tab) until the focus is on what `matches`; every stop must show its focus."""
    path = []
    for _ in range(limit):
        if backwards:
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            press(driver, Keys.TAB)
        now = focused(driver)
        path.append(now.get("id") or now.get("name") or now.get("tag"))
        assert now["tag"] != "body" and now["shown"], f"Tab lost the focus on the way to {what}: {path}, {now}"
        if matches(now):
            assert now["ring"], f"{what} has the focus but no visible focus ring: {now}"
            return path
    raise AssertionError(f"{limit} Tabs did not reach {what}: {path}")


def wait_focus(driver, matches, what, timeout=5):
    """Waits until the focus is on what `matches`, shown with a focus ring."""
    def there(d):
        now = focused(d)
        return matches(now) and now["shown"] and now["ring"]
    try:
        wait(driver, there, what, timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; the focus is on {focused(driver)}")


def sign_up_elsewhere(nick, password):
    """Creates the account over plain IRC and leaves, so that a browser can log in as `nick`."""
    irc = RawIRC(nick, password)
    irc.send("QUIT :account made")
    irc.wait_for("ERROR")
    irc.close()


# MARK: scenarios

@scenario("a file dropped on the conversation (dragenter, dragover, drop) is sent; the other browser downloads the same bytes")
def drag_and_drop(people):
    ann, bob = people.pair()
    # A drag of text only is not the page's: it does not take it over.
    taken = ann.execute_script("""
        const data = new DataTransfer();
        data.setData('text/plain', 'just words');
        const target = document.getElementById('messages');
        const event = new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: data });
        return !target.dispatchEvent(event);""")
    assert not taken and not ann.find_element(By.ID, "drop-hint").is_displayed(), "a drag of text was taken for a file"
    payload = os.urandom(200 * 1024)
    page_file(ann, payload, "dropped notes.bin", "application/octet-stream")
    accepted = ann.execute_script("""
        const data = new DataTransfer();
        data.items.add(window.testFile);
        const target = document.getElementById('messages');
        const fire = (type) => !target.dispatchEvent(
            new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
        const enter = fire('dragenter');
        const over = fire('dragover');
        const hint = !document.getElementById('drop-hint').hidden;
        const drop = fire('drop');
        return { enter, over, hint, drop, hintAfter: !document.getElementById('drop-hint').hidden };""")
    assert accepted == {"enter": True, "over": True, "hint": True, "drop": True, "hintAfter": False}, \
        f"the page did not take the drop as a file (true = it cancelled the event's default): {accepted}"
    digest = check_download(bob, "dropped notes.bin", payload)
    wait(ann, lambda d: css(d, '[data-test="file"][data-name="dropped notes.bin"]'), "the card in ann's own lobby")
    return digest


@scenario("a pasted screenshot (image.png) is sent as pasted-<time>.png; the other browser shows its preview")
def paste(people):
    ann, bob = people.pair()
    composer = css(ann, '[data-test="composer"]')[0]
    composer.click()
    # Pasted text is the input's: the page leaves it alone.
    text_taken = ann.execute_script("""
        const data = new DataTransfer();
        data.setData('text/plain', 'pasted words');
        const event = new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: data });
        return !document.activeElement.dispatchEvent(event);""")
    assert not text_taken, "a paste of text was taken over"
    page_file(ann, png_bytes(), "image.png", "image/png")
    taken = ann.execute_script("""
        const data = new DataTransfer();
        data.items.add(window.testFile);
        const event = new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: data });
        return !document.activeElement.dispatchEvent(event);""")
    assert taken, "the page did not take the pasted image"
    card = '[data-test="file"][data-name^="pasted-"][data-name$=".png"]'
    wait(bob, lambda d: css(d, card + " img.preview"), "the pasted image's card with a preview in bob's lobby")
    wait(bob, lambda d: d.execute_script(
        "const i = document.querySelector(arguments[0]); return i && i.complete && i.naturalWidth === 24",
        card + " img.preview"), "the preview drawn")
    assert composer.get_attribute("value") == "", "the paste left something in the composer"
    return attribute(bob, card, "data-name")


@scenario("an upload cancelled halfway (throttled network) leaves no box and sends no link; the next upload works")
def cancel(people):
    ann, bob = people.pair()
    before_bob, before_ann = files_sent(bob, "ann"), files_sent(ann, "ann")
    path = os.path.join(work, "slow.bin")
    with open(path, "wb") as file:
        file.write(os.urandom(900 * 1024))
    # 64 KiB/s up: the 900 KiB take some 14 s, time enough to see progress and cancel.
    ann.set_network_conditions(
        offline=False, latency=5, download_throughput=10 * 1024 * 1024, upload_throughput=64 * 1024)
    try:
        css(ann, '[data-test="file-input"]')[0].send_keys(path)
        progress = wait(ann, lambda d: d.execute_script("""
            const p = document.querySelector('[data-test="upload-progress"]');
            return !document.getElementById('upload').hidden && p.value > 0 && p.value < p.max && [p.value, p.max]"""),
            "upload progress above 0")
        ann.find_element(By.ID, "upload-cancel").click()
        wait(ann, lambda d: not d.find_element(By.ID, "upload").is_displayed(), "the upload box gone after Cancel",
             timeout=5)
    finally:
        ann.delete_network_conditions()
    # Nothing may arrive: a bounded look.
    assert stays_false(bob, lambda d: files_sent(d, "ann") > before_bob, 4), \
        "a link reached bob after the upload was cancelled"
    assert files_sent(ann, "ann") == before_ann, "ann's page sent a link after the upload was cancelled"
    assert not ann.find_element(By.ID, "upload").is_displayed(), "the upload box came back"
    payload = os.urandom(20 * 1024)
    again = os.path.join(work, "after cancel.bin")
    with open(again, "wb") as file:
        file.write(payload)
    css(ann, '[data-test="file-input"]')[0].send_keys(again)
    check_download(bob, "after cancel.bin", payload)
    wait(ann, lambda d: not d.find_element(By.ID, "upload").is_displayed(), "no upload box after the second upload")
    return f"cancelled at {progress[0]} of {progress[1]} bytes"


@scenario("notifications: 'Notify me' asks once; in the background a private message and a mention notify, other lobby talk does not")
def notifications(people):
    ann, bob = people.pair()
    button = ann.find_element(By.ID, "enable-notifications")
    assert button.is_displayed(), "no 'Notify me' button while the permission is not asked yet"
    ann.execute_cdp_cmd("Browser.grantPermissions", {"permissions": ["notifications"], "origin": settings.base})
    button.click()
    wait(ann, lambda d: not d.find_element(By.ID, "enable-notifications").is_displayed(), "the button gone")
    assert ann.execute_script("return window.tincan.store.state.notifications") == "granted"
    # The one test seam: a headless window always has the focus, so the page is told it has not,
    # as when the person is in another window. Notification stays the browser's own; the wrapper
    # only records what the page asks it to show.
    ann.execute_script("""
        document.hasFocus = () => false;
        window.shown = [];
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) {
                super(title, options);
                window.shown.push({ title, body: options?.body, tag: options?.tag, notification: this });
            }
        };""")
    def shown(driver):
        return driver.execute_script("return window.shown.map(({ title, body, tag }) => ({ title, body, tag }))")

    say(bob, "the weather is fine")
    wait_message(ann, "bob", "the weather is fine")
    assert shown(ann) == [], f"lobby talk that does not name ann notified: {shown(ann)}"
    say(bob, "/msg ann are you there?")
    wait(ann, lambda d: len(shown(d)) >= 1, "a notification for bob's private message")
    open_buffer(bob, "#lobby")
    say(bob, "ann: lunch?")
    wait_message(ann, "bob", "ann: lunch?")
    wait(ann, lambda d: len(shown(d)) >= 2, "a notification for the mention")
    say(bob, "nobody named here")
    wait_message(ann, "bob", "nobody named here")
    expected = [{"title": "bob", "body": "are you there?", "tag": "bob"},
                {"title": "bob in #lobby", "body": "ann: lunch?", "tag": "#lobby"}]
    assert shown(ann) == expected, f"notifications: {shown(ann)}"
    # Clicking the private message's notification opens that conversation.
    ann.execute_script("window.shown[0].notification.dispatchEvent(new Event('click'))")
    wait(ann, lambda d: d.find_element(By.ID, "title").text == "bob", "bob's conversation, opened by the notification")
    ann.execute_script("delete document.hasFocus; window.Notification = Object.getPrototypeOf(window.Notification);")
    open_buffer(ann, "#lobby")


@scenario("the keyboard alone: log in, talk, Alt+Down/Up between conversations, Tab to a member and Enter to talk to her")
def keyboard(people):
    ann, bob = people.pair()
    sign_up_elsewhere("erin", "erin-password-1")
    erin = open_browser()
    try:
        wait(erin, lambda d: d.find_element(By.ID, "login-nick").is_displayed(), "the login form")
        tab_to(erin, lambda f: f.get("id") == "login-nick", "the nick field")
        press(erin, "erin")
        tab_to(erin, lambda f: f.get("id") == "login-password", "the password field")
        press(erin, "erin-password-1", Keys.ENTER)
        logged_in(erin)
        # The lobby opens with the focus in the composer, ready to type.
        wait_focus(erin, lambda f: f.get("test") == "composer", "the focus in the composer after logging in")
        press(erin, "typed, not clicked", Keys.ENTER)
        wait_message(bob, "erin", "typed, not clicked")
        wait_message(erin, "erin", "typed, not clicked")
        assert erin.find_element(By.ID, "composer").get_attribute("value") == "", "the composer kept the sent text"

        # Conversations to move between: bob writes to erin, and she joins a channel (typing, as ever).
        say(bob, "/msg erin hello keyboard")
        open_buffer(bob, "#lobby")
        wait(erin, lambda d: css(d, '[data-test="buffer"][data-name="bob"]'), "bob's conversation in erin's list")
        press(erin, "/join #kitchen", Keys.ENTER)
        wait(erin, lambda d: d.find_element(By.ID, "title").text == "#kitchen", "#kitchen open")
        order = erin.execute_script(
            "const s = window.tincan.store.state; return s.order.map((k) => s.buffers.get(k).name)")
        at = order.index("#kitchen")
        for key, move in ((Keys.ARROW_DOWN, 1), (Keys.ARROW_UP, -1), (Keys.ARROW_UP, -1), (Keys.ARROW_DOWN, 1)):
            target = order[(at + move) % len(order)]
            alt(erin, key)
            wait(erin, lambda d: d.find_element(By.ID, "title").text == target,
                 f"Alt+{'Down' if move > 0 else 'Up'} to {target} ({order})")
            at = order.index(target)
            wait_focus(erin, lambda f: f.get("test") == "composer", "the focus still in the composer")
        for _ in range((order.index("#lobby") - at) % len(order)):
            title = erin.find_element(By.ID, "title").text
            alt(erin, Keys.ARROW_DOWN)
            wait(erin, lambda d: d.find_element(By.ID, "title").text != title, "Alt+Down on the way to the lobby")
        assert erin.find_element(By.ID, "title").text == "#lobby", "Alt+Down did not come back to the lobby"

        # Tab from the composer to ann in the member list; Enter opens the conversation with her.
        wait(erin, lambda d: presence(d, "ann") == "online", "ann in erin's member list")
        tab_to(erin, lambda f: f.get("test") == "member" and f.get("name") == "ann", "ann's button in the member list")
        press(erin, Keys.ENTER)
        wait(erin, lambda d: d.find_element(By.ID, "title").text == "ann", "the conversation with ann open")
        after_enter = focused(erin)
        assert after_enter["tag"] != "body" and after_enter["shown"], f"the focus was lost after Enter: {after_enter}"
        if after_enter.get("test") != "composer":
            tab_to(erin, lambda f: f.get("test") == "composer", "the composer", backwards=True)
        press(erin, "found you with Tab", Keys.ENTER)
        wait(ann, lambda d: css(d, '[data-test="buffer"][data-name="erin"]'), "erin's conversation in ann's list")
        open_buffer(ann, "erin")
        wait_message(ann, "erin", "found you with Tab")
        open_buffer(ann, "#lobby")
        return f"conversations {order}; the focus after Enter on a member: {after_enter.get('test')}"
    finally:
        close_browser(erin)


@scenario("the keyboard alone on a phone: sign up, open 'Chats' and 'People'; Escape, or a conversation chosen, folds the list and gives the focus back")
def keyboard_phone(people):
    people.pair()  # others in the member list
    phone = open_browser(390, 844)
    try:
        wait(phone, lambda d: d.find_element(By.ID, "login-nick").is_displayed(), "the phone's login form")
        tab_to(phone, lambda f: f.get("id") == "login-nick", "the nick field")
        press(phone, "fay")
        tab_to(phone, lambda f: f.get("id") == "login-password", "the password field")
        press(phone, "fay-password-1")
        tab_to(phone, lambda f: f.get("id") == "register-submit", "the Sign up button")
        press(phone, Keys.ENTER)
        logged_in(phone)
        def panel(driver):
            return driver.execute_script("return document.getElementById('app').dataset.panel || null")

        for toggle, name, row in (("toggle-buffers", "buffers", "buffer"), ("toggle-members", "members", "member")):
            tab_to(phone, lambda f: f.get("id") == toggle, f"the {toggle} button")
            press(phone, Keys.ENTER)
            wait(phone, lambda d: panel(d) == name and d.find_element(By.ID, name).is_displayed(),
                 f"the {name} list shown")
            assert phone.find_element(By.ID, toggle).get_attribute("aria-expanded") == "true"
            # Into the list, then Escape: the list folds and the focus goes back to its button.
            tab_to(phone, lambda f: f.get("test") == row and f.get("name") is not None, f"a row of the {name} list")
            press(phone, Keys.ESCAPE)
            wait(phone, lambda d: panel(d) is None and not d.find_element(By.ID, name).is_displayed(),
                 f"the {name} list folded by Escape")
            assert phone.find_element(By.ID, toggle).get_attribute("aria-expanded") == "false"
            wait_focus(phone, lambda f: f.get("id") == toggle, f"the focus back on {toggle} after Escape")
        # A conversation chosen with Enter folds the list too, and the focus goes back to "Chats".
        tab_to(phone, lambda f: f.get("id") == "toggle-buffers", "the toggle-buffers button", backwards=True)
        press(phone, Keys.ENTER)
        wait(phone, lambda d: panel(d) == "buffers", "the buffers list shown again")
        tab_to(phone, lambda f: f.get("test") == "buffer" and f.get("name") == "#lobby", "the lobby's row")
        press(phone, Keys.ENTER)
        wait(phone, lambda d: panel(d) is None and d.find_element(By.ID, "title").text == "#lobby",
             "the list folded, the lobby open")
        wait_focus(phone, lambda f: f.get("id") == "toggle-buffers", "the focus back on toggle-buffers after choosing")
    finally:
        close_browser(phone)


# The server for this script runs with --quiet-presence QUIET: the scenarios above stay below it.
QUIET = 10


@scenario("a lobby past the quiet-presence mark: the page says it is large, searches people (WHO), shows who spoke, opens a found one")
def large_lobby(people):
    ann = people.browser("ann")
    open_buffer(ann, "#lobby")
    crowd = [RawIRC(f"crowd{number}", None) for number in range(QUIET + 2)]
    try:
        # ann saw joins up to the mark, then the server went quiet: the page must have noticed.
        # (Texts are read in the page in one go: the list is redrawn as people speak and are counted.)
        note = wait(ann, lambda d: d.execute_script(
            "const e = document.querySelector('[data-test=\"room-large\"]'); return e && e.offsetParent && e.textContent"),
            "the 'room is large' note")
        wait(ann, lambda d: d.execute_script(
            "return window.tincan.store.state.buffers.get('#lobby').count") >= QUIET + 2, "LIST's count of the lobby")
        assert "large" in note, note
        # The list is no longer everyone: the crowd is not listed member by member.
        listed = ann.execute_script("return [...document.querySelectorAll('.member-list [data-test=\"member\"]')].map(e => e.dataset.nick)")
        assert not any(nick.startswith("crowd") for nick in listed), f"the crowd is listed: {listed}"
        crowd[3].send("PRIVMSG #lobby :hello from the crowd")
        wait_message(ann, "crowd3", "hello from the crowd")
        wait(ann, lambda d: css(d, '[data-test="member-section"][data-name="recent"] [data-test="member"][data-nick="crowd3"]'),
             "crowd3 under 'Spoke recently'")
        box = css(ann, '[data-test="member-search"]')[0]
        box.send_keys("crowd1")
        box.send_keys(Keys.ENTER)
        found = '[data-test="member-section"][data-name="found"] [data-test="member"]'

        def results(driver):
            # Read in one go in the page: the list may be redrawn between two WebDriver calls.
            return driver.execute_script(
                "return [...document.querySelectorAll(arguments[0])].map(e => [e.dataset.nick, e.dataset.presence])", found)
        wait(ann, lambda d: {nick for nick, _ in results(d)} >= {"crowd1", "crowd10", "crowd11"}, "crowd1, crowd10 and crowd11 found")
        listed = results(ann)
        assert {nick for nick, _ in listed} == {"crowd1", "crowd10", "crowd11"}, f"the search found {listed}"
        assert all(presence == "online" for _, presence in listed), f"found people are not all online: {listed}"
        screenshot(ann, "large-lobby-desktop")
        click(ann, found + '[data-nick="crowd10"]', "crowd10 among the found")
        wait(ann, lambda d: d.execute_script("return window.tincan.store.state.current") == "crowd10", "crowd10's conversation open")
        say(ann, "hi crowd10")
        line = crowd[10].wait_for("PRIVMSG crowd10 :hi crowd10")
        assert line.startswith(":ann!"), line
    finally:
        for client in crowd:
            client.close()


def main():
    people = People()
    for name, function in SCENARIOS:
        try:
            run_step(name, lambda: function(people))
        except Exception:  # noqa: BLE001 - recorded by run_step; the next scenario starts with fresh browsers
            people.close()
    people.close()
    report["completed"] = True


if __name__ == "__main__":
    configure(sys.argv)
    run(main)
