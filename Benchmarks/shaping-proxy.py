#!/usr/bin/env python3
"""A TCP proxy that shapes traffic like a network region, for the object-storage benchmark.

    python3 Benchmarks/shaping-proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT RTT_MS RATE_MB_S STATS_FILE

Every connection accepted on 127.0.0.1:LISTEN_PORT is forwarded to TARGET, with
  - RTT_MS / 2 of delay in each direction (and one RTT before the first byte reaches the server,
    the TCP handshake a real connection pays),
  - a bandwidth cap of RATE_MB_S megabytes per second per connection and direction (0: none),
    modelled as a link that serialises each chunk after the previous one.
Used where `tc netem` is not available (no sch_netem in the kernel, or no CAP_NET_ADMIN).

It counts what passes: on SIGUSR1 it writes one line "requests connections bytes_down bytes_up"
to STATS_FILE (requests are HTTP request lines seen from the client; bytes_down is what the server
sent) and resets the counters, so a benchmark reads the traffic of each timed command.
"""
import asyncio
import re
import signal
import sys
import time

listen_port = int(sys.argv[1])
target_host, target_port = sys.argv[2].rsplit(":", 1)
one_way = float(sys.argv[3]) / 2000.0
rate = float(sys.argv[4]) * 1e6
stats_file = sys.argv[5]
REQUEST = re.compile(rb"(?:GET|HEAD|PUT|POST|DELETE) [^ \r\n]+ HTTP/1\.[01]\r\n")
stats = {"requests": 0, "connections": 0, "down": 0, "up": 0}


def dump(*_):
    with open(stats_file + ".tmp", "w") as f:
        f.write("%d %d %d %d\n" % (stats["requests"], stats["connections"], stats["down"], stats["up"]))
    import os

    os.replace(stats_file + ".tmp", stats_file)
    for k in stats:
        stats[k] = 0


async def pump(reader, writer, direction, not_before):
    """Copies reader to writer, each chunk delivered one-way later and no faster than `rate`."""
    queue = asyncio.Queue(maxsize=32)  # at most ~8 MB held per direction

    async def read():
        while True:
            data = await reader.read(256 * 1024)
            await queue.put((time.monotonic(), data))
            if not data:
                return
            if direction == "up":
                stats["requests"] += len(REQUEST.findall(data))
            stats[direction] += len(data)

    async def write():
        link_free = not_before
        while True:
            arrived, data = await queue.get()
            if not data:
                break
            due = max(arrived + one_way, link_free if rate else 0, not_before)
            if rate:
                link_free = max(arrived, link_free) + len(data) / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    reading = asyncio.ensure_future(read())
    try:
        await write()
    finally:
        reading.cancel()


async def handle(client_reader, client_writer):
    stats["connections"] += 1
    handshake_done = time.monotonic() + 2 * one_way
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, int(target_port))
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            pump(client_reader, server_writer, "up", handshake_done),
            pump(server_reader, client_writer, "down", 0),
        )
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        for w in (client_writer, server_writer):
            try:
                w.close()
            except OSError:
                pass


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, dump)
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
