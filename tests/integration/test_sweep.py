#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the regsweep command line with real HDF5 files read
by h5py, h5diff and pandas.

Run by meson (`meson test`), which passes the regsweep binary in $REGSWEEP.
Each test works in its own temporary directory.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
import philox_np  # noqa: E402

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

SMALL = """\
name: small
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 3}
  keep_prob: [1.0, 0.7, [0.9, 0.5]]
  l2: [0, 0.001]
"""


def run(*args, env=None, check=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True, env=e)
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, "
                             f"expected {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def h5diff(a, b):
    # /analysis is a link naming a.analysis.h5 or b.analysis.h5: derived
    # and volatile like /provenance
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def jobs_table(path):
    """The /jobs table in one pandas expression, as docs/ANALYSIS.md shows."""
    with h5py.File(path, "r") as f:
        return pd.DataFrame({k: (v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()])
                             for k, v in f["jobs"].items()})


class Sweep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.spec = os.path.join(self.dir, "small.yaml")
        with open(self.spec, "w") as f:
            f.write(SMALL)

    def tearDown(self):
        self.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    def test_thread_counts_give_identical_files(self):
        a, b = self.out("t1.h5"), self.out("t2.h5")
        run("run", self.spec, "-o", a, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", self.spec, "-o", b, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        # and h5diff does see a real difference: change one weight
        job = jobs_table(b)["id"][5]
        with h5py.File(b, "r+") as f:
            w = f[f"runs/{job}/weights/final/W1"]
            w[0, 0] = w[0, 0] + 1.0
        self.assertEqual(h5diff(a, b).returncode, 1)

    @unittest.skipUnless(os.environ.get("REGSWEEP_OTHER"),
                         "REGSWEEP_OTHER (a second build, e.g. clang -O0) not set")
    def test_other_build_gives_identical_files(self):
        """Another compiler and build type (tools/test.sh passes a clang
        debug build) writes the same results."""
        a, b = self.out("this.h5"), self.out("other.h5")
        run("run", self.spec, "-o", a, check=0)
        p = subprocess.run([os.environ["REGSWEEP_OTHER"], "run", self.spec, "-o", b],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        with h5py.File(b, "r") as f:
            self.assertIn("clang", f["provenance"].attrs["build"])

    def test_simd_paths_give_identical_files(self):
        a, b = self.out("scalar.h5"), self.out("best.h5")
        run("run", self.spec, "-o", a, "--simd", "scalar", check=0)
        run("run", self.spec, "-o", b, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_jobs_table_and_layout(self):
        out = self.out("r.h5")
        run("run", self.spec, "-o", out, check=0)
        df = jobs_table(out)
        self.assertEqual(len(df), 24)
        self.assertTrue((df["status"] == "done").all())
        self.assertEqual(sorted(df["seed"].unique()), [0, 1, 2, 3])
        self.assertTrue(np.allclose(df["gap"], df["test_loss"] - df["train_loss"]))
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["format"], "regsweep-results")
            self.assertEqual(f["spec/yaml"].asstr()[()], SMALL)
            for job_id in df["id"]:
                run_ = f["runs"][job_id]
                self.assertEqual(run_.attrs["job_id"], job_id)
                self.assertEqual(run_["curves/test_loss"].shape, (13,))
                self.assertEqual(run_["weights/final/W1"].shape, (16, 12))

    def test_masks_regenerate_from_the_documented_counters(self):
        """An independent numpy Philox regenerates every stored mask."""
        out = self.out("m.h5")
        run("run", self.spec, "-o", out, check=0)
        df = jobs_table(out)
        checked = 0
        with h5py.File(out, "r") as f:
            for _, row in df.iterrows():
                g = f["runs"][row["id"]]
                if "masks" not in g:
                    continue
                m = g["masks"]
                for layer in (0, 1):
                    name = f"layer{layer}"
                    keep = row[f"keep_prob_{layer + 1}"]
                    if keep == 1.0:
                        self.assertNotIn(name, m)
                        continue
                    stored = m[name][()]
                    units = m[name].attrs["n_units"]
                    for r in range(0, stored.shape[0], 5):
                        rows = int(m["n_rows"][r])
                        mine = philox_np.dropout_bits(int(row["seed"]), layer,
                                                      int(m["epoch"][r]), int(m["step"][r]),
                                                      rows, int(units), keep)
                        np.testing.assert_array_equal(stored[r, :rows], mine)
                        checked += 1
        self.assertGreater(checked, 20)

    def test_format_md_example_runs_on_values_straight_from_h5py(self):
        """docs/FORMAT.md's "Regenerating a mask" code, read from the file,
        regenerates stored masks from arguments exactly as h5py returns them:
        a numpy.uint64 seed, numpy.uint32 epoch/step/n_rows, a numpy.uint64
        n_units (with the old example, seed & 0xFFFFFFFF was a TypeError)."""
        doc = os.path.join(os.environ.get("RS_SOURCE_ROOT",
                                          os.path.join(os.path.dirname(__file__), "..", "..")),
                           "docs", "FORMAT.md")
        with open(doc) as f:
            text = f.read()
        section = text.split("### Regenerating a mask without regsweep", 1)[1]
        lines, started = [], False
        for line in section.splitlines():
            if line.startswith("    "):
                started = True
                lines.append(line[4:])
            elif started and line.strip():
                break
            elif started:
                lines.append("")
        ns = {}
        exec("\n".join(lines), ns)   # the documented code, as a reader pastes it
        out = self.out("fmt.h5")
        run("run", self.spec, "-o", out, check=0)
        checked = 0
        with h5py.File(out, "r") as f:
            for i, job_id in enumerate(f["jobs/id"].asstr()[()]):
                g = f["runs"][job_id]
                seed = f["jobs/seed"][i]
                self.assertIsInstance(seed, np.uint64)
                self.assertEqual(seed, g.attrs["seed"])
                if "masks" not in g:
                    continue
                m = g["masks"]
                for layer in (0, 1):
                    if f"layer{layer}" not in m:
                        continue
                    d = m[f"layer{layer}"]
                    for r in range(0, d.shape[0], 7):
                        n_rows = m["n_rows"][r]
                        got = ns["mask"](seed, layer, m["epoch"][r], m["step"][r], n_rows,
                                         d.attrs["n_units"], d.attrs["keep_prob"])
                        want = np.unpackbits(d[r, :n_rows], axis=1,
                                             bitorder="little")[:, :d.attrs["n_units"]]
                        np.testing.assert_array_equal(got, want.astype(bool))
                        checked += 1
        self.assertGreater(checked, 20)

    def test_rerun_is_bit_identical_and_detects_tampering(self):
        out = self.out("r.h5")
        run("run", self.spec, "-o", out, check=0)
        p = run("rerun", out, "--job", "12", check=0)   # keep 0.7, seed 0
        self.assertIn("bit-identical", p.stdout)
        job = jobs_table(out)["id"][12]
        run("rerun", out, "--job", job, "--simd", "scalar", check=0)
        with h5py.File(out, "r+") as f:
            m = f[f"runs/{job}/masks/layer0"]
            m[3, 2, 1] = m[3, 2, 1] ^ 4
        p = run("rerun", out, "--job", job, check=1)
        self.assertIn("masks/layer0 differs first at record 3", p.stdout)
        run("rerun", out, "--job", "999", check=2)

    def test_results_file_alone_is_enough(self):
        """OUT.h5 copied elsewhere without OUT.jobs: rerun and info work."""
        out = self.out("r.h5")
        run("run", self.spec, "-o", out, check=0)
        alone = os.path.join(self.dir, "elsewhere")
        os.mkdir(alone)
        moved = os.path.join(alone, "moved.h5")
        os.rename(out, moved)
        p = run("rerun", moved, "--job", "20", check=0)
        self.assertIn("bit-identical", p.stdout)
        p = run("info", moved, check=0)
        self.assertIn("finished:  24 of 24", p.stdout)
        # the stored spec, written out, runs the same grid
        p = run("info", moved, "--spec", check=0)
        again = self.out("again.yaml")
        with open(again, "w") as f:
            f.write(p.stdout)
        self.assertTrue(p.stdout.startswith("name: small\n"), p.stdout)
        ids = lambda s: [l.split()[:3] for l in run("expand", s, check=0).stdout.splitlines()[:-1]]
        self.assertEqual(ids(again), ids(self.spec))

    def test_kill_and_resume_equals_uninterrupted(self):
        spec = self.out("long.yaml")
        with open(spec, "w") as f:
            f.write(SMALL.replace("to: 3", "to: 39").replace("epochs: 12", "epochs: 60"))
        full, cut = self.out("full.h5"), self.out("cut.h5")
        # two of these 240 jobs diverge (seed 23, keep 0.7): they are saved
        # as diverged, and must come out the same after kill and resume
        p = run("run", spec, "-o", full, check=1)
        self.assertIn("2 of 240 jobs diverged", p.stderr)
        with h5py.File(full, "r") as f:
            status = f["jobs/status"].asstr()[()]
            seed, keep = f["jobs/seed"][()], f["jobs/keep_prob_1"][()]
            epoch = f["jobs/diverged_epoch"][()]
        div = status == "diverged"
        self.assertEqual(sorted(set(seed[div])), [23])
        self.assertTrue(np.allclose(keep[div], 0.7))
        self.assertTrue(np.isfinite(epoch[div]).all() and np.isnan(epoch[~div]).all())
        proc = subprocess.Popen([REGSWEEP, "run", spec, "-o", cut],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        jobs = self.out("cut.jobs")
        deadline = time.time() + 60
        while time.time() < deadline:
            n = len([x for x in os.listdir(jobs) if x.endswith(".h5")]) if os.path.isdir(jobs) else 0
            if n >= 30:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = {x for x in os.listdir(jobs) if x.endswith(".h5")}
        self.assertGreater(len(done_before), 0)
        self.assertLess(len(done_before), 240, "the sweep finished before the kill")
        p = run("run", spec, "-o", cut, "--resume", "--allow-diverged", check=0)
        self.assertIn(f"{len(done_before)} already done", p.stderr)
        # finished jobs are neither lost nor recomputed: no job ran twice
        # (one provenance line at most: a kill between a job file's rename
        # and its line loses the line, not the job), and the pack took
        # every job file
        with open(os.path.join(jobs, "provenance.tsv")) as f:
            ran = [line.split("\t")[0] for line in f]
        self.assertEqual(len(ran), len(set(ran)))
        self.assertGreaterEqual(len(ran), 240 - 2)
        self.assertEqual([x for x in os.listdir(jobs) if x.endswith(".h5")], [])
        d = h5diff(full, cut)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_bad_spec_exits_2_and_writes_nothing(self):
        bad = self.out("bad.yaml")
        with open(bad, "w") as f:
            f.write(SMALL.replace("epochs: 12", "epocs: 12"))
        out = self.out("never.h5")
        p = run("run", bad, "-o", out, check=2)
        self.assertIn("bad.yaml:4:", p.stderr)
        self.assertIn("did you mean 'epochs'", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(self.out("never.jobs")))

    def test_existing_output_is_not_touched(self):
        out = self.out("r.h5")
        run("run", self.spec, "-o", out, check=0)
        before = os.stat(out).st_mtime_ns
        p = run("run", self.spec, "-o", out, check=2)
        self.assertIn("--resume", p.stderr)
        self.assertEqual(os.stat(out).st_mtime_ns, before)
        other = self.out("other.yaml")
        with open(other, "w") as f:
            f.write(SMALL.replace("lr: 0.02", "lr: 0.03"))
        p = run("run", other, "-o", out, "--resume", check=2)
        self.assertIn("different spec", p.stderr)
        self.assertIn("lr: 0.03", p.stderr)
        self.assertEqual(os.stat(out).st_mtime_ns, before)
        # a file that is not ours is refused too
        junk = self.out("junk.h5")
        with h5py.File(junk, "w") as f:
            f["x"] = 1
        p = run("run", self.spec, "-o", junk, "--resume", check=2)
        self.assertIn("not a regsweep results file", p.stderr)

    def test_expand_prints_grid_and_writes_nothing(self):
        before = set(os.listdir(self.dir))
        p = run("expand", self.spec, "axes.l2=[0, 0.1, 0.2]", check=0)
        self.assertIn("36 jobs = 4 seeds x 3 keep_prob x 3 l2 x 1 l1", p.stdout)
        self.assertEqual(len(p.stdout.strip().splitlines()), 40)
        self.assertEqual(set(os.listdir(self.dir)), before)
        # the size estimate against the bytes really written (deterministic:
        # the files have no timestamps)
        est = float(re.search(r"about ([0-9.]+) MiB of job files", p.stdout).group(1))
        packed = float(re.search(r"at most ([0-9.]+) MiB", p.stdout).group(1))
        out = self.out("est.h5")
        run("run", self.spec, "-o", out, "axes.l2=[0, 0.1, 0.2]", "--no-pack", check=0)
        jobs = self.out("est.jobs")
        real = sum(os.path.getsize(os.path.join(jobs, n)) for n in os.listdir(jobs)
                   if n.endswith(".h5")) / 2**20
        self.assertTrue(real <= est <= 1.5 * real + 0.1, (real, est))
        run("info", out, "--rebuild", check=0)
        self.assertLessEqual(os.path.getsize(out) / 2**20, packed + 0.05)

    def test_overrides_are_stored_and_reused_by_rerun(self):
        out = self.out("o.h5")
        run("run", self.spec, "-o", out, "train.epochs=5", "axes.seed=[7]", check=0)
        df = jobs_table(out)
        self.assertEqual(list(df["seed"].unique()), [7])
        with h5py.File(out, "r") as f:
            self.assertEqual(list(f["spec/overrides"].asstr()[()]),
                             ["train.epochs=5", "axes.seed=[7]"])
            self.assertEqual(f["runs"][df["id"][0]]["curves/test_loss"].shape, (6,))
        run("rerun", out, "--job", "0", check=0)


class Reference(unittest.TestCase):
    """The training core against an independent float64 numpy implementation
    of the chapter's algorithm, started from the weights regsweep stored."""

    def test_full_batch_training_matches_numpy(self):
        with tempfile.TemporaryDirectory() as d:
            spec = os.path.join(d, "ref.yaml")
            with open(spec, "w") as f:
                f.write("dataset: {kind: sin, n_train: 100, n_test: 500, seed: 1}\n"
                        "model: {layers: [1, 64, 64, 1]}\n"
                        "train: {lr: 0.01, epochs: 200, shuffle: false}\n"
                        "record: {masks: none}\n"
                        "axes: {seed: 0, l2: 0.001}\n")
            out = os.path.join(d, "ref.h5")
            run("run", spec, "-o", out, check=0)
            with h5py.File(out, "r") as f:
                g = f["runs"][jobs_table(out)["id"][0]]
                W = [g[f"weights/init/W{l}"][()].astype(np.float64) for l in range(3)]
                b = [g[f"weights/init/b{l}"][()].astype(np.float64) for l in range(3)]
                test_curve = g["curves/test_loss"][()]
                train_curve = g["curves/train_loss"][()]
            x, y, xt, yt = sin_data(seed=1, n_train=100, n_test=500, noise=0.5)

            def fwd(X):
                z1 = X @ W[0] + b[0]; a1 = np.maximum(z1, 0)
                z2 = a1 @ W[1] + b[1]; a2 = np.maximum(z2, 0)
                return z1, a1, z2, a2, a2 @ W[2] + b[2]

            for epoch in range(200):
                z1, a1, z2, a2, p = fwd(x)
                d3 = 2 * (p - y) / len(x)
                d2 = (d3 @ W[2].T) * (z2 > 0)
                d1 = (d2 @ W[1].T) * (z1 > 0)
                grads = [(x.T @ d1, d1.sum(0)), (a1.T @ d2, d2.sum(0)), (a2.T @ d3, d3.sum(0))]
                for l, (gw, gb) in enumerate(grads):
                    W[l] -= 0.01 * (gw + 0.001 * W[l])
                    b[l] -= 0.01 * gb
            test_mse = np.mean((fwd(xt)[-1] - yt) ** 2)
            train_mse = np.mean((fwd(x)[-1] - y) ** 2)
            # float32 (regsweep) vs float64 (numpy) over 200 steps
            self.assertAlmostEqual(test_curve[200] / test_mse, 1.0, delta=2e-3)
            self.assertAlmostEqual(train_curve[200] / train_mse, 1.0, delta=2e-3)


def sin_data(seed, n_train, n_test, noise):
    """The sin data set from docs/FORMAT.md's formulas, in numpy float32
    (numpy's sin/log/cos may differ from regsweep's detmath by an ulp, far
    below what the comparison above resolves)."""
    key = philox_np.key_of_seed(seed)
    out = []
    for split, n in ((0, n_train), (1, n_test)):
        ctr = np.zeros((n, 4), np.uint32)
        ctr[:, 0] = 2 | (split << 8)
        ctr[:, 1] = np.arange(n)
        w = philox_np.philox4x32_10(ctr, key)
        two_pi, pi = np.float32(6.28318548202514648438), np.float32(3.14159274101257324219)
        x = two_pi * ((w[:, 0] >> 8).astype(np.float32) * np.float32(2**-24)) - pi
        y = np.sin(x)
        if split == 0:
            u1 = ((w[:, 2] >> 8) + 1).astype(np.float32) * np.float32(2**-24)
            u2 = (w[:, 3] >> 8).astype(np.float32) * np.float32(2**-24)
            z = np.sqrt(np.float32(-2) * np.log(u1)) * np.cos(two_pi * u2)
            y = y + np.float32(noise) * z
        out += [x.astype(np.float64)[:, None], y.astype(np.float64)[:, None]]
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
