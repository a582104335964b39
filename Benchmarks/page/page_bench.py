#!/usr/bin/env python3
"""The chat page's speed in headless Chromium (Debian's chromium, chromium-driver, selenium), for
Benchmarks/page/run.sh, which starts the servers and calls this with one of:

  page_bench.py fill PORT COUNT DB       COUNT messages to the lobby from four plain IRC clients,
                                         until the server has stored them all in DB (its SQLite file)
  page_bench.py hold PORT COUNT READY    COUNT plain IRC clients in the lobby (m0, m1, ...), read and
                                         dropped; READY (a file) is written once every one is in
  page_bench.py measure --scenario empty|history ...
                                         one round against a running server; prints one line of
                                         key=value pairs (times in ms, heap in MiB)

Every time is taken in the page, with performance.now(): a script that Chromium runs in every new
document before the page's own (CDP Page.addScriptToEvaluateOnNewDocument) wraps WebSocket, so
that a listener of its own hears each line before the page does, and watches the DOM with a
MutationObserver. Selenium only starts things and polls for the results afterwards: its round
trips are in no figure.

  open: navigation start (performance.now() = 0) to the lobby shown: the conversation list has
        #lobby, the composer is visible, the member list has its rows (every member, or, when the
        page draws only some rows of a long list, some rows and the store holding every member),
        the latest history message is drawn, and a frame has been painted after it. The login form
        is filled and submitted by that script as soon as it is there (no typing).
  burst: the first burst message's arrival on the WebSocket to the last one's [data-test=message]
        in the DOM and a frame painted after it (requestAnimationFrame, then a task posted from it,
        which runs after that frame). Only the newest messages' rows are looked at, so a windowed
        list that draws what is on screen counts the same as one that draws everything.
  history: from the first `client.requestHistory('#lobby', 'BEFORE')` to HISTORY messages received
        and drawn, asking again as soon as each batch has been handled.
"""
import argparse
import base64
import json
import os
import selectors
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time

WORDS = ("the lobby was quiet until someone mentioned the build again, and then everyone had an opinion about "
         "caching, flaky tests, coffee, the weather in three cities and whether tabs are better than spaces").split()
LINK_EVERY = 10


def text(tag, index):
    """A lobby line of 5 to 24 words, tagged [tag-index]; every tenth carries a link."""
    count = 5 + (index * 7) % 20
    words = [WORDS[(index + k * 3) % len(WORDS)] for k in range(count)]
    if index % LINK_EVERY == 0:
        words.insert(count // 2, f"https://example.org/notes/{index}")
    return f"[{tag}-{index}] " + " ".join(words)


class Raw:
    """A plain IRC client on a blocking socket; reads and drops what comes once it is in."""

    def __init__(self, port, nick, password=None):
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"
        if password:
            plain = base64.b64encode(f"\0{nick}\0{password}".encode()).decode()
            hello = f"CAP REQ :sasl\r\n{hello}AUTHENTICATE PLAIN\r\nAUTHENTICATE {plain}\r\nCAP END\r\n"
        self.sock.sendall(hello.encode())
        tail = b""
        deadline = time.monotonic() + 60
        self.sock.settimeout(60)
        while b" 366 " not in tail:
            chunk = self.sock.recv(65536)
            if not chunk or time.monotonic() > deadline:
                raise SystemExit(f"{nick}: not in the lobby: {tail[-300:]!r}")
            tail = tail[-512:] + chunk
        self.sock.settimeout(None)
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self):
        try:
            while self.sock.recv(1 << 16):
                pass
        except OSError:
            pass

    def send(self, lines):
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def close(self):
        try:
            self.sock.sendall(b"QUIT :done\r\n")
            self.sock.close()
        except OSError:
            pass


# MARK: fill and hold


def fill(port, count, database):
    clients = [Raw(port, f"filler{k}") for k in range(4)]
    # Stored after delivery, by the server's store writer: wait for the rows.
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)

    def stored(want):
        deadline = time.monotonic() + 300
        while True:
            rows = db.execute("SELECT COUNT(*) FROM message WHERE text LIKE '[h-%'").fetchone()[0]
            if rows >= want:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"fill: {rows} of {want} stored after 300 s")
            time.sleep(0.2)

    for start in range(0, count - 1, 500):
        for k, client in enumerate(clients):
            client.send([f"PRIVMSG #lobby :{text('h', i)}"
                         for i in range(start, min(count - 1, start + 500)) if i % 4 == k])
    stored(count - 1)
    # The newest is the last: the page is done drawing its latest history when this one is there.
    clients[0].send([f"PRIVMSG #lobby :{text('h', count - 1)}"])
    stored(count)
    for client in clients:
        client.close()


