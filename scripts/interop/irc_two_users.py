#!/usr/bin/env python3
"""Two users of the `irc` library (PyPI, jaraco) against an IRC server on 127.0.0.1:PORT.

Drives registration, the lobby, a private message, AWAY, MONITOR and a CTCP DCC offer, and prints
one JSON object of what each user saw. TinCanCLITests' ChatInteropTests runs it against
`tincan chat serve` and checks every field.

    irc_two_users.py PORT
"""
import json
import sys
import time

import irc.client

port = int(sys.argv[1])
seen = {"alice": [], "bob": []}
state = {"step": 0}

reactor = irc.client.Reactor()


def record(name):
    def handler(connection, event):
        seen[name].append({
            "type": event.type,
            "source": str(event.source) if event.source else None,
            "target": event.target,
            "arguments": list(event.arguments),
        })
    return handler


# alice first, in the lobby before bob comes, so that she sees him join (connected together, the
# server may let bob in first on a busy machine).
bob = None
alice = reactor.server().connect("127.0.0.1", port, "alice", username="alice", ircname="Alice A")
reactor.add_global_handler("all_events", lambda c, e: record("alice" if c is alice else "bob")(c, e), -10)


def types(name):
    return [event["type"] for event in seen[name]]


def wait(condition, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        reactor.process_once(0.05)
        if condition():
            return True
    return False


ok = wait(lambda: any(e["type"] == "join" and e["source"].startswith("alice!") for e in seen["alice"]))
bob = reactor.server().connect("127.0.0.1", port, "bob", username="bob", ircname="Bob B")
ok = ok and wait(lambda: "welcome" in types("bob"))
ok = ok and wait(lambda: any(e["type"] == "join" and e["source"].startswith("bob!") for e in seen["alice"]))
alice.privmsg("#lobby", "hello lobby")
ok = ok and wait(lambda: "pubmsg" in types("bob"))
alice.privmsg("bob", "just for bob")
ok = ok and wait(lambda: "privmsg" in types("bob"))
bob.send_raw("AWAY :gone fishing")
ok = ok and wait(lambda: "nowaway" in types("bob"))
alice.privmsg("bob", "are you there?")
ok = ok and wait(lambda: "away" in types("alice"))
alice.send_raw("MONITOR + bob")
ok = ok and wait(lambda: "730" in types("alice"))
alice.ctcp("DCC", "bob", "SEND notes.txt 2130706433 5000 12")
ok = ok and wait(lambda: "ctcp" in types("bob"))
bob.quit("bye")
ok = ok and wait(lambda: "731" in types("alice"))
alice.quit("done")
wait(lambda: False, 0.3)
print(json.dumps({"completed": ok, "alice": seen["alice"], "bob": seen["bob"]}))
