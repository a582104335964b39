#!/usr/bin/env python3
"""Offline messages benchmark: tincan chat serve on a SQLite file over loopback.

One logged-in sender leaves MESSAGES private messages (default 100,000) for ACCOUNTS offline
accounts (default 1,000): the first account gets a full box (1,000), the rest share the others.
Reported:
  - messages stored per second: from the first PRIVMSG sent to the server's last acknowledgement
    ("... will be delivered when they next log in", sent only once the message is committed);
  - the time to deliver a full box: from the first account's login (SASL sent) to the last of
    its 1,000 messages;
  - the time for every other account to log in and get its box, all connecting at once;
  - the database's size (file and write-ahead log).
Every account has the same password, hashed once by `tincan chat user add` and copied (the
benchmark is about messages, not password hashing).

Run: swift build -c release --product tincan && Benchmarks/chat/offline.py
     MESSAGES=20000 ACCOUNTS=200 Benchmarks/chat/offline.py
"""
import base64
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINCAN = os.environ.get("TINCAN", os.path.join(ROOT, ".build", "release", "tincan"))
MESSAGES = int(os.environ.get("MESSAGES", "100000"))
ACCOUNTS = int(os.environ.get("ACCOUNTS", "1000"))
BOX = 1000
PASSWORD = "benchmark-password"


class Client:
    """A line-oriented IRC client on a blocking socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def lines(self):
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\r\n")
            for line in complete:
                yield line.decode("utf-8", "replace")

    def log_in(self, nick):
        plain = base64.b64encode(f"\0{nick}\0{PASSWORD}".encode()).decode()
        self.send(f"CAP REQ :sasl\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nAUTHENTICATE PLAIN\r\n"
                  f"AUTHENTICATE {plain}\r\nCAP END\r\n")


def until(client, predicate):
    for line in client.lines():
        if predicate(line):
            return line
    raise SystemExit("connection closed")


def main():
    if not os.access(TINCAN, os.X_OK):
        raise SystemExit(f"no {TINCAN}: run 'swift build -c release --product tincan' first")
    work = tempfile.mkdtemp(prefix="tincan-offline-")
    database = os.path.join(work, "chat.sqlite")
    server = None
    try:
        add = subprocess.run([TINCAN, "chat", "user", "add", "--db", database, "a0"], input=PASSWORD + "\n",
                             text=True, capture_output=True)
        if add.returncode != 0:
            raise SystemExit(f"chat user add: {add.stderr.strip()}")
        # Every other account: the same row under another name (one hash for all).
        db = sqlite3.connect(database)
        columns = [row[1] for row in db.execute("PRAGMA table_info(account)")]
        row = dict(zip(columns, db.execute("SELECT * FROM account").fetchone()))
        names = [f"a{i}" for i in range(1, ACCOUNTS)] + ["sender"]
        for name in names:
            values = dict(row)
            for key in columns:
                if values[key] == "a0":
                    values[key] = name
            values.pop("id", None)
            db.execute(f"INSERT INTO account ({','.join(values)}) VALUES ({','.join('?' * len(values))})",
                       list(values.values()))
        db.commit()
        db.close()

        server = subprocess.Popen([TINCAN, "chat", "serve", "--host", "127.0.0.1", "--port", "0", "--db", database,
                                   "--no-flood-limit", "--max-clients-per-address", "100000", "--ping-interval", "600"],
                                  stderr=subprocess.PIPE, text=True)
        port = None
        for line in server.stderr:
            if "listening on " in line:
                port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                break
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()

        sender = Client(port)
        sender.log_in("sender")
        until(sender, lambda line: " 366 sender " in line)
        targets = ["a0"] * min(BOX, MESSAGES) + [f"a{1 + i % (ACCOUNTS - 1)}" for i in range(max(0, MESSAGES - BOX))]
        start = time.monotonic()
        payload = "".join(f"PRIVMSG {target} :offline message {i} for {target}\r\n" for i, target in enumerate(targets))
        threading.Thread(target=lambda: sender.send(payload), daemon=True).start()
        acknowledged = 0
        refused = 0
        for line in sender.lines():
            if "will be delivered when they next log in" in line:
                acknowledged += 1
            elif " FAIL " in line or " 401 " in line:
                refused += 1
            if acknowledged + refused == len(targets):
                break
        stored_seconds = time.monotonic() - start

        first = Client(port)
        start = time.monotonic()
        first.log_in("a0")
        got = 0
        for line in first.lines():
            if " PRIVMSG a0 :" in line:
                got += 1
                if got == min(BOX, MESSAGES):
                    break
        box_seconds = time.monotonic() - start

        start = time.monotonic()
        others = []
        expected = {}
        for i in range(1, ACCOUNTS):
            client = Client(port)
            client.log_in(f"a{i}")
            others.append((f"a{i}", client))
        for name in targets[BOX:]:
            expected[name] = expected.get(name, 0) + 1
        delivered = 0
        for name, client in others:
            want = expected.get(name, 0)
            count = 0
            if want:
                for line in client.lines():
                    if f" PRIVMSG {name} :" in line:
                        count += 1
                        if count == want:
                            break
            delivered += count
        rest_seconds = time.monotonic() - start
        size = sum(os.path.getsize(os.path.join(work, f)) for f in os.listdir(work) if f.startswith("chat.sqlite"))

        print(f"Offline messages: {len(targets)} from one sender to {ACCOUNTS} offline accounts "
              f"(tincan chat serve, SQLite in WAL mode with synchronous FULL)")
        print()
        print("| measure | value |")
        print("|---|---:|")
        print(f"| messages stored (acknowledged to the sender) | {acknowledged} ({refused} refused) |")
        print(f"| stored per second | {acknowledged / stored_seconds:,.0f} |")
        print(f"| a full box of {min(BOX, MESSAGES)} delivered at login | {box_seconds * 1000:,.0f} ms |")
        print(f"| the other {ACCOUNTS - 1} accounts logging in at once, {delivered} messages | {rest_seconds:,.2f} s |")
        print(f"| database size (file and WAL) | {size / (1 << 20):,.1f} MiB ({size / max(1, acknowledged):,.0f} bytes a message) |")
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
