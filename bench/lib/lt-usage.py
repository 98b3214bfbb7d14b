#!/usr/bin/python3
"""Benchmark child: runs test/py/lt_peer.py (libtorrent) with this process's
arguments and, at exit, writes its own CPU time, peak RSS and per-thread CPU
to the file named by BENCH_REPORT, in the shape of bench/lib/usage-report.ts.
getrusage at exit is exact where polling /proc from outside could miss the
last moments of a leecher that exits as soon as it completes."""
import atexit
import json
import os
import resource
import runpy
import sys


def thread_times():
    out = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split(" ")
            out.append({"tid": int(tid), "userSec": int(fields[11]) / 100, "systemSec": int(fields[12]) / 100})
    except OSError:
        pass
    return out


def report():
    path = os.environ.get("BENCH_REPORT")
    if not path:
        return
    r = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w") as f:
        json.dump({"pid": os.getpid(), "userSec": r.ru_utime, "systemSec": r.ru_stime,
                   "maxRssBytes": r.ru_maxrss * 1024, "threads": thread_times()}, f)


atexit.register(report)
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "py", "lt_peer.py")
sys.argv = [script] + sys.argv[1:]
runpy.run_path(script, run_name="__main__")
