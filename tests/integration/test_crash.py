#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Crash and signal tests: a sweep killed with SIGKILL at many random
moments and resumed each time loses nothing and ends identical to an
uninterrupted run; SIGINT/SIGTERM stop it cleanly (exit 130/143) and
--resume completes it.

Run by meson (suite 'integration'), which passes the binary in $REGSWEEP.
The kill schedule is drawn from a seeded generator and printed:
  RS_CRASH_SEED   seed of the schedule (default 20261123)
  RS_CRASH_KILLS  number of SIGKILLs (default 24)

The independent truth is the uninterrupted run: job files are written
without timestamps, so every job file of an interrupted sweep must be
byte-identical to the reference's, and the final OUT.h5 must equal the
reference under `h5diff --exclude-path /provenance`.
"""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.path.abspath(os.environ.get("REGSWEEP", "build/regsweep"))
SEED = int(os.environ.get("RS_CRASH_SEED", "20261123"))
N_KILLS = int(os.environ.get("RS_CRASH_KILLS", "24"))
THREADS = "2"

# 180 jobs of ~25 ms (2 threads, release build) that record every dropout
# mask (300 epochs x 4 steps x 25 rows x 8 bytes = 240 KB per job file), so
# that writing job files and OUT.h5 (a 37 MB copy of them) takes real time.
SPEC = """\
name: crash
dataset: {kind: sin, n_train: 100, n_test: 100, noise_sd: 0.5, seed: 1}
model: {layers: [1, 32, 32, 1], activation: relu}
train: {lr: 0.01, epochs: 300, batch_size: 25, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 29}
  keep_prob: [1.0, 0.8, 0.5]
  l2: [0, 0.001]
