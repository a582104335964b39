#!/usr/bin/env python3
"""The chat page in real browsers: Debian's chromium, headless, driven by Selenium through
chromium-driver, against a running `tincan chat serve --http-port ...` (the machinery is in
page_common.py; the page's input paths are page_input.py's).

Usage: page_browser.py BASE_URL IRC_PORT SCREENSHOT_DIR

Runs the scenarios in order (each builds on the ones before), prints one JSON object on stdout:
{"steps": [{"name", "ok", "detail"}...], "screenshots": {name: {"path", "width", "height", "colors"}},
 "completed": bool}, and exits 0 only when every step passed. Screenshots are PNGs in SCREENSHOT_DIR.
"""
import os
import sys
import time

# No __pycache__ beside the scripts in the repository.
sys.dont_write_bytecode = True
from page_common import (  # noqa: E402
    PASSWORDS, RawIRC, check_download, click, close_browser, configure, conversations, css, log_in, logged_in,
    make_png, message_texts, open_browser, open_buffer, presence, report, run, say, screenshot, step, wait,
    wait_message, work,
)
from selenium.webdriver.common.by import By  # noqa: E402


def main():
    context = {}

    @step("the page is served with its CSP and drew its login form")
    def _():
        ann = open_browser()
        context["ann"] = ann
        wait(ann, lambda d: css(d, '[data-test="login-submit"]') and css(d, '[data-test="register-submit"]'), "the login buttons")
        screenshot(ann, "login-desktop")

    @step("two browsers sign up (REGISTER) and log in")
    def _():
        ann = context["ann"]
        log_in(ann, "ann", PASSWORDS["ann"], "register-submit")
        logged_in(ann)
        bob = open_browser()
        context["bob"] = bob
        log_in(bob, "bob", PASSWORDS["bob"], "register-submit")
        logged_in(bob)

    @step("each sees the other in the member list, online")
    def _():
        wait(context["ann"], lambda d: presence(d, "bob") == "online", "bob online in ann's member list")
        wait(context["bob"], lambda d: presence(d, "ann") == "online", "ann online in bob's member list")

    @step("they chat in the lobby; a message with <script> shows as text")
    def _():
        ann, bob = context["ann"], context["bob"]
        say(ann, "hello bob, see https://example.org/page.")
        wait_message(bob, "ann", "hello bob")
        say(bob, "<script>window.pwned = 1</script><b>not bold</b>")
        wait_message(ann, "bob", "<script>window.pwned = 1</script><b>not bold</b>")
        assert not css(ann, '[data-test="messages"] script'), "a script element in ann's messages"
        assert not css(ann, '[data-test="messages"] b'), "a b element in ann's messages"
        assert ann.execute_script("return window.pwned === undefined"), "the script ran"
        link = css(bob, '[data-test="message"][data-from="ann"] a[href="https://example.org/page"]')
        assert link and link[0].get_attribute("rel") == "noopener noreferrer", "the link is not a noopener <a>"

    @step("they chat privately: clicking a member opens the conversation, the other sees it unread")
    def _():
        ann, bob = context["ann"], context["bob"]
        click(ann, '[data-test="member"][data-nick="bob"]')
        wait(ann, lambda d: d.find_element(By.ID, "title").text == "bob", "ann's private conversation with bob")
        say(ann, "just between us")
        wait(bob, lambda d: css(d, '[data-test="buffer"][data-name="ann"][data-unread="1"]'), "bob's conversation with ann, 1 unread")
        open_buffer(bob, "ann")
        wait_message(bob, "ann", "just between us")
        wait(bob, lambda d: css(d, '[data-test="buffer"][data-name="ann"][data-unread="0"]'), "ann's conversation read")
        say(bob, "/me nods")
        wait(ann, lambda d: any("* bob nods" in t for t in message_texts(d, "bob")), "bob's /me")
        open_buffer(ann, "#lobby")

    @step("a Python IRC client and a browser talk to each other")
    def _():
        ann = context["ann"]
        carol = RawIRC("carol", PASSWORDS["carol"])
        context["carol"] = carol
        wait(ann, lambda d: presence(d, "carol") == "online", "carol in ann's member list")
        carol.send("PRIVMSG #lobby :hi from a plain IRC client")
        wait_message(ann, "carol", "hi from a plain IRC client")
        say(ann, "hi carol, from a browser")
        line = carol.wait_for("PRIVMSG #lobby :hi carol, from a browser")
        assert line.startswith(":ann!"), line
        carol.send("AWAY :lunch")
        wait(ann, lambda d: presence(d, "carol") == "away", "carol away")

    @step("two tabs of one account (the second as ann_) agree on what is read (MARKREAD)")
    def _():
        carol = context["carol"]
        tab = open_browser()
        log_in(tab, "ann", PASSWORDS["ann"])
        logged_in(tab)
        wait(tab, lambda d: d.execute_script("return window.tincan.store.state.me") == "ann_", "the second tab's nick ann_")
        open_buffer(tab, "bob")
        carol.send("PRIVMSG #lobby :read me once")
        wait(tab, lambda d: d.execute_script(
            "return window.tincan.store.state.buffers.get('#lobby').messages.some(m => m.text === 'read me once')"), "the line in the second tab")
        # The second tab shows bob, so only the first tab (on the lobby) can have read the lobby.
        wait(tab, lambda d: css(d, '[data-test="buffer"][data-name="#lobby"][data-unread="0"]'), "the lobby read in the second tab too")
        close_browser(tab)

    @step("a file sent from one browser (with progress) downloads in the other with the same SHA-256")
    def _():
        ann, bob = context["ann"], context["bob"]
        open_buffer(bob, "#lobby")
        path = os.path.join(work, "notes from ann.bin")
        payload = os.urandom(300 * 1024)
        with open(path, "wb") as file:
            file.write(payload)
        css(ann, '[data-test="file-input"]')[0].send_keys(path)
        assert css(ann, '[data-test="upload-progress"]'), "no upload-progress bar"
        got = check_download(bob, "notes from ann.bin", payload)
        image = os.path.join(work, "square.png")
        make_png(image)
        css(ann, '[data-test="file-input"]')[0].send_keys(image)
        wait(bob, lambda d: css(d, '[data-test="file"][data-name="square.png"] img.preview'), "the image's preview")
        wait(bob, lambda d: d.execute_script(
            "const i = document.querySelector('[data-test=\"file\"][data-name=\"square.png\"] img'); return i && i.complete && i.naturalWidth === 24"),
            "the preview drawn")
        return got

    @step("a file over the server's limit is refused with its size limit")
    def _():
        ann = context["ann"]
        path = os.path.join(work, "big.bin")
        with open(path, "wb") as file:
            file.write(os.urandom(1536 * 1024))
        css(ann, '[data-test="file-input"]')[0].send_keys(path)
        text = wait(ann, lambda d: "too large" in d.find_element(By.ID, "upload-text").text and d.find_element(By.ID, "upload-text").text, "the too-large sentence")
        assert "max 1 MiB" in text, text
        ann.find_element(By.ID, "upload-dismiss").click()

    @step("desktop screenshot of the lobby")
    def _():
        screenshot(context["ann"], "lobby-desktop")

    @step("the presence changes when one leaves")
    def _():
        ann, bob = context["ann"], context["bob"]
        close_browser(bob)
        wait(ann, lambda d: presence(d, "bob") == "offline", "bob offline in ann's member list")

    @step("a private message to an offline user is there, marked new, when they log in (phone layout)")
    def _():
        ann = context["ann"]
        click(ann, '[data-test="member"][data-nick="bob"]')
        wait(ann, lambda d: d.find_element(By.ID, "title").text == "bob", "ann's conversation with bob")
        say(ann, "this waited for you")
        wait(ann, lambda d: any("offline" in e.text for e in css(d, '[data-test="notice"]')), "the server's word that bob is offline")
        phone = open_browser(390, 844)
        context["phone"] = phone
        log_in(phone, "bob", PASSWORDS["bob"])
        logged_in(phone)
        phone.find_element(By.ID, "toggle-buffers").click()
        try:
            wait(phone, lambda d: css(d, '[data-test="buffer"][data-name="ann"][data-unread="1"]'), "bob's conversation with ann, 1 new")
        except AssertionError as error:
            raise AssertionError(f"{error}; the page's conversations: {conversations(phone)}")
        screenshot(phone, "buffers-phone")
        open_buffer(phone, "ann")
        wait_message(phone, "ann", "this waited for you")
        assert any("this waited for you" in e.text for e in css(phone, '[data-test="message"].new')), "not marked new"
        assert any("just between us" in t for t in message_texts(phone, "ann")), "the earlier private message is not in the history"
        # Dark mode, as a phone set to it shows the page.
        phone.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        screenshot(phone, "conversation-phone-dark")
        close_browser(phone)

    @step("scrolling up loads older history (CHATHISTORY BEFORE)")
    def _():
        carol = context["carol"]
        for number in range(70):
            carol.send(f"PRIVMSG #lobby :history line {number}")
        carol.send("PRIVMSG #lobby :history done")
        late = open_browser()
        context["late"] = late
        log_in(late, "dave", "dave-password-1", "register-submit")
        logged_in(late)
        wait_message(late, "carol", "history done")
        count = len(message_texts(late))
        assert not any(t == "history line 0" for t in message_texts(late, "carol")), "the first page already had everything"
        for _ in range(10):
            late.execute_script("document.querySelector('[data-test=\"messages\"]').scrollTop = 0")
            time.sleep(0.5)
            if any(t == "history line 0" for t in message_texts(late, "carol")):
                break
        assert any(t == "history line 0" for t in message_texts(late, "carol")), f"no older lines after scrolling ({count} at first)"

    @step("a wrong password shows login-error")
    def _():
        wrong = open_browser()
        log_in(wrong, "bob", "not-the-password")
        error = wait(wrong, lambda d: [e for e in css(d, '[data-test="login-error"]') if e.is_displayed() and e.text], "login-error")[0]
        assert "Wrong nick or password" in error.text, error.text
        log_in(wrong, "bob", "long-enough-1", "register-submit")
        wait(wrong, lambda d: "taken" in d.find_element(By.CSS_SELECTOR, '[data-test="login-error"]').text, "the name-taken sentence")

    @step("after the server restarts the page says it is offline, then reconnects and logs in by itself")
    def _():
        ann = context["ann"]
        welcomes = ann.execute_script("return window.tincan.client.welcomes")
        # The test that started the server restarts it when asked (stderr), and says when (stdin).
        print("restart: please", file=sys.stderr, flush=True)
        wait(ann, lambda d: d.find_element(By.ID, "banner").is_displayed() and "Offline" in d.find_element(By.ID, "banner-text").text,
             "the offline banner")
        print("restart: offline seen", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip() != "started":
            raise AssertionError("the server was not restarted")
        wait(ann, lambda d: not d.find_element(By.ID, "banner").is_displayed(), "the banner gone", timeout=60)
        wait(ann, lambda d: d.execute_script("return window.tincan.client.welcomes") > welcomes, "ann logged in again")
        open_buffer(ann, "#lobby")
        # In the lobby again (its NAMES has come) before saying anything there.
        wait(ann, lambda d: presence(d, "ann") == "online", "ann among the lobby's members again")
        say(ann, "back after the restart")
        try:
            wait_message(ann, "ann", "back after the restart")
        except AssertionError as error:
            raise AssertionError(f"{error}; lines: {ann.execute_script('return window.tincan.client.recent.slice(-40)')}")

    report["completed"] = True


def restart_not_needed():
    # The test waits for a word about the restart: a run that stopped earlier needs none.
    if not any(step["name"].startswith("after the server restarts") for step in report["steps"]):
        print("restart: not needed (a scenario failed)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    configure(sys.argv)
    run(main, on_failure=restart_not_needed)
