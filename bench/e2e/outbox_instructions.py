#!/usr/bin/python3
"""Instructions per delivery in the outbox burst, counted by callgrind.

    /usr/bin/python3 bench/e2e/outbox_instructions.py [--events 1000] [--binary build/herald_outbox_burst]

CPU time on this VM swings by a factor of two from one second to the next, so
a change of a few µs per delivery drowns in the noise of bench/e2e/outbox_burst.py.
Instruction counts do not: the same binary gives the same count to within
about 1 % (the loop's). This runs the same burst (bench/e2e/outbox_burst.py,
its receiver, --probe-ms 0) with the driver under `valgrind --tool=callgrind`,
and prints the user-space instructions per delivery of

- the event loop: everything under io_context::run, or run_one and poll as
  app::run_loop calls them (the driver's calibration and start-up are
  outside it);
- the SQLite writer thread (`herald-sqlite`). This one varies by about 20 %
  from run to run: it depends on how many writes each commit gathers, and
  every commit checksums each WAL frame (16 KiB) it writes.

Kernel work (system calls, page faults) is not counted, nor are cache misses:
it tells what a change does to herald's own code, not its CPU time.
Needs valgrind (scripts/install-deps installs it)."""

import argparse
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def annotate(path, inclusive):
    out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", path],
                         capture_output=True, text=True, check=True).stdout
    return out


def count(line):
    return int(line.split()[0].replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--reporters", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "herald_outbox_burst"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="herald-callgrind-") as tmp:
        wrapper = os.path.join(tmp, "under-callgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind --separate-threads=yes "
                    f"--callgrind-out-file={shlex.quote(tmp)}/cg.out {shlex.quote(os.path.abspath(args.binary))} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        run = subprocess.run([sys.executable, os.path.join(HERE, "outbox_burst.py"), "--events", str(args.events),
                              "--reporters", str(args.reporters), "--probe-ms", "0", "--binary", wrapper],
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            return run.returncode
        burst = json.loads(run.stdout.strip().splitlines()[-1])
        deliveries = burst["deliveries"]
        loop = writer = None
        for path in sorted(glob.glob(os.path.join(tmp, "cg.out-*"))):
            inclusive = annotate(path, True)
            # The loop: app::run_loop (io_context::run_one and poll), or io_context::run.
            run_lines = [l for l in inclusive.splitlines()
                         if re.search(r"io_context::(run|run_one|poll)\(\) \[", l)]
            if run_lines and loop is None:
                loop = sum(count(l) for l in run_lines)
            elif "write_loop()" in inclusive and writer is None:
                writer = count(next(l for l in inclusive.splitlines() if "PROGRAM TOTALS" in l))
    if not loop or not writer or not deliveries:
        sys.stderr.write("could not find the loop's or the writer's counts\n")
        return 1
    print(json.dumps({
        "deliveries": deliveries,
        "loop_instructions_per_delivery": round(loop / deliveries),
        "writer_instructions_per_delivery": round(writer / deliveries),
        "receiver_requests": burst["receiver_requests"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