def hold(port, count, ready):
    selector = selectors.DefaultSelector()
    waiting = set()

    def sweep(timeout):
        for key, _ in selector.select(timeout):
            sock, state = key.fileobj, key.data
            try:
                chunk = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            if not chunk:
                raise SystemExit(f"hold: the server closed {state['nick']}")
            if state["nick"] in waiting:
                state["tail"] = state["tail"][-512:] + chunk
                if b" 366 " in state["tail"]:
                    waiting.discard(state["nick"])
                    state["tail"] = b""
            if b"PING " in chunk:
                # A PING split across two reads is missed; the server runs with --ping-interval 600.
                for line in chunk.split(b"\r\n"):
                    if line.startswith(b"PING "):
                        sock.send(b"PONG " + line[5:] + b"\r\n")

    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        nick = f"m{i}"
        sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        sock.setblocking(False)
        waiting.add(nick)
        selector.register(sock, selectors.EVENT_READ, {"nick": nick, "tail": b""})
        # Each arrival's JOIN goes to everyone in a loud lobby: keep reading while connecting.
        if i % 20 == 19:
            sweep(0)
    deadline = time.monotonic() + 300
    while waiting:
        if time.monotonic() > deadline:
            raise SystemExit(f"hold: {len(waiting)} of {count} not in the lobby after 300 s")
        sweep(0.5)
    with open(ready, "w") as file:
        file.write(f"{count}\n")
    while True:
        sweep(None)


# MARK: the browser

