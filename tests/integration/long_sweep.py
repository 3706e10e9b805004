#!/usr/bin/python3
"""A long sweep of small jobs: memory must stay flat (no growth per job)
and the results file must open quickly.

    REGSWEEP=build/regsweep /usr/bin/python3 tests/integration/long_sweep.py [N_SEEDS]

The grid is N_SEEDS seeds x 2 keep_prob x 2 l2 (default 2500 seeds:
10,000 jobs) of a 1-8-1 MLP on 20 sin points for 2 epochs, no masks.  The
resident set (VmRSS from /proc/PID/status) is sampled every 0.25 s with
the number of finished job files; the script prints the curve, the time to
open OUT.h5 with h5py and read the whole /jobs table, and checks:
  - every job is done and OUT.h5 lists it;
  - while jobs run, the RSS grows by less than 100 bytes per job within
    each plateau between the steps that the periodic OUT.h5 rewrites make
    (see the comment in main()).
Run by meson in suite "long" (~25 s on 2 idle cores); docs/RELIABILITY.md has the figures.
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
N_SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2500
SPEC = f"""\
name: long
dataset: {{kind: sin, n_train: 20, n_test: 20, noise_sd: 0.5, seed: 1}}
model: {{layers: [1, 8, 1], activation: relu}}
train: {{lr: 0.05, epochs: 2, batch_size: full, shuffle: false}}
record: {{masks: none}}
axes:
  seed: {{from: 0, to: {N_SEEDS - 1}}}
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


def main():
    n_jobs = 4 * N_SEEDS
    tmp = tempfile.mkdtemp(prefix="rs-long-")
    try:
        spec = os.path.join(tmp, "long.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        out = os.path.join(tmp, "long.h5")
        jobs = os.path.join(tmp, "long.jobs")
        t0 = time.monotonic()
        proc = subprocess.Popen([REGSWEEP, "run", spec, "-o", out],
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
        print(f"{n_jobs} jobs in {wall:.1f} s ({n_jobs / wall:.0f} jobs/s), "
              f"OUT.h5 {os.path.getsize(out) / 2**20:.1f} MiB, "
              f"OUT.jobs {sum(os.path.getsize(os.path.join(jobs, n)) for n in os.listdir(jobs)) / 2**20:.1f} MiB")
        print("  time_s   jobs_done   RSS_MiB")
        step = max(1, len(samples) // 25)
        for t, done, r in samples[::step] + [samples[-1]]:
            print(f"  {t:6.1f}  {done:10d}  {r / 1024:8.1f}")
        peak = max(r for _, _, r in samples)
        print(f"peak RSS {peak / 1024:.1f} MiB")

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
        # flat memory: while jobs run, RSS must not grow with each job.  Each
        # periodic OUT.h5 rewrite (every 30 s; it copies every finished job
        # into the file) raises the RSS once, by an amount that does not
        # depend on the number of jobs (HDF5's caches and free lists); so
        # the job phase is cut into plateaus at the steps (a rise of more
        # than 1 MiB between two samples) and each plateau that spans
        # 1,000 jobs or more must grow by less than 100 bytes per job (one
        # job's curves and weights are ~1 KB: leaking them would show).
        phase = [(d, r) for _, d, r in samples if 0 < d < n_jobs]
        plateaus, cur = [], phase[:1]
        for prev, now in zip(phase, phase[1:]):
            if now[1] - prev[1] > 1024:
                plateaus.append(cur)
                cur = []
            cur.append(now)
        plateaus.append(cur)
        checked = 0
        for seg in plateaus:
            span = seg[-1][0] - seg[0][0] if seg else 0
            if span < 1000:
                continue
            third = max(1, len(seg) // 3)
            first = min(r for _, r in seg[:third])
            last = min(r for _, r in seg[-third:])
            per_job = (last - first) * 1024 / span
            print(f"plateau: jobs {seg[0][0]}-{seg[-1][0]}, RSS floor {first / 1024:.1f} -> "
                  f"{last / 1024:.1f} MiB: {per_job:.1f} bytes per job")
            assert per_job < 100, "memory grows with the number of jobs"
            checked += 1
        assert checked, "no plateau of 1,000 jobs to measure"
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
