#!/usr/bin/python3
"""End-to-end benchmark: force -> finished notification latency, herald's CPU
per build, and idle resident memory, with the real binary on a real IRC server.

Usage: bench/e2e/force_to_finished.py [--builds N] [--herald build/herald]
Needs inspircd (apt-get install inspircd). Prints a summary for BENCHMARKS.md.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, fixtures, start_herald, unpaced_config  # noqa: E402
from inspircd import Inspircd  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=200)
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    args = ap.parse_args()

    ircd = Inspircd().start()
    work = fixtures.make_tmpdir("herald-bench-")
    procs = []
    # alice forces in a private message; bob only watches #builds. Each then gets
    # one line per build: two lines back to back to one client stall ~40 ms in
    # the server's socket (Nagle against delayed ACK), which is not herald's time.
    client = fixtures.IrcClient("alice")
    watcher = fixtures.IrcClient("bob")
    try:
        # --- idle memory with the demo config
        demo = open(os.path.join(ROOT, "examples", "demo.toml")).read()
        demo = demo.replace("port = 6667", f"port = {ircd.port}")
        demo = demo.replace('data_dir = "../var/demo"', f'data_dir = "{work}/demo"')
        idle = start_herald(args.herald, demo, work)
        procs.append(idle)
        time.sleep(4)  # registered, joined, idle
        idle_rss = rss_kib(idle.pid)
        idle.terminate()
        idle.wait(10)

        # --- force -> finished latency, pacing relaxed
        text = unpaced_config(ircd.port, os.path.join(work, "var"), notify_events=("finished",))
        h = start_herald(args.herald, text, work)
        procs.append(h)
        client.connect(ircd.port, "alice")
        watcher.connect(ircd.port, "bob")
        watcher.join("#builds")
        watcher.wait_join("herald", "#builds", timeout=20)
        # herald answers once registered; a JOIN or NAMES alone may be the old one's.
        for attempt in range(20):
            since = client.mark()
            client.send_raw("PRIVMSG herald :version", pace=False)
            try:
                client.wait_private(r"^herald ", since=since, timeout=1)
                break
            except AssertionError:
                if attempt == 19:
                    raise
        watcher.pump(1.0)

        def one_build():
            since = watcher.mark()
            t0 = time.perf_counter()
            client.send_raw("PRIVMSG herald :force build true", pace=False)
            watcher.wait_msg(r"completed successfully", since=since, timeout=10)
            elapsed = (time.perf_counter() - t0) * 1000
            client.pump(0)  # drop the private reply
            return elapsed

        for _ in range(10):  # warm-up
            one_build()
        cpu0 = cpu_seconds(h.pid)
        lat = [one_build() for _ in range(args.builds)]
        slow = [(i, round(v)) for i, v in enumerate(lat) if v > 100]
        if slow:
            print("builds over 100 ms (index, ms):", slow)
        cpu1 = cpu_seconds(h.pid)

        # The server's own relay floor: one line from alice to bob, no herald.
        floor = []
        for i in range(200):
            since = watcher.mark()
            t0 = time.perf_counter()
            client.send_raw(f"PRIVMSG bob :floor {i}", pace=False)
            watcher.wait_line(lambda m, i=i: m.command == "PRIVMSG" and m.params[-1] == f"floor {i}",
                              timeout=5, since=since, what="floor line")
            floor.append((time.perf_counter() - t0) * 1000)
        floor.sort()
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        print(f"builds: {args.builds}")
        print(f"force -> finished notification (ms): p50 {p(0.5):.2f}  p90 {p(0.9):.2f}  "
              f"p99 {p(0.99):.2f}  mean {statistics.mean(lat):.2f}  min {lat[0]:.2f}  max {lat[-1]:.2f}")
        print(f"server relay floor, client -> client (ms): p50 {floor[len(floor) // 2]:.2f}")
        print(f"herald CPU per build (ms, own user+sys, children excluded): "
              f"{(cpu1 - cpu0) * 1000 / args.builds:.2f}")
        print(f"idle RSS with examples/demo.toml (MiB): {idle_rss / 1024:.1f}")
    finally:
        client.close()
        watcher.close()
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait(5)
        ircd.stop()
        if not os.environ.get("HERALD_KEEP_TMP"):
            fixtures.remove_tmpdir(work)
        else:
            print("kept", work)


if __name__ == "__main__":
    main()