INSTRUMENT = r"""
(() => {
    const config = __CONFIG__;
    const bench = window.__bench = {
        config, lines: 0, historyLines: 0, batchEnds: 0, waiters: [], marks: {}, burst: null,
    };
    bench.errors = [];
    window.addEventListener('error', (event) => bench.errors.push(String(event.message)));
    window.addEventListener('unhandledrejection', (event) => bench.errors.push(String(event.reason)));
    const mark = (name) => { if (!(name in bench.marks)) bench.marks[name] = performance.now(); };
    // After the next frame: requestAnimationFrame runs before it is painted, a task posted from
    // there runs after.
    bench.afterPaint = () => new Promise((resolve) => requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => resolve(performance.now());
        channel.port2.postMessage(0);
    }));
    bench.nextBatch = () => new Promise((resolve) => bench.waiters.push(resolve));

    function tap(line) {
        bench.lines++;
        const now = performance.now();
        if (line.includes(' PRIVMSG ')) {
            const burst = bench.burst;
            if (burst) {
                if (burst.first === null && line.includes(burst.firstText)) burst.first = now;
                if (line.includes(burst.tag)) { burst.arrived++; burst.lastArrival = now; }
            }
            if (/^@\S*batch=/.test(line)) bench.historyLines++;
        } else if (/^(@\S+ )?:\S+ 001 /.test(line)) mark('welcome');
        else if (/^(@\S+ )?:\S+ 366 /.test(line)) mark('names');
        else if (/^(@\S+ )?:\S+ BATCH -/.test(line)) {
            bench.batchEnds++;
            const waiters = bench.waiters;
            bench.waiters = [];
            for (const resolve of waiters) resolve();
        }
    }
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            // Added before the page's own listener: it hears each line first.
            this.addEventListener('message', (event) => {
                if (typeof event.data !== 'string') return;
                for (const line of event.data.split(/\r?\n/)) if (line) tap(line);
            });
        }
    };

    function lastRows(selector, count) {
        const rows = document.querySelectorAll(selector);
        return Array.prototype.slice.call(rows, Math.max(0, rows.length - count));
    }
    bench.drawn = (marker) => lastRows('[data-test=message]', 8).some((row) => row.textContent.includes(marker));

    function storeMembers() {
        try {
            const buffer = window.tincan.store.state.buffers.get(config.lobby.toLowerCase());
            return buffer && buffer.members ? buffer.members.size : null;
        } catch (error) {
            return null;
        }
    }

    function lobbyShown() {
        const composer = document.querySelector('[data-test=composer]');
        if (!composer || composer.getClientRects().length === 0) return false;
        if (!document.querySelector(`[data-test=buffer][data-name="${config.lobby}"]`)) return false;
        if (config.lastHistory && !bench.drawn(config.lastHistory)) return false;
        const rows = document.querySelectorAll('[data-test=member]').length;
        bench.memberRows = rows;
        if (rows >= config.members) return true;
        const known = storeMembers();
        bench.storeMembers = known;
        return rows > 0 && known !== null && known >= config.members;
    }

    function watchLobby() {
        let done = false;
        const check = () => {
            if (done || !lobbyShown()) return;
            done = true;
            mark('lobbyDrawn');
            observer.disconnect();
            clearInterval(timer);
            bench.afterPaint().then((time) => { bench.marks.lobbyPainted = time; });
        };
        const observer = new MutationObserver(check);
        observer.observe(document.documentElement,
            { childList: true, subtree: true, attributes: true, attributeFilter: ['hidden', 'class', 'style'] });
        // The store may learn the last members without a change to the DOM.
        const timer = setInterval(check, 50);
    }

    function logIn() {
        const nick = document.querySelector('[data-test=login-nick]');
        const password = document.querySelector('[data-test=login-password]');
        const submit = document.querySelector('[data-test=login-submit]');
        if (!nick || !password || !submit || (!window.tincan && performance.now() < 2000)) {
            setTimeout(logIn, 1);
            return;
        }
        mark('formReady');
        nick.value = config.nick;
        password.value = config.password;
        for (const field of [nick, password]) field.dispatchEvent(new Event('input', { bubbles: true }));
        watchLobby();
        submit.click();
        mark('submitted');
    }
    if (config.login) document.addEventListener('DOMContentLoaded', logIn);

    // The burst: from the first message's arrival to the last one's row drawn and painted.
    bench.startBurst = (tag, count) => {
        const burst = bench.burst = { tag: `[${tag}-`, firstText: `[${tag}-0]`, lastText: `[${tag}-${count - 1}]`,
            first: null, lastArrival: null, arrived: 0, drawn: null, painted: null };
        const observer = new MutationObserver(() => {
            if (burst.drawn !== null || burst.first === null || !bench.drawn(burst.lastText)) return;
            burst.drawn = performance.now();
            observer.disconnect();
            bench.afterPaint().then((time) => { burst.painted = time; });
        });
        observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    };

    // Older history, a batch at a time, until `want` history lines have come and been drawn.
    bench.loadHistory = async (target, want) => {
        const run = bench.history = { start: performance.now(), requests: 0, done: null, painted: null, error: null };
        const messages = () => document.querySelector('[data-test=messages]');
        try {
            while (bench.historyLines < want) {
                const batch = bench.nextBatch();
                if (window.tincan && window.tincan.client && window.tincan.client.requestHistory) {
                    window.tincan.client.requestHistory(target, 'BEFORE');
                } else {
                    messages().scrollTop = 0;
                    messages().dispatchEvent(new Event('scroll'));
                }
                run.requests++;
                const timedOut = await Promise.race([batch.then(() => false),
                    new Promise((resolve) => setTimeout(() => resolve(true), 30000))]);
                if (timedOut) {
                    throw new Error(`no history batch 30 s after request ${run.requests}: ${bench.historyLines} lines`);
                }
                // The page handles the batch's end in the same task as this listener, after it.
                await new Promise((resolve) => setTimeout(resolve, 0));
            }
            run.done = performance.now();
            run.painted = await bench.afterPaint();
        } catch (error) {
            run.error = String(error);
        }
    };
})();
"""


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no chromium on PATH (Debian package chromium)")


