#!/usr/bin/env python3
"""Instructions and mallocs per typed act (client and service in one process), with callgrind.

Runs Benchmarks' ActProbe under `valgrind --tool=callgrind` twice, with N1 and N2 acts, and prints
(Ir(N2) - Ir(N1)) / (N2 - N1) and the same difference of the calls to malloc: the setup cancels
out. Instruction counts are repeatable on a loaded machine, where wall time is not.

    python3 scripts/callgrind_act.py                      # pipelined at 256 in flight, and lone
    python3 scripts/callgrind_act.py --workload lone --n1 200 --n2 600
    python3 scripts/callgrind_act.py --binary /tmp/ActProbe.old   # an older build, for before/after

nats-server runs outside valgrind (started here on a free port of 127.0.0.1, stopped at the end).
The probe is built in release mode and copied without its debug sections (valgrind 3.19 does not
read DWARF 5). Python standard library only.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "Benchmarks")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What the benchmark suite's malloc interposer counts as allocations.
ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "valloc"}
# Allocator internals that call an allocator again for the same allocation.
INTERNAL = ("_mid_memalign", "posix_memalign", "aligned_alloc", "memalign", "valloc", "realloc", "calloc", "malloc")


def totals(path):
    """Total Ir and the number of calls to the allocators in a callgrind output file (calls made
    by the allocators themselves, such as posix_memalign's own malloc, are not counted twice)."""
    ir = None
    mallocs = 0
    names = {}
    fn = None
    cfn = None

    def name(match):
        if match.group(2) is not None:
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), "?")

    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                ir = int(line.split()[1])
                continue
            m = re.match(r"^fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                fn = name(m)
                continue
            m = re.match(r"^cfn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                cfn = name(m)
                continue
            if line.startswith("calls=") and cfn in ALLOCATORS and not (fn or "").startswith(INTERNAL):
                mallocs += int(line.split()[0][len("calls="):])
    return ir, mallocs


def run(binary, workload, count, window, url, out):
    env = dict(os.environ, ACTPROBE_URL=url)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, workload, str(count), str(window)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("valgrind failed:\n" + result.stdout + result.stderr[-3000:])
    return totals(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", choices=["pipelined", "lone", "both"], default="both")
    parser.add_argument("--n1", type=int, default=None)
    parser.add_argument("--n2", type=int, default=None)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--binary", help="an ActProbe binary (default: build it)")
    parser.add_argument("--keep", help="keep the callgrind files in this directory")
    args = parser.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="callgrind-act-")
    os.makedirs(work, exist_ok=True)
    binary = args.binary
    if binary is None:
        subprocess.run(["swift", "build", "-c", "release", "--product", "ActProbe"], cwd=BENCH, check=True)
        binary = os.path.join(work, "ActProbe")
        subprocess.run(["objcopy", "--strip-debug", os.path.join(BENCH, ".build", "release", "ActProbe"), binary], check=True)

    port = free_port()
    server = subprocess.Popen(
        ["nats-server", "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = "nats://127.0.0.1:%d" % port
        workloads = ["pipelined", "lone"] if args.workload == "both" else [args.workload]
        for workload in workloads:
            n1 = args.n1 or (1000 if workload == "pipelined" else 300)
            n2 = args.n2 or (3000 if workload == "pipelined" else 900)
            a = run(binary, workload, n1, args.in_flight, url, os.path.join(work, "%s-%d.out" % (workload, n1)))
            b = run(binary, workload, n2, args.in_flight, url, os.path.join(work, "%s-%d.out" % (workload, n2)))
            acts = n2 - n1
            flight = args.in_flight if workload == "pipelined" else 1
            print(
                "%-9s (%4d in flight): %8.0f instructions per act, %5.1f mallocs per act "
                "(Ir %d -> %d, malloc calls %d -> %d, %d -> %d acts)"
                % (workload, flight, (b[0] - a[0]) / acts, (b[1] - a[1]) / acts, a[0], b[0], a[1], b[1], n1, n2)
            )
    finally:
        server.terminate()
        server.wait()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
