#!/usr/bin/python3
"""Two burst binaries, run alternately, compared pair by pair.

    /usr/bin/python3 bench/e2e/outbox_ab.py OLD NEW [--pairs 20] [--probe-ms 0] [--fast-ms 13.2] [--log runs.jsonl]
        [--receiver threads|asyncio]

This VM's speed swings by a factor of two from one second to the next (see
BENCHMARKS.md), far more than most changes move herald's CPU per delivery.
So a comparison runs the two binaries (builds of build/herald_outbox_burst)
alternately, ABBA, through bench/e2e/outbox_burst.py, and compares each run
with its neighbour. It reports:

- per binary: the median CPU µs per delivery (and the loop thread's) among the
  runs at full speed (the burst's calibration at most --fast-ms; about 11 ms
  is the fastest this VM gets) and among the slower ones, and how many runs
  at full speed were at most 50 µs (the issue's target);
- the paired differences NEW - OLD, for all of herald's CPU per delivery,
  the loop thread's and the SQLite writer's: over all pairs, and over the
  pairs in which both runs were at full speed (the fairer one: in a mixed
  pair the phase of the VM, not the code, decides);
- whether every run delivered everything (none dead, none left in the
  database), and with --probe-ms > 0 the worst stalls.

--log keeps every run's JSON line, for other cuts of the same data."""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def burst(binary, args):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "outbox_burst.py"), "--events", str(args.events),
           "--reporters", str(args.reporters), "--probe-ms", str(args.probe_ms), "--receiver", args.receiver,
           "--binary", binary]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        sys.exit(f"{binary} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def median(xs):
    return round(statistics.median(xs), 1) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--reporters", type=int, default=3)
    ap.add_argument("--probe-ms", type=int, default=0)
    ap.add_argument("--receiver", choices=("threads", "asyncio"), default="threads",
                    help="outbox_burst.py's receiver, for both binaries")
    ap.add_argument("--fast-ms", type=float, default=13.2,
                    help="a run is at full speed when its slower calibration is at most this")
    ap.add_argument("--log", help="append every run's JSON line to this file")
    args = ap.parse_args()

    expected = args.events * args.reporters
    runs = {args.old: [], args.new: []}
    pairs = []
    log = open(args.log, "a") if args.log else None
    for i in range(args.pairs):
        order = (args.old, args.new) if i % 2 == 0 else (args.new, args.old)
        got = {}
        for b in order:
            d = burst(b, args)
            d["binary"] = b
            d["calibration"] = max(d["calibration_ms"])
            d["complete"] = (d["deliveries"] == expected and d["dead"] == 0 and d["left_pending_in_db"] == 0)
            runs[b].append(d)
            got[b] = d
            if log:
                log.write(json.dumps(d) + "\n")
                log.flush()
            stall, gap = d.get("loop_stall_max_ms"), d.get("loop_gap_max_ms")
            print(f"{i + 1:3} {'old' if b == args.old else 'new'}  calibration {d['calibration']:5.1f} ms  "
                  f"cpu {d['cpu_us_per_delivery']:5.1f} µs  loop {d['loop_cpu_us_per_delivery']:5.1f} µs"
                  + (f"  worst stall {stall:5.1f} ms" if stall is not None else "")
                  + (f"  worst gap {gap:5.1f} ms" if gap is not None else "")
                  + ("" if d["complete"] else "  INCOMPLETE"), flush=True)
        pairs.append((got[args.old], got[args.new]))

    print()
    for name, b in (("old", args.old), ("new", args.new)):
        rs = runs[b]
        fast = [r for r in rs if r["calibration"] <= args.fast_ms]
        slow = [r for r in rs if r["calibration"] > args.fast_ms]
        print(f"{name} ({b}):")
        print(f"  full speed: {len(fast)} runs, cpu median {median([r['cpu_us_per_delivery'] for r in fast])} µs "
              f"(loop {median([r['loop_cpu_us_per_delivery'] for r in fast])}), "
              f"≤ 50 µs in {sum(r['cpu_us_per_delivery'] <= 50 for r in fast)}")
        print(f"  slower:     {len(slow)} runs, cpu median {median([r['cpu_us_per_delivery'] for r in slow])} µs")
        print(f"  complete:   {sum(r['complete'] for r in rs)} of {len(rs)}; deliveries/s "
              f"{min(r['deliveries_per_s'] for r in rs):.0f}–{max(r['deliveries_per_s'] for r in rs):.0f}")
        stalls = [r["loop_stall_max_ms"] for r in rs if r.get("loop_stall_max_ms") is not None]
        if stalls:
            print(f"  worst stall {min(stalls):.1f}–{max(stalls):.1f} ms, above 10 ms in {sum(s > 10 for s in stalls)}")
        gaps = [r["loop_gap_max_ms"] for r in rs if r.get("loop_gap_max_ms") is not None]
        if gaps:
            print(f"  worst gap {min(gaps):.1f}–{max(gaps):.1f} ms, above 10 ms in {sum(g > 10 for g in gaps)}")

    # CPU µs per delivery: all of herald's threads, the loop, the SQLite writer.
    parts = (("all of herald", lambda r: r["cpu_us_per_delivery"]),
             ("the loop", lambda r: r["loop_cpu_us_per_delivery"]),
             ("the SQLite writer", lambda r: r.get("thread_cpu_us_per_delivery", {}).get("herald-sqlite")))

    def paired(ps, label):
        if not ps:
            print(f"{label}: none")
            return
        print(f"{label}: {len(ps)} pairs, new - old")
        for part, of in parts:
            diffs = [of(n) - of(o) for o, n in ps if of(n) is not None and of(o) is not None]
            if diffs:
                print(f"  {part + ':':18} mean {statistics.mean(diffs):+.2f} µs, median {statistics.median(diffs):+.2f}; "
                      f"new lower in {sum(d < 0 for d in diffs)} of {len(diffs)}")

    print()
    paired(pairs, "all pairs")
    paired([(o, n) for o, n in pairs if max(o["calibration"], n["calibration"]) <= args.fast_ms],
           "both at full speed")
    return 0 if all(r["complete"] for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
