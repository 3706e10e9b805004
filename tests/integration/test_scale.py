#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sweeps beyond one process: shards (--shard I/N and Slurm job arrays'
environment), `regsweep merge`, and (when regsweep is built with MPI and
mpirun is present) MPI ranks.  Every assembled file is compared bit for bit
(h5diff, /provenance and /analysis excluded) with a single-process run.

Run by meson, which passes the regsweep binary in $REGSWEEP.
"""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

# 24 jobs of equal cost: 4 seeds x 3 keep x 2 l2
SMALL = """\
name: small
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3, n_val: 16}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 3}
  keep_prob: [1.0, 0.7, [0.9, 0.5]]
  l2: [0, 0.001]
"""

# the same grid, every axis in another order: the same jobs (ids)
REORDERED = """\
name: small
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3, n_val: 16}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: [3, 1, 2, 0]
  keep_prob: [[0.9, 0.5], 1.0, 0.7]
  l2: [0.001, 0]
"""

# slower jobs, for killing a shard part-way
SLOW = SMALL.replace("epochs: 12", "epochs: 400").replace("n_train: 64", "n_train: 256")


def run(*args, env=None, check=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, env=e,
                       timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, "
                             f"expected {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def h5diff(a, b):
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def finished_ids(path):
    with h5py.File(path, "r") as f:
        ids = f["jobs/id"].asstr()[()]
        status = f["jobs/status"].asstr()[()]
    return {i for i, s in zip(ids, status) if s == "done"}


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def no_slurm_env():
    return {k: "" for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
                            "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
                            "SLURM_ARRAY_TASK_STEP")}


class Shards(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = self.write("small.yaml", SMALL)
        self.single = self.out("single.h5")
        run("run", self.spec, "-o", self.single, "-j", "2", env=no_slurm_env(),
            check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        path = self.out(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def shard(self, i, n, out="m.h5", spec=None, extra=(), check=0):
        return run("run", spec or self.spec, "-o", self.out(out), "--shard",
                   f"{i}/{n}", "-j", "1", *extra, env=no_slurm_env(), check=check)

    def assert_same(self, path):
        d = h5diff(self.single, path)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_four_shards_merged_equal_one_process(self):
        # two shards packed, two left as job files (--no-pack): merge reads both
        for i in range(1, 5):
            self.shard(i, 4, extra=("--no-pack",) if i % 2 else ())
        parts = [self.out(f"m.shard-{i}-of-4.h5") for i in range(1, 5)]
        seen = [finished_ids(p) | {os.path.basename(x)[:12] for x in
                                   os.listdir(self.out(f"m.shard-{i + 1}-of-4.jobs"))
                                   if x.endswith(".h5")}
                for i, p in enumerate(parts)]
        # disjoint, complete, balanced (24 equal jobs: 6 each)
        self.assertEqual([len(s) for s in seen], [6, 6, 6, 6])
        self.assertEqual(len(set().union(*seen)), 24)
        p = run("merge", self.out("m.h5"), check=0)
        self.assertIn("24 of 24 jobs finished", p.stderr)
        self.assert_same(self.out("m.h5"))
        # the parts are only read: their job files are still there
        self.assertTrue(os.listdir(self.out("m.shard-1-of-4.jobs")))
        # the merged file is a results file like any other
        run("info", self.out("m.h5"), "--verify", check=0)
        run("rerun", self.out("m.h5"), "--job", "7", check=0)
        with h5py.File(self.out("m.h5"), "r") as f:
            hist = f["provenance/history/command"].asstr()[()]
            self.assertEqual(sum("--shard" in c for c in hist), 4, hist)
            self.assertTrue(any(" merge " in c for c in hist), hist)
            self.assertFalse(any(x != x for x in f["provenance/job_wall_s"][()]))

    def test_uneven_split_is_balanced(self):
        counts = []
        for i in range(1, 6):
            self.shard(i, 5)
            counts.append(len(finished_ids(self.out(f"m.shard-{i}-of-5.h5"))))
        # equal costs: longest-processing-time-first deals them round robin
        self.assertEqual(counts, [5, 5, 5, 5, 4])
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))

    def test_shards_do_not_depend_on_the_grid_order(self):
        other = self.write("reordered.yaml", REORDERED)
        for i in (1, 2, 3):
            self.shard(i, 3, out="a.h5")
            self.shard(i, 3, out="b.h5", spec=other)
            self.assertEqual(finished_ids(self.out(f"a.shard-{i}-of-3.h5")),
                             finished_ids(self.out(f"b.shard-{i}-of-3.h5")))

    def test_slurm_array_environment(self):
        # --array=4-10:3 -> tasks 4, 7, 10: task 7 is shard 2 of 3
        env = dict(no_slurm_env(), SLURM_ARRAY_TASK_ID="7", SLURM_ARRAY_TASK_MIN="4",
                   SLURM_ARRAY_TASK_MAX="10", SLURM_ARRAY_TASK_STEP="3")
        p = run("run", self.spec, "-o", self.out("s.h5"), env=env, check=0)
        self.assertIn("shard 2 of 3 from SLURM_ARRAY_TASK_ID=7", p.stderr)
        self.shard(2, 3, out="t.h5")
        self.assertEqual(finished_ids(self.out("s.shard-2-of-3.h5")),
                         finished_ids(self.out("t.shard-2-of-3.h5")))
        # --shard wins over the environment; 1/1 is the whole grid, into OUT
        p = run("run", self.spec, "-o", self.out("w.h5"), "--shard", "1/1", env=env,
                check=0)
        self.assertNotIn("shard", p.stderr)
        self.assert_same(self.out("w.h5"))
        # a list of task ids (--array=1,3,7) maps onto no shard: refused
        env = dict(no_slurm_env(), SLURM_ARRAY_TASK_ID="7", SLURM_ARRAY_TASK_MIN="1",
                   SLURM_ARRAY_TASK_MAX="7", SLURM_ARRAY_TASK_COUNT="3")
        p = run("run", self.spec, "-o", self.out("x.h5"), env=env, check=2)
        self.assertIn("--shard I/N", p.stderr)
        self.assertFalse(os.path.exists(self.out("x.shard-3-of-3.h5")))
        for bad in ("0/3", "4/3", "1/0", "x/2", "2"):
            p = run("run", self.spec, "-o", self.out("y.h5"), "--shard", bad,
                    check=2)
            self.assertIn("--shard", p.stderr)

    def test_incomplete_merge_then_finish(self):
        for i in (1, 3, 4):
            self.shard(i, 4)
        p = run("merge", self.out("m.h5"), check=1)
        self.assertIn("18 of 24 jobs finished", p.stderr)
        self.assertIn("no part of shard 2 of 4", p.stderr)
        run("merge", self.out("m.h5"), "--allow-incomplete", check=0)
        # the missing shard runs later; a second merge adds it
        self.shard(2, 4)
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))
        # or: run --resume on a partial merge finishes it in one process
        run("merge", self.out("n.h5"), self.out("m.shard-1-of-4.h5"), check=1)
        run("run", self.spec, "-o", self.out("n.h5"), "--resume", env=no_slurm_env(),
            check=0)
        self.assert_same(self.out("n.h5"))

    def test_overlapping_parts_are_the_same_bits(self):
        # shard 1 of 2 and shard 1 of 3 share jobs: taken once, compared
        self.shard(1, 2)
        self.shard(2, 2)
        self.shard(1, 3, out="o.h5")
        part3 = self.out("o.shard-1-of-3.h5")
        run("merge", self.out("m.h5"), self.out("m.shard-1-of-2.h5"), part3,
            self.out("m.shard-2-of-2.h5"), check=0)
        self.assert_same(self.out("m.h5"))
        # a copy whose checksum says other bits: refused, naming the job
        shared = sorted(finished_ids(part3) & finished_ids(self.out("m.shard-1-of-2.h5")))[0]
        with h5py.File(part3, "r+") as f:
            f[f"runs/{shared}"].attrs["content_sha256"] = "0" * 64
        before = read_bytes(self.out("m.h5"))
        p = run("merge", self.out("m.h5"), part3, check=1)
        self.assertIn(shared, p.stderr)
        self.assertIn("different bits", p.stderr)
        self.assertEqual(read_bytes(self.out("m.h5")), before)

    def test_parts_of_another_spec_or_version_are_refused(self):
        self.shard(1, 2)
        self.shard(2, 2, extra=("train.lr=0.03",))
        p = run("merge", self.out("m.h5"), check=2)
        self.assertIn("m.shard-2-of-2.h5", p.stderr)
        self.assertIn("another sweep", p.stderr)
        self.assertFalse(os.path.exists(self.out("m.h5")))
        # an existing merged file is left as it was
        run("merge", self.out("m.h5"), self.out("m.shard-1-of-2.h5"), check=1)
        before = read_bytes(self.out("m.h5"))
        run("merge", self.out("m.h5"), self.out("m.shard-2-of-2.h5"), check=2)
        self.assertEqual(read_bytes(self.out("m.h5")), before)
        # another regsweep version
        self.shard(1, 3, out="v.h5")
        with h5py.File(self.out("v.shard-1-of-3.h5"), "r+") as f:
            f.attrs["regsweep_version"] = "0.0.1"
        p = run("merge", self.out("v.h5"), check=2)
        self.assertIn("regsweep 0.0.1", p.stderr)
        # a part that is not a part at all; the output named as a part
        junk = self.write("junk.h5", "not hdf5")
        p = run("merge", self.out("j.h5"), junk, check=2)
        self.assertIn("junk.h5", p.stderr)
        p = run("merge", self.single, self.single, check=2)
        self.assertIn("output itself", p.stderr)
        p = run("merge", self.out("none.h5"), check=2)
        self.assertIn("no parts", p.stderr)

    def test_merge_waits_for_a_running_shard(self):
        self.shard(1, 2)
        self.shard(2, 2)
        lock = os.path.join(self.out("m.shard-2-of-2.jobs"), ".lock")
        with open(lock, "w") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)   # as a running shard holds it
            p = run("merge", self.out("m.h5"), check=2)
            self.assertIn("still running", p.stderr)
            self.assertIn(f"pid {os.getpid()}", p.stderr)
        run("merge", self.out("m.h5"), check=0)
        self.assert_same(self.out("m.h5"))

    def test_killed_shard_is_finished_by_resume(self):
        slow = self.write("slow.yaml", SLOW)
        ref = self.out("slow.h5")
        run("run", slow, "-o", ref, "-j", "2", env=no_slurm_env(), check=0)
        part = self.out("k.shard-1-of-2.h5")
        jobs = self.out("k.shard-1-of-2.jobs")
        proc = subprocess.Popen([REGSWEEP, "run", slow, "-o", self.out("k.h5"),
                                 "--shard", "1/2", "-j", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, **no_slurm_env()))
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and (
                not os.path.isdir(jobs) or
                sum(x.endswith(".h5") for x in os.listdir(jobs)) < 2):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = sum(x.endswith(".h5") for x in os.listdir(jobs))
        self.assertGreaterEqual(done_before, 2)
        # the merge sees the dead shard's job files (nothing holds its lock)
        run("run", slow, "-o", self.out("k.h5"), "--shard", "2/2", "-j", "1",
            env=no_slurm_env(), check=0)
        p = run("merge", self.out("k.h5"), check=1)
        self.assertIn(f"{12 + done_before} of 24 jobs finished", p.stderr)
        run("run", slow, "-o", self.out("k.h5"), "--shard", "1/2", "--resume",
            "-j", "2", env=no_slurm_env(), check=0)
        self.assertTrue(os.path.exists(part))
        run("merge", self.out("k.h5"), check=0)
        d = h5diff(ref, self.out("k.h5"))
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
