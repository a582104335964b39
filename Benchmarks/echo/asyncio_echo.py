#!/usr/bin/env python3
"""asyncio TCP echo server, the Python baseline for Benchmarks/echo/run.sh.

usage: python3 asyncio_echo.py PORT    (binds 127.0.0.1:PORT)

Plain asyncio.start_server with the default event loop (no uvloop): each
connection reads up to 64 KiB, writes it back and waits for the write buffer
to drain before reading again. Backlog 4096, like the C baseline.
"""
import asyncio
import sys


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: asyncio_echo.py PORT")
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