class Browser:
    def __init__(self, work, config):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = chromium_binary()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                         "--disable-extensions", "--window-size=1280,800", "--enable-precise-memory-info",
                         f"--user-data-dir={tempfile.mkdtemp(prefix='profile-', dir=work)}"):
            options.add_argument(argument)
        driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        self.driver.set_window_size(1280, 800)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": INSTRUMENT.replace("__CONFIG__", json.dumps(config))})
        self.driver.execute_cdp_cmd("Performance.enable", {})

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def until(self, script, what, limit):
        """Polls script (every 50 ms) until it returns something truthy."""
        deadline = time.monotonic() + limit
        while True:
            value = self.js(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {limit} s")
            time.sleep(0.05)

    def metrics(self):
        return {m["name"]: m["value"] for m in self.driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}

    def heap_mib(self):
        """The JS heap in use after a full collection, and the page's element count."""
        self.driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
        used, nodes = self.js("return [performance.memory.usedJSHeapSize, document.getElementsByTagName('*').length]")
        return used / (1 << 20), nodes

    def quit(self):
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass


def settle(seconds=1.0):
    time.sleep(seconds)


def report_profile(what, profile, top=15):
    """The functions with the most self time in a CDP CPU profile, on stderr (PROFILE=1)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    self_us = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[node_id]["callFrame"]
        where = f"{frame['functionName'] or '(anonymous)'} {os.path.basename(frame['url'])}:{frame['lineNumber'] + 1}" \
            if frame["url"] else frame["functionName"]
        self_us[where] = self_us.get(where, 0) + delta
    total = sum(self_us.values()) or 1
    print(f"CPU profile of the page's main thread, {what}: {total / 1000:.0f} ms sampled, self time", file=sys.stderr)
    for where, spent in sorted(self_us.items(), key=lambda item: -item[1])[:top]:
        print(f"  {spent / 1000:8.1f} ms {100 * spent / total:5.1f} %  {where}", file=sys.stderr)


def burst(browser, sender, tag, count, limit):
    """Sends COUNT messages to the lobby at once; returns the page's timings in ms."""
    browser.js("document.querySelectorAll('[data-test=messages]').forEach((m) => { m.scrollTop = m.scrollHeight; })")
    settle(0.5)
    browser.js("window.__bench.startBurst(arguments[0], arguments[1])", tag, count)
    profiling = os.environ.get("PROFILE") == "1"
    if profiling:
        browser.driver.execute_cdp_cmd("Profiler.enable", {})
        browser.driver.execute_cdp_cmd("Profiler.setSamplingInterval", {"interval": 200})
        browser.driver.execute_cdp_cmd("Profiler.start", {})
    before = browser.metrics()
    sender.send([f"PRIVMSG #lobby :{text(tag, i)}" for i in range(count)])
    try:
        result = browser.until("const b = window.__bench.burst; return b.painted !== null && b", f"burst {tag}", limit)
    except TimeoutError:
        state = browser.js("return window.__bench.burst")
        raise SystemExit(f"burst {tag}: not drawn after {limit} s: {state}")
    after = browser.metrics()
    if profiling:
        report_profile(f"burst {tag}", browser.driver.execute_cdp_cmd("Profiler.stop", {})["profile"])
    spent = {key: (after.get(key, 0) - before.get(key, 0)) * 1000 for key in
             ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")}
    return {
        "ms": result["painted"] - result["first"],
        "tail_ms": result["painted"] - result["lastArrival"],
        "arrival_ms": result["lastArrival"] - result["first"],
        "script_ms": spent["ScriptDuration"],
        "layout_ms": spent["LayoutDuration"],
        "style_ms": spent["RecalcStyleDuration"],
        "layouts": after.get("LayoutCount", 0) - before.get("LayoutCount", 0),
    }


def open_lobby(browser, url, limit):
    """Navigates to the page (the injected script logs in); returns its marks once painted."""
    browser.driver.get(url)
    try:
        marks = browser.until("const m = window.__bench && window.__bench.marks; if (m && m.lobbyPainted) return m; "
                              "const e = document.querySelector('[data-test=login-error]'); "
                              "return e && !e.hidden && e.textContent && {error: e.textContent}", "the lobby", limit)
    except TimeoutError:
        state = browser.js("""
            const b = window.__bench;
            const c = document.querySelector('[data-test=composer]');
            const rows = [...document.querySelectorAll('[data-test=message]')].slice(-3).map((r) => r.textContent);
            return b && {errors: b.errors, marks: b.marks, memberRows: b.memberRows, storeMembers: b.storeMembers,
                composer: c && c.getClientRects().length, messages: rows,
                lobby: !!document.querySelector('[data-test=buffer][data-name="#lobby"]'),
                members: document.querySelectorAll('[data-test=member]').length};""")
        raise SystemExit(f"the lobby was not shown after {limit} s: {state}")
    if "error" in marks:
        raise SystemExit(f"the page did not log in: {marks['error']}")
    rows = browser.js("return document.querySelectorAll('[data-test=member]').length")
    return marks, rows


def measure(args):
    work = tempfile.mkdtemp(prefix="tincan-page-bench-")
    browsers = []
    out = {}
    page_url = f"http://127.0.0.1:{args.http_port}/"
    base = {"lobby": "#lobby", "members": args.members, "nick": args.viewer, "password": args.password}
    sender = Raw(args.irc_port, "sender")
    try:
        if args.scenario == "empty":
            page = Browser(work, dict(base, login=True, lastHistory=None))
            browsers.append(page)
            marks, rows = open_lobby(page, page_url, args.limit)
            out["open_empty_ms"] = marks["lobbyPainted"]
            out["member_rows"] = rows
            settle()
            for key, value in burst(page, sender, "e", args.burst, args.limit).items():
                out[f"burst_{key}"] = value
            page.quit()
            browsers.remove(page)
            settle()

            floor = Browser(work, dict(base, login=False, lastHistory=None))
            browsers.append(floor)
            floor.driver.get(f"{args.floor_url}?ws=ws://127.0.0.1:{args.http_port}/socket&nick={args.floor_nick}"
                             f"&password={args.password}")
            floor.until("return window.floor && window.floor.inLobby", "the floor in the lobby", args.limit)
            out["floor_open_ms"] = floor.js("return window.__bench.marks.names")
            settle()
            for key, value in burst(floor, sender, "fe", args.burst, args.limit).items():
                out[f"floor_burst_{key}"] = value
            # As many rows as the page will hold after loading its history, then the same burst.
            prefill = args.history - args.burst
            for start in range(0, prefill, 1000):
                sender.send([f"PRIVMSG #lobby :{text('p', i)}" for i in range(start, min(prefill, start + 1000))])
            floor.until(f"return window.floor.messages >= {args.history}", "the floor's prefill", args.limit)
            settle()
            for key, value in burst(floor, sender, "ff", args.burst, args.limit).items():
                out[f"floor_full_{key}"] = value
            out["floor_heap_mib"], out["floor_nodes"] = floor.heap_mib()
        else:
            page = Browser(work, dict(base, login=True, lastHistory=f"[h-{args.history - 1}]"))
            browsers.append(page)
            marks, rows = open_lobby(page, page_url, args.limit)
            out["open_ms"] = marks["lobbyPainted"]
            out["open_form_ms"] = marks.get("formReady", 0)
            out["open_login_ms"] = marks.get("welcome", 0) - marks.get("submitted", 0)
            out["open_after_welcome_ms"] = marks["lobbyPainted"] - marks.get("welcome", 0)
            out["member_rows"] = rows
            settle()
            profiling = os.environ.get("PROFILE") == "1"
            if profiling:
                page.driver.execute_cdp_cmd("Profiler.enable", {})
                page.driver.execute_cdp_cmd("Profiler.setSamplingInterval", {"interval": 500})
                page.driver.execute_cdp_cmd("Profiler.start", {})
            before = page.metrics()
            page.js("window.__bench.loadHistory(arguments[0], arguments[1])", "#lobby", args.history)
            try:
                run = page.until("const h = window.__bench.history; return h && (h.painted !== null || h.error) && h",
                                 "10,000 messages of history", args.limit)
            except TimeoutError:
                state = page.js("return [window.__bench.history, window.__bench.historyLines]")
                raise SystemExit(f"history: not loaded after {args.limit} s: {state}")
            if profiling:
                report_profile("loading history", page.driver.execute_cdp_cmd("Profiler.stop", {})["profile"])
            if run["error"]:
                raise SystemExit(f"history: {run['error']}")
            after = page.metrics()
            out["history_ms"] = run["painted"] - run["start"]
            out["history_script_ms"] = (after["ScriptDuration"] - before["ScriptDuration"]) * 1000
            out["history_layout_ms"] = (after["LayoutDuration"] - before["LayoutDuration"]) * 1000
            out["history_layouts"] = after["LayoutCount"] - before["LayoutCount"]
            out["history_requests"] = run["requests"]
            out["history_lines"] = page.js("return window.__bench.historyLines")
            out["history_rows"] = page.js("return document.querySelectorAll('[data-test=message]').length")
            out["heap_mib"], out["nodes"] = page.heap_mib()
            settle()
            for key, value in burst(page, sender, "hf", args.burst, args.limit).items():
                out[f"full_{key}"] = value
            out["heap_after_burst_mib"], out["nodes_after_burst"] = page.heap_mib()
    finally:
        for browser in browsers:
            browser.quit()
        sender.close()
        shutil.rmtree(work, ignore_errors=True)
    print(" ".join(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}"
                   for key, value in out.items()))


def main():
    # run.sh stops what it started with SIGTERM: quit the browsers on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) > 1 and sys.argv[1] == "fill":
        fill(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["measure"])
    parser.add_argument("--scenario", choices=["empty", "history"], required=True)
    parser.add_argument("--irc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--floor-url", default="")
    parser.add_argument("--members", type=int, required=True, help="member rows the lobby should show")
    parser.add_argument("--history", type=int, default=10000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--limit", type=float, default=600, help="seconds any one wait may take")
    parser.add_argument("--viewer", default="viewer")
    parser.add_argument("--floor-nick", default="floorviewer")
    parser.add_argument("--password", default="benchmark-password")
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
