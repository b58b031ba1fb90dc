#!/usr/bin/python3
"""End-to-end chat latency through a real IRC server (InspIRCd, flood control off):

1. command -> reply: alice sends `version` to herald privately and times the
   reply; beside it the server's own floor: alice -> bob -> alice, where bob is
   a plain client that echoes (so both paths cross the server twice).
2. notification spread: one build finished, announced to 20 channels; 20
   clients, one per channel, time the first and the last arrival.

Usage: bench/e2e/chat_latency.py [--rounds N] [--herald build/herald]
"""

import argparse
import os
import select
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, fixtures, start_herald, unpaced_config  # noqa: E402
from inspircd import Inspircd  # noqa: E402


class Raw:
    """A lean client: TCP_NODELAY, and TCP_QUICKACK re-armed after each read so
    our own delayed ACKs do not hold the server's next line (see BENCHMARKS.md)."""

    def __init__(self, port, nick):
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        self.wait(lambda line: f" 001 {nick} " in line, 10)

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def lines(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return []
        data = self.sock.recv(65536)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if not data:
            raise ConnectionError("closed")
        self.buf += data
        out = []
        while b"\r\n" in self.buf:
            raw, self.buf = self.buf.split(b"\r\n", 1)
            line = raw.decode("utf-8", "replace")
            if line.startswith("PING"):
                self.send("PONG" + line[4:])
                continue
            out.append(line)
        return out

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines(deadline - time.monotonic()):
                if pred(line):
                    return line
        raise TimeoutError(f"{self.nick}: nothing matched in {timeout} s")


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    args = ap.parse_args()

    ircd = Inspircd().start()
    work = fixtures.make_tmpdir("herald-bench-chat-")
    channels = [f"#c{i}" for i in range(20)]
    herald = None
    try:
        text = unpaced_config(ircd.port, os.path.join(work, "var"), channels=channels,
                              notify_events=("finished",))
        alice = Raw(ircd.port, "alice")
        bob = Raw(ircd.port, "bob")
        watchers = [Raw(ircd.port, f"w{i}") for i in range(len(channels))]
        for w, ch in zip(watchers, channels):
            w.send(f"JOIN {ch}")
            w.wait(lambda line, ch=ch: " 366 " in line and ch in line, 10)
        herald = start_herald(args.herald, text, work)

        # herald is ready once it answers
        for _ in range(40):
            alice.send("PRIVMSG herald :version")
            try:
                alice.wait(lambda line: "PRIVMSG alice :herald " in line, 0.5)
                break
            except TimeoutError:
                pass
        for w, ch in zip(watchers, channels):  # and has joined every channel
            w.wait(lambda line: line.startswith(":herald!") and " JOIN " in line, 10)

        stop = threading.Event()

        def echo():
            while not stop.is_set():
                for line in bob.lines(0.1):
                    if " PRIVMSG bob :" in line:
                        bob.send("PRIVMSG alice :" + line.split(" PRIVMSG bob :", 1)[1])

        t = threading.Thread(target=echo, daemon=True)
        t.start()

        def rtt(target, text, expect):
            t0 = time.perf_counter()
            alice.send(f"PRIVMSG {target} :{text}")
            alice.wait(lambda line: expect in line, 5)
            return (time.perf_counter() - t0) * 1000

        for i in range(50):  # warm-up
            rtt("herald", "version", "PRIVMSG alice :herald ")
            rtt("bob", f"echo {i}", f":echo {i}")
        herald_rtt, floor_rtt = [], []
        for i in range(args.rounds):
            herald_rtt.append(rtt("herald", "version", "PRIVMSG alice :herald "))
            floor_rtt.append(rtt("bob", f"floor {i}", f":floor {i}"))
        stop.set()
        t.join()

        spreads, firsts = [], []
        for n in range(1, 51):
            t0 = time.perf_counter()
            alice.send("PRIVMSG herald :force build true")
            arrivals = {}
            deadline = time.monotonic() + 10
            socks = {w.sock: w for w in watchers}
            while len(arrivals) < len(watchers) and time.monotonic() < deadline:
                ready, _, _ = select.select(list(socks), [], [], 1)
                for s in ready:
                    w = socks[s]
                    for line in w.lines(0):
                        if "completed successfully" in line and w.nick not in arrivals:
                            arrivals[w.nick] = time.perf_counter()
            if len(arrivals) < len(watchers):
                raise TimeoutError(f"build {n}: only {len(arrivals)} of {len(watchers)} channels heard it")
            alice.lines(0)
            firsts.append((min(arrivals.values()) - t0) * 1000)
            spreads.append((max(arrivals.values()) - min(arrivals.values())) * 1000)

        h50, f50 = pct(herald_rtt, 0.5), pct(floor_rtt, 0.5)
        print(f"command -> reply round trip (ms): p50 {h50:.3f}  p90 {pct(herald_rtt, 0.9):.3f}  "
              f"mean {statistics.mean(herald_rtt):.3f}")
        print(f"server floor, alice -> bob (echo) -> alice (ms): p50 {f50:.3f}  p90 {pct(floor_rtt, 0.9):.3f}")
        print(f"herald adds at p50 (ms): {h50 - f50:.3f}")
        print(f"20 channels: force -> first channel (ms) p50 {pct(firsts, 0.5):.2f}; "
              f"first -> last channel (ms) p50 {pct(spreads, 0.5):.3f}  max {max(spreads):.3f}")
    finally:
        if herald and herald.poll() is None:
            herald.kill()
            herald.wait(5)
        ircd.stop()
        fixtures.remove_tmpdir(work)


if __name__ == "__main__":
    main()
