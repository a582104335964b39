#!/usr/bin/env python3
"""Interop: the PyPI irc library logs in with SASL PLAIN and receives an offline message.

alice logs in (SASL) and sends carol, who is offline, a private message; once the server has
said it will be delivered, alice quits and carol logs in (SASL). Prints what each saw as JSON.
Usage: irc_sasl_offline.py PORT
"""
import json
import sys
import time

import irc.client

port = int(sys.argv[1])
seen = {"alice": [], "carol": [], "completed": False}


def record(user):
    def handler(connection, event):
        seen[user].append({"type": event.type, "source": str(event.source), "arguments": list(event.arguments),
                           "tags": event.tags or []})
    return handler


def run_until(reactor, condition, seconds=15):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(json.dumps(seen) + "\ntimed out")
        reactor.process_once(0.05)


reactor = irc.client.Reactor()
alice = reactor.server().connect("127.0.0.1", port, "alice", password="alice-password", sasl_login="alice")
alice.add_global_handler("all_events", record("alice"))
run_until(reactor, lambda: any(e["type"] == "welcome" for e in seen["alice"]))
alice.privmsg("carol", "while you were out")
run_until(reactor, lambda: any(e["type"] == "privnotice" and "will be delivered" in " ".join(e["arguments"]) for e in seen["alice"]))
alice.quit("bye")

reactor2 = irc.client.Reactor()
carol = reactor2.server().connect("127.0.0.1", port, "carol", password="carol-password", sasl_login="carol")
carol.add_global_handler("all_events", record("carol"))
run_until(reactor2, lambda: any(e["type"] == "privmsg" for e in seen["carol"]))
carol.quit("bye")
seen["completed"] = True
print(json.dumps(seen))
