#!/usr/bin/python3
"""Reporters' outbox end to end: a burst of build events fanned out to HTTP
reporters (build/herald_outbox_burst: the real feed, SQLite outbox, and HTTP
over Boost.Beast on the Asio loop) delivered to a receiver in this process's
child.

    /usr/bin/python3 bench/e2e/outbox_burst.py [--events 10000] [--reporters 3] [--receiver-nice 10] [--probe-ms 1]
        [--receiver threads|asyncio]

--receiver asyncio answers on one thread (asyncio) instead of a thread per
connection (http.server's ThreadingHTTPServer, the default and the benchmark
of record). A request to an idle thread makes the sender's send() wake that
thread, on this machine and on herald's CPU time; a remote receiver costs no
such wake-up here. With one busy thread there are fewer to wake.

--probe-ms 0 turns off the loop's stall probe (a ticker): waking an idle loop
1,000 times a second costs about 3 µs per delivery on the 2-core VM, which is
the probe's CPU, not herald's. BENCHMARKS.md takes CPU per delivery from runs
without the probe and stalls from runs with it.

Prints the driver's JSON line plus the receiver's count, its CPU per request
(receiver_cpu_us_per_request), and the share of one core the receiver and
herald's loop each used while the deliveries ran (receiver_busy, loop_busy):
which side limits the rate."""

import argparse
import asyncio
import http.server
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.server.counter.value += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(port, counter, ready, nice=0):
    if nice:
        os.nice(nice)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.counter = counter
    ready.set()
    server.serve_forever()


async def answer(reader, writer, counter):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            counter.value += 1
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_asyncio(port, counter, ready, nice=0):
    if nice:
        os.nice(nice)

    async def run():
        server = await asyncio.start_server(lambda r, w: answer(r, w, counter), "127.0.0.1", port)
        ready.set()
        await server.serve_forever()

    asyncio.run(run())


def process_cpu_s(pid):
    """A process's user plus system CPU, all of its threads, past and present."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--reporters", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "herald_outbox_burst"))
    ap.add_argument("--receiver-nice", type=int, default=0,
                    help="run the receiver at a lower priority: it stands for a remote server, "
                         "and on a 2-core machine it competes with herald for CPU")
    ap.add_argument("--receiver", choices=("threads", "asyncio"), default="threads",
                    help="a thread per connection (the default), or one asyncio thread")
    ap.add_argument("--probe-ms", type=int, default=1,
                    help="the stall probe's period in ms; 0 turns it off (CPU is then herald's alone)")
    args = ap.parse_args()

    port = free_port()
    counter = multiprocessing.Value("q", 0, lock=False)
    ready = multiprocessing.Event()
    receiver = multiprocessing.Process(target=serve if args.receiver == "threads" else serve_asyncio,
                                       args=(port, counter, ready, args.receiver_nice), daemon=True)
    receiver.start()
    ready.wait(10)
    receiver_cpu0 = process_cpu_s(receiver.pid)
    with tempfile.TemporaryDirectory(prefix="herald-burst-") as tmp:
        out = subprocess.run([args.binary, f"http://127.0.0.1:{port}", str(args.events), str(args.reporters), tmp,
                              str(args.probe_ms)],
                             capture_output=True, text=True)
    receiver_cpu = process_cpu_s(receiver.pid) - receiver_cpu0
    receiver.terminate()
    sys.stderr.write(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["receiver_requests"] = counter.value
    # Which side limits the rate: the share of one core each used while the
    # deliveries ran (the receiver's includes the driver's start and end).
    if counter.value and result.get("wall_s"):
        result["receiver_cpu_us_per_request"] = receiver_cpu * 1e6 / counter.value
        result["receiver_busy"] = receiver_cpu / result["wall_s"]
        result["loop_busy"] = result["loop_cpu_us_per_delivery"] * result["deliveries"] / 1e6 / result["wall_s"]
    print(json.dumps(result))
    return out.returncode


if __name__ == "__main__":
    sys.exit(main())
