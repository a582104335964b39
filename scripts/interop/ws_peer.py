#!/usr/bin/env python3
"""A WebSocket client (PyPI websockets) that the chat tests drive line by line.

usage: ws_peer.py URL [--protocol NAME]... [--origin ORIGIN]

Standard input, one JSON object a line: {"text": "..."} sends a text frame, {"binary": "HEX"}
a binary frame, {"text_bytes": "HEX"} a text frame of those bytes (UTF-8 or not), {"close": true}
closes. Standard output, one JSON object a line: {"open": SUBPROTOCOL or null}, then
{"text": "..."} or {"binary": "HEX"} for each message, and last {"closed": CODE} (or
{"refused": STATUS} when the handshake was answered with an HTTP status).
"""
import argparse
import asyncio
import json
import os
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus


def emit(event):
    print(json.dumps(event), flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--protocol", action="append", default=[])
    parser.add_argument("--origin")
    args = parser.parse_args()
    try:
        ws = await websockets.connect(
            args.url,
            subprotocols=args.protocol or None,
            origin=args.origin,
            max_size=None,
            ping_interval=None,
        )
    except InvalidStatus as error:
        emit({"refused": error.response.status_code})
        return

    emit({"open": ws.subprotocol})
    loop = asyncio.get_running_loop()

    async def send_stdin():
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                await ws.close()
                return
            command = json.loads(line)
            if "text" in command:
                await ws.send(command["text"])
            elif "binary" in command:
                await ws.send(bytes.fromhex(command["binary"]))
            elif "text_bytes" in command:
                await ws.send(bytes.fromhex(command["text_bytes"]), text=True)
            elif command.get("close"):
                await ws.close()
                return

    sender = asyncio.create_task(send_stdin())
    try:
        async for message in ws:
            if isinstance(message, str):
                emit({"text": message})
            else:
                emit({"binary": message.hex()})
    except ConnectionClosed:
        pass
    code = ws.close_code
    emit({"closed": code})
    # The thread reading standard input cannot be stopped; the test is done with us.
    os._exit(0)


asyncio.run(main())
