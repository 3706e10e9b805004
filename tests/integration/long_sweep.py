#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A long sweep of small jobs: the heap must not grow with each job, and
the results file must open quickly.

    REGSWEEP=build/regsweep ALLOC_TRACE=build/tests/liballoc_trace.so \
        /usr/bin/python3 tests/integration/long_sweep.py [N_SEEDS]

The grid is N_SEEDS seeds x 2 keep_prob x 2 l2 (default 2500 seeds:
10,000 jobs) of a 1-8-1 MLP on 20 sin points for 2 epochs, no masks.

How a leak is measured: RSS is not a measure of leaks (it moved by 188
bytes per job on a healthy Intel machine, from page and allocator habits).
Instead regsweep runs with tests/integration/alloc_trace.c preloaded, which
counts the bytes held from malloc and writes that count each time a file
is renamed.  Each job file is renamed into place once, at the same point of
every job, so those lines sample the heap at comparable moments.  The check:
the lowest count over jobs N/4..N/2 and over jobs 3N/4..N differ by less
than 16 bytes per job in between.  Every leaked allocation costs at least
24 bytes (glibc's smallest block), so any per-job leak fails; what does not
grow per job (HDF5's tables after an OUT.h5 rewrite, a few KB once) cannot
reach 16 bytes x 5,000 jobs.  A second, shorter run makes the preload itself
leak 24 bytes per rename and must be caught: the proof that the check sees
the smallest leak there is.

The script also prints the RSS curve and peak (figures only, no check), the
time to open OUT.h5 with h5py and read /jobs, `info` and a `--resume` with
nothing to do.  Run by meson in suite "long" (~1 min on 2 cores).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

REGSWEEP = os.path.abspath(os.environ.get("REGSWEEP", "build/regsweep"))
ALLOC_TRACE = os.path.abspath(os.environ.get("ALLOC_TRACE",
                                             "build/tests/liballoc_trace.so"))
N_SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2500
LEAK_BYTES_PER_JOB = 16     # the limit; a leaked block is >= 24 bytes
INJECTED_LEAK = 24          # glibc's smallest block: the smallest leak there is


def spec_text(n_seeds):
    return f"""\
name: long
dataset: {{kind: sin, n_train: 20, n_test: 20, noise_sd: 0.5, seed: 1}}
model: {{layers: [1, 8, 1], activation: relu}}
train: {{lr: 0.05, epochs: 2, batch_size: full, shuffle: false}}
record: {{masks: none}}
axes:
  seed: {{from: 0, to: {n_seeds - 1}}}
  keep_prob: [1.0, 0.5]
  l2: [0, 0.001]
"""


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def count_jobs(d):
    try:
        return sum(1 for n in os.listdir(d) if n.endswith(".h5"))
    except FileNotFoundError:
        return 0


def sweep(tmp, n_seeds, leak=0):
    """Runs the sweep under the allocation trace.  Returns (wall seconds,
    RSS samples [(s, jobs done, KiB)], heap bytes at each job file's
    rename in order, paths)."""
    spec = os.path.join(tmp, "long.yaml")
    with open(spec, "w") as f:
        f.write(spec_text(n_seeds))
    out = os.path.join(tmp, "long.h5")
    jobs = os.path.join(tmp, "long.jobs")
    trace = os.path.join(tmp, "alloc.trace")
    env = dict(os.environ, LD_PRELOAD=ALLOC_TRACE, RS_ALLOC_TRACE=trace)
    if leak:
        env["RS_ALLOC_LEAK"] = str(leak)
    t0 = time.monotonic()
    proc = subprocess.Popen([REGSWEEP, "run", spec, "-o", out], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = []            # (seconds, jobs done, RSS KiB)
    while proc.poll() is None:
        r = rss_kib(proc.pid)
        if r is not None:
            samples.append((time.monotonic() - t0, count_jobs(jobs), r))
        time.sleep(0.25)
    err = proc.stderr.read()
    wall = time.monotonic() - t0
    assert proc.returncode == 0, err
    heap = []
    with open(trace) as f:
        for line in f:
            live, _, dest = line.rstrip("\n").split(" ", 2)
            if os.path.dirname(os.path.abspath(dest)) == jobs:
                heap.append(int(live))
    assert len(heap) == 4 * n_seeds, f"{len(heap)} job renames traced"
    return wall, samples, heap, spec, out, jobs


def growth_per_job(heap):
    """Heap growth per job between the floors of jobs N/4..N/2 and
    3N/4..N (floors: with two workers the other one may hold a job's
    buffers at a sample)."""
    n = len(heap)
    a, b = heap[n // 4:n // 2], heap[3 * n // 4:]
    return (min(b) - min(a)) / (3 * n // 4 - n // 4)


def main():
    n_jobs = 4 * N_SEEDS
    assert os.path.exists(ALLOC_TRACE), f"{ALLOC_TRACE}: build it (meson builds it)"
    tmp = tempfile.mkdtemp(prefix="rs-long-")
    try:
        wall, samples, heap, spec, out, jobs = sweep(tmp, N_SEEDS)
        print(f"{n_jobs} jobs in {wall:.1f} s ({n_jobs / wall:.0f} jobs/s), "
              f"OUT.h5 {os.path.getsize(out) / 2**20:.1f} MiB, "
              f"OUT.jobs {sum(os.path.getsize(os.path.join(jobs, n)) for n in os.listdir(jobs)) / 2**20:.1f} MiB")
        print("  time_s   jobs_done   RSS_MiB   heap_MiB (at that job's rename)")
        step = max(1, len(samples) // 25)
        for t, done, r in samples[::step] + [samples[-1]]:
            h = heap[min(done, len(heap)) - 1] / 2**20 if done else float("nan")
            print(f"  {t:6.1f}  {done:10d}  {r / 1024:8.1f}  {h:9.3f}")
        print(f"peak RSS {max(r for _, _, r in samples) / 1024:.1f} MiB (not checked: RSS "
              f"moves with the machine's allocator and pages)")

        t1 = time.monotonic()
        with h5py.File(out, "r") as f:
            table = {k: v[()] for k, v in f["jobs"].items()}
            n_runs = len(f["runs"])
        t_open = time.monotonic() - t1
        status = np.array([s.decode() for s in table["status"]])
        print(f"h5py: open OUT.h5 and read /jobs ({len(table)} columns x {len(status)} rows, "
              f"{n_runs} /runs groups) in {t_open:.2f} s")
        t1 = time.monotonic()
        p = subprocess.run([REGSWEEP, "info", out], capture_output=True, text=True)
        print(f"regsweep info: {time.monotonic() - t1:.2f} s (exit {p.returncode})")
        t1 = time.monotonic()
        p = subprocess.run([REGSWEEP, "run", spec, "-o", out, "--resume"],
                           capture_output=True, text=True)
        print(f"run --resume with all {n_jobs} done: {time.monotonic() - t1:.2f} s "
              f"(exit {p.returncode})")
        assert (status == "done").all() and len(status) == n_jobs and n_runs == n_jobs

        g = growth_per_job(heap)
        print(f"heap at job renames: {min(heap)}..{max(heap)} bytes; growth from "
              f"jobs {n_jobs // 4}-{n_jobs // 2} to {3 * n_jobs // 4}-{n_jobs}: "
              f"{g:.2f} bytes per job (limit {LEAK_BYTES_PER_JOB})")
        assert g < LEAK_BYTES_PER_JOB, "the heap grows with the number of jobs"
    finally:
        shutil.rmtree(tmp)

    # the proof that the check sees a leak: 24 bytes per job, injected
    tmp = tempfile.mkdtemp(prefix="rs-long-leak-")
    try:
        n_seeds = min(N_SEEDS, 500)
        _, _, heap, *_ = sweep(tmp, n_seeds, leak=INJECTED_LEAK)
        g = growth_per_job(heap)
        print(f"with {INJECTED_LEAK} bytes leaked per job ({4 * n_seeds} jobs): "
              f"{g:.2f} bytes per job measured")
        assert g >= LEAK_BYTES_PER_JOB, "an injected leak went unseen"
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