"""
N_JOBS = 180


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def env():
    return dict(os.environ, OMP_NUM_THREADS=THREADS)


def jobs_dir(out):
    return out[:-3] + ".jobs"


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def job_files(out):
    """Finished job files: name -> (mtime_ns, size, sha256)."""
    d = jobs_dir(out)
    res = {}
    if not os.path.isdir(d):
        return res
    for name in os.listdir(d):
        if name.endswith(".h5"):
            p = os.path.join(d, name)
            st = os.stat(p)
            res[name] = (st.st_mtime_ns, st.st_size, sha(p))
    return res


def finished(out):
    """The finished jobs: job files not packed yet and jobs OUT.h5 holds
    (ids)."""
    ids = {n[:-3] for n in job_files(out)}
    if os.path.exists(out):
        with h5py.File(out, "r") as f:
            if "runs" in f:
                ids |= set(f["runs"])
    return ids


def runs_per_job(out):
    """How often each job was computed: its lines in provenance.tsv."""
    p = os.path.join(jobs_dir(out), "provenance.tsv")
    count = {}
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                count[line.split("\t")[0]] = count.get(line.split("\t")[0], 0) + 1
    return count


def tmp_files(out):
    """Temporary files: *.tmp in OUT.jobs/, and OUT.h5.<pid>.tmp beside OUT.h5."""
    d = jobs_dir(out)
    names = [n for n in os.listdir(d) if n.endswith(".tmp")] if os.path.isdir(d) else []
    base = os.path.basename(out) + "."
    names += [n for n in os.listdir(os.path.dirname(out))
              if n.startswith(base) and n.endswith(".tmp")]
    return names


def h5diff(a, b):
    return subprocess.run(["h5diff", "--exclude-path", "/provenance", "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rs-crash-")
        cls.dir = cls.tmp.name
        cls.spec = os.path.join(cls.dir, "crash.yaml")
        with open(cls.spec, "w") as f:
            f.write(SPEC)
        cls.ref = os.path.join(cls.dir, "ref.h5")
        t0 = time.monotonic()
        # --no-pack keeps the reference's job files, then info --rebuild
        # packs them: the reference job files and the reference OUT.h5
        p = subprocess.run([REGSWEEP, "run", cls.spec, "-o", cls.ref, "--no-pack"],
                           env=env(), capture_output=True, text=True)
        cls.ref_wall = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        cls.ref_jobs = {k: v[2] for k, v in job_files(cls.ref).items()}
        assert len(cls.ref_jobs) == N_JOBS
        p = subprocess.run([REGSWEEP, "info", cls.ref, "--rebuild"], env=env(),
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        # how long a resume with nothing to do takes: the startup cost
        t0 = time.monotonic()
        p = subprocess.run([REGSWEEP, "run", cls.spec, "-o", cls.ref, "--resume"],
                           env=env(), capture_output=True, text=True)
        cls.startup = time.monotonic() - t0
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        p = os.path.join(self.dir, name)
        for n in [name] + [n for n in os.listdir(self.dir)
                           if n.startswith(name + ".") and n.endswith(".tmp")]:
            if os.path.isfile(os.path.join(self.dir, n)):
                os.unlink(os.path.join(self.dir, n))
        shutil.rmtree(jobs_dir(p), ignore_errors=True)
        return p

    def start(self, out, resume, log_name):
        args = [REGSWEEP, "run", self.spec, "-o", out] + (["--resume"] if resume else [])
        err = open(os.path.join(self.dir, log_name), "w+")
        return subprocess.Popen(args, env=env(), stdout=subprocess.DEVNULL, stderr=err), err

    def check_results_file(self, out):
        """OUT.h5 opens in h5py and h5dump; every row marked done has its
        /runs group (jobs finished since the last pack are job files)."""
        d = subprocess.run(["h5dump", "-H", out], capture_output=True, text=True)
        self.assertEqual(d.returncode, 0, f"h5dump -H {out}: {d.stderr[-500:]}")
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["format"], "regsweep-results")
            ids = f["jobs/id"].asstr()[()]
            status = f["jobs/status"].asstr()[()]
            self.assertEqual(len(ids), N_JOBS)
            for i, s in zip(ids, status):
                self.assertIn(s, ("done", "missing"))
                if s == "done":
                    self.assertIn(i, f["runs"], f"/jobs says {i} is done; no /runs/{i}")
            self.assertEqual(int(f.attrs["n_done"]), int((status == "done").sum()))

    def check_job_files(self, out, before):
        """Every job file is complete (byte-identical to the reference's);
        every job finished before is still finished (in a job file or
        packed: not lost), and no job was computed twice (not
        recomputed)."""
        files = job_files(out)
        for name, (_, _, digest) in files.items():
            self.assertIn(name, self.ref_jobs, f"unexpected job file {name}")
            self.assertEqual(digest, self.ref_jobs[name], f"{name}: partial or different")
        now = finished(out)
        self.assertEqual(before - now, set(), "finished jobs were lost")
        twice = {k: v for k, v in runs_per_job(out).items() if v > 1}
        self.assertEqual(twice, {}, "jobs computed twice")
        return now

    def finish_and_compare(self, out):
        before = finished(out)
        p = subprocess.run([REGSWEEP, "run", self.spec, "-o", out, "--resume"],
                           env=env(), capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"{len(before)} already done", p.stderr)
        self.check_job_files(out, before)
        self.assertEqual(tmp_files(out), [])
        self.check_results_file(out)
        d = h5diff(self.ref, out)
        self.assertEqual(d.returncode, 0, d.stdout[-2000:] + d.stderr[-2000:])


class SigKill(Base):
    def test_sigkill_at_random_moments_then_resume(self):
        rng = random.Random(SEED)
        # delays reach past the startup (scan, OUT.h5 rewrite) into the jobs:
        # on average a cycle runs ~1/8 of the sweep, so kills spread from
        # startup to the end; a sweep that completes starts over in a new
        # output, until N_KILLS kills have landed
        max_delay = self.startup + 4 * self.ref_wall / N_KILLS
        log(f"\ncrash test: seed {SEED}, {N_KILLS} kills, reference {self.ref_wall:.2f} s, "
            f"startup {self.startup:.2f} s, delays up to {max_delay:.2f} s")
        log(" kill  sweep  mode   after_s  done_before  done_after  tmp_at_kill")
        kills, sweep, n_tmp = 0, 0, 0
        out, fresh = None, True
        while kills < N_KILLS:
            if fresh:
                sweep += 1
                out = self.out(f"cut{sweep}.h5")
            before = finished(out)
            mode = "tmp" if rng.random() < 0.35 else "delay"
            delay = rng.uniform(0, max_delay)
            proc, err = self.start(out, not fresh, "cycle.log")
            t0 = time.monotonic()
            if fresh:
                # the first run is killed only once OUT.h5 exists (see
                # test_kill_before_the_first_results_file for the window
                # before it)
                while not os.path.exists(out) and proc.poll() is None:
                    time.sleep(0.001)
                t0 = time.monotonic()
            if mode == "delay":
                while time.monotonic() - t0 < delay and proc.poll() is None:
                    time.sleep(0.002)
            else:
                while time.monotonic() - t0 < delay / 4 and proc.poll() is None:
                    time.sleep(0.002)
                while not tmp_files(out) and proc.poll() is None:
                    pass
            if proc.poll() is not None:          # the sweep completed first
                err.seek(0)
                self.assertEqual(proc.returncode, 0, err.read())
                err.close()
                self.check_job_files(out, before)
                self.finish_and_compare(out)
                fresh = True
                continue
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            after = time.monotonic() - t0
            err.seek(0)
            text = err.read()
            err.close()
            kills += 1
            tmps = tmp_files(out)
            n_tmp += bool(tmps)
            now = self.check_job_files(out, before)
            if not fresh and "already done" in text:   # resumed, not recomputed
                self.assertIn(f"{len(before)} already done", text)
            self.assertTrue(os.path.exists(out))
            self.check_results_file(out)
            log(f" {kills:4d}  {sweep:5d}  {mode:5s}  {after:7.3f}  {len(before):11d}  "
                f"{len(now):10d}  {','.join(tmps) if tmps else '-'}")
            fresh = False
        self.finish_and_compare(out)
        log(f"crash test: {kills} kills over {sweep} sweep(s), {n_tmp} with a .tmp file "
            f"present (an HDF5 write in progress)")
        self.assertGreaterEqual(n_tmp, 3, "too few kills landed during a write")

    def test_kill_before_the_first_results_file(self):
        """SIGKILL between creating OUT.jobs/ and the first rename of OUT.h5
        (dataset loading, the first OUT.h5 write) must leave a sweep that
        can be resumed or started.

        Known bug (src/sweep.c, prepare_output): after such a kill, `run`
        says 'OUT.jobs already exists; use --resume' and `run --resume`
        says 'cannot resume: no such results file': neither continues."""
        out = self.out("early.h5")
        proc, err = self.start(out, False, "early.log")
        while not os.path.isdir(jobs_dir(out)) and proc.poll() is None:
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        err.close()
        if os.path.exists(out):
            self.skipTest("OUT.h5 was already written when the kill landed")
        again = subprocess.run([REGSWEEP, "run", self.spec, "-o", out], env=env(),
                               capture_output=True, text=True)
        resumed = subprocess.run([REGSWEEP, "run", self.spec, "-o", out, "--resume"],
                                 env=env(), capture_output=True, text=True)
        self.assertTrue(again.returncode == 0 or resumed.returncode == 0,
                        "neither run nor run --resume continues after a kill before "
                        f"OUT.h5 existed:\nrun: {again.stderr}\nrun --resume: {resumed.stderr}")
        self.finish_and_compare(out)


class Signals(Base):
    def stop_with(self, sig, code, name, twice=False):
        out = self.out(name)
        proc, err = self.start(out, False, name + ".log")
        while len(finished(out)) < 40 and proc.poll() is None:
            time.sleep(0.002)
        self.assertIsNone(proc.poll(), "the sweep finished before the signal")
        proc.send_signal(sig)
        # counted after sending: every job file that appears later belongs
        # to a job that was running when the signal came (counting before
        # sending left a window in which a loaded machine finished more)
        at_signal = len(finished(out))
        if twice:
            time.sleep(0.005)
            proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.fail("did not stop within 60 s of the signal")
        err.seek(0)
        text = err.read()
        err.close()
        self.assertEqual(proc.returncode, code, text)
        self.assertIn("Continue with", text)
        self.assertIn(f"-o {out} --resume", text)
        n = len(finished(out))
        # dispatching stopped: at most the jobs running at the signal (one
        # per thread) finished after it, plus one a worker may have taken
        # between the signal's sending and its handler running
        self.assertLessEqual(n - at_signal, int(THREADS) + 1, text)
        self.assertLess(n, N_JOBS)
        self.assertEqual(tmp_files(out), [], "a .tmp file was left behind")
        self.check_job_files(out, set())
        self.check_results_file(out)
        with h5py.File(out, "r") as f:       # flushed: OUT.h5 lists them all
            self.assertEqual(int(f.attrs["n_done"]), n)
        self.finish_and_compare(out)

    def test_sigint(self):
        self.stop_with(signal.SIGINT, 130, "int.h5")

    def test_sigterm(self):
        self.stop_with(signal.SIGTERM, 143, "term.h5")

    def test_second_sigint_drops_running_jobs(self):
        self.stop_with(signal.SIGINT, 130, "int2.h5", twice=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
