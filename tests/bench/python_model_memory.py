#!/usr/bin/python3
"""Peak anonymous memory of verinit.verify_model on a deflated .npz checkpoint (issue 9):

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/python_model_memory.py \
        /tmp/big8.npz [MEMORY ...]

Writes (once, if absent) an np.savez_compressed file of 8 float32 tensors "layer<i>.weight" of
2048 x 4096 N(0, 1/4096) weights (numpy's generator, seed 0: 249 MB deflated, 268 MB inflated)
and a rules file beside it. Then, for each MEMORY (default: 2G 64M), runs
verinit.verify_model(FILE, RULES, memory=MEMORY) once in a fresh process (freed memory stays
with a process's allocator, so runs in one process would inherit each other's) and prints its
wall time
and the peak of RssAnon polled every 5 ms (anonymous memory: a mapped or spilled tensor's pages
are the page cache's, not the process's), beside the interpreter's RssAnon before the run.
Not used by the tests.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np

import verinit


def rss_anon_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def main():
    path = sys.argv[1]
    memories = sys.argv[2:] or ["2G", "64M"]
    rules = path + ".rules.toml"
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        scale = np.float32(1 / np.sqrt(4096))
        np.savez_compressed(path, **{f"layer{i}.weight": rng.standard_normal(
            (2048, 4096), dtype=np.float32) * scale for i in range(8)})
    if not os.path.exists(rules):
        with open(rules, "w") as out:
            out.write('[[rule]]\nmatch = "*.weight"\nexpect = "normal(std=0.015625)"\n')
    if len(memories) > 1:
        for memory in memories:
            subprocess.run([sys.executable, __file__, path, memory], check=True)
        return
    for memory in memories:
        before = rss_anon_kib()
        peak = [before]
        done = threading.Event()

        def poll():
            while not done.is_set():
                peak[0] = max(peak[0], rss_anon_kib())
                time.sleep(0.005)

        poller = threading.Thread(target=poll)
        poller.start()
        start = time.perf_counter()
        result = verinit.verify_model(path, rules, memory=memory)
        wall = time.perf_counter() - start
        done.set()
        poller.join()
        print(f"memory={memory}: passed={result.passed} wall {wall:.2f} s, peak RssAnon "
              f"{peak[0] / 1024:.0f} MiB (before the run: {before / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
