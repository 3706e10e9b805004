#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the spec's `reg` section (docs/SPEC.md): proximal L1,
max-norm, input noise and the dropout noise distributions.  Each checks the
documented effect, thread-count invariance (h5diff of whole files), that
`rerun` reproduces the job, and that the defaults leave results unchanged.

Run by meson (`meson test`), which passes the regsweep binary in $REGSWEEP.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import philox_np  # noqa: E402
from test_sweep import sin_data  # noqa: E402

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

BASE = """\
name: reg
dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}
model: {layers: [1, 16, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 12, batch_size: 16, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 1}
  keep_prob: [1.0, 0.7]
  l1: [0, 0.2]
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
    return subprocess.run(["h5diff", "--exclude-path", "/provenance",
                           "--exclude-path", "/analysis", a, b],
                          capture_output=True, text=True)


def jobs(f):
    """(id, seed, keep_prob_1, l1) of every row of /jobs."""
    return list(zip(f["jobs/id"].asstr()[()], f["jobs/seed"][()],
                    f["jobs/keep_prob_1"][()], f["jobs/l1"][()]))


def zeros_per_layer(g, n_layers=3):
    return np.array([np.mean(g[f"weights/final/W{l}"][()] == 0.0) for l in range(n_layers)])


class Reg(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def spec(self, name, extra=""):
        path = os.path.join(self.dir, name + ".yaml")
        with open(path, "w") as f:
            f.write(BASE + extra)
        return path

    def out(self, name):
        return os.path.join(self.dir, name)

    def test_defaults_leave_results_unchanged(self):
        """A spec with every reg key at its default trains the same bits as
        one without the section, and neither stores curves/zero_frac."""
        a, b = self.out("plain.h5"), self.out("default.h5")
        run("run", self.spec("plain"), "-o", a, check=0)
        run("run", self.spec("default", "reg: {l1_mode: subgradient}\n"), "-o", b, check=0)
        with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
            self.assertEqual(jobs(fa), jobs(fb))
            for job_id, *_ in jobs(fa):
                ga, gb = fa["runs"][job_id], fb["runs"][job_id]
                self.assertNotIn("zero_frac", ga["curves"])
                self.assertNotIn("zero_frac", gb["curves"])
                for name in ("weights/final/W0", "weights/final/W1", "weights/final/W2",
                             "curves/test_loss", "curves/train_loss_dropout"):
                    np.testing.assert_array_equal(ga[name][()], gb[name][()], name)
                self.assertEqual(ga["weights/final"].attrs["sha256"],
                                 gb["weights/final"].attrs["sha256"])

    def test_proximal_l1_gives_exact_zeros(self):
        """Proximal L1 leaves exact zeros (the zero_frac curve counts them),
        subgradient L1 of the same strength essentially none; the files are
        the same on 1 and 2 threads and rerun reproduces them."""
        spec = self.spec("prox", "reg: {l1_mode: proximal}\n")
        a, b = self.out("p1.h5"), self.out("p2.h5")
        run("run", spec, "-o", a, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", spec, "-o", b, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        sub = self.out("sub.h5")
        run("run", spec, "-o", sub, "reg.l1_mode=subgradient", "record.zero_frac=true",
            check=0)
        with h5py.File(a, "r") as f, h5py.File(sub, "r") as fs:
            for job_id, seed, keep, l1 in jobs(f):
                zf = f["runs"][job_id]["curves/zero_frac"][()]
                self.assertEqual(zf.shape, (13, 3))
                np.testing.assert_array_equal(zf[0], 0.0)      # He init has no zeros
                final = zeros_per_layer(f["runs"][job_id])
                np.testing.assert_array_equal(zf[-1], final)
                zf_sub = fs["runs"][job_id]["curves/zero_frac"][()]
                np.testing.assert_array_equal(zf_sub[-1], zeros_per_layer(fs["runs"][job_id]))
                if l1 > 0:
                    # layer 0 (16 weights of sd 1.4) may keep all of its own
                    self.assertGreater(final[1:].min(), 0.05, (job_id, final))
                    self.assertLessEqual(zf_sub.max(), 0.01, (job_id, zf_sub))
                else:
                    np.testing.assert_array_equal(zf, 0.0)
        p = run("rerun", a, "--job", "3", check=0)
        self.assertIn("bit-identical", p.stdout)
        with h5py.File(a, "r+") as f:
            job_id = f["jobs/id"].asstr()[3]
            ds = f[f"runs/{job_id}/curves/zero_frac"]
            ds[5, 1] = ds[5, 1] + 0.5
        p = run("rerun", a, "--job", "3", check=1)
        self.assertIn("curves/zero_frac differs first at epoch 5, layer 1", p.stdout)

    def test_max_norm_bounds_hidden_columns(self):
        """Every hidden unit's incoming weight vector (a column of W0, W1)
        ends with norm <= c (checked in float64 numpy), the unconstrained
        run leaves many outside; 1 and 2 threads give the same file; rerun
        reproduces a job."""
        spec = self.spec("mn", "reg: {max_norm: 0.8}\n")
        a, b, free = self.out("m1.h5"), self.out("m2.h5"), self.out("free.h5")
        run("run", spec, "-o", a, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", spec, "-o", b, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        run("run", self.spec("free"), "-o", free, check=0)
        with h5py.File(a, "r") as f, h5py.File(free, "r") as ff:
            outside = 0
            for job_id, *_ in jobs(f):
                for l in (0, 1):
                    W = f["runs"][job_id][f"weights/final/W{l}"][()].astype(np.float64)
                    norms = np.sqrt((W ** 2).sum(axis=0))
                    self.assertLessEqual(norms.max(), 0.8 * (1 + 1e-6), (job_id, l))
                    Wf = ff["runs"][job_id][f"weights/final/W{l}"][()].astype(np.float64)
                    outside += int((np.sqrt((Wf ** 2).sum(axis=0)) > 0.8).sum())
                # the output layer is not constrained
                self.assertEqual(f["runs"][job_id]["weights/final/W2"].shape, (12, 1))
            self.assertGreater(outside, 20)
        p = run("rerun", a, "--job", "5", check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_input_noise_is_the_documented_draws(self):
        """A linear model (layers [1, 1]) trained by minibatch SGD on noisy
        inputs, recomputed in float64 numpy from the stored initial weights,
        the sin data and the noise regenerated by philox_np from
        docs/FORMAT.md's counter mapping: the final weights agree to float32
        rounding, and training without the noise does not."""
        path = os.path.join(self.dir, "lin.yaml")
        with open(path, "w") as f:
            f.write("dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}\n"
                    "model: {layers: [1, 1]}\n"
                    "train: {lr: 0.05, epochs: 3, batch_size: 16, shuffle: false}\n"
                    "reg: {input_noise_sd: 0.3}\n"
                    "record: {masks: none}\n"
                    "axes: {seed: [5, 4294967301]}\n")
        out = self.out("lin.h5")
        run("run", path, "-o", out, check=0)
        x, y, _, _ = sin_data(seed=3, n_train=64, n_test=50, noise=0.5)
        with h5py.File(out, "r") as f:
            for job_id, seed in zip(f["jobs/id"].asstr()[()], f["jobs/seed"][()]):
                g = f["runs"][job_id]

                def train(noise_sd):
                    W = g["weights/init/W0"][()].astype(np.float64)
                    b = g["weights/init/b0"][()].astype(np.float64)
                    for epoch in range(3):
                        for step in range(4):
                            rows = slice(16 * step, 16 * step + 16)
                            z = philox_np.input_noise(int(seed), epoch, step, 16, 1)
                            xb = x[rows] + noise_sd * z.astype(np.float64)
                            d = 2 * (xb @ W + b - y[rows]) / 16
                            W -= 0.05 * (xb.T @ d)
                            b -= 0.05 * d.sum(0)
                    return W, b

                W, b = train(0.3)
                Wc, bc = train(0.0)
                Wf, bf = g["weights/final/W0"][()], g["weights/final/b0"][()]
                np.testing.assert_allclose(Wf, W, rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(bf, b, rtol=1e-5, atol=1e-6)
                self.assertGreater(abs(Wf - Wc).max() + abs(bf - bc).max(), 1e-3)

    def test_input_noise_thread_invariance(self):
        spec = self.spec("noise", "reg: {input_noise_sd: 0.2}\n")
        a, b = self.out("n1.h5"), self.out("n2.h5")
        run("run", spec, "-o", a, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", spec, "-o", b, "--simd", "scalar", env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        # the noise changes training (but not the initial weights)
        plain = self.out("plain.h5")
        run("run", self.spec("plain"), "-o", plain, check=0)
        with h5py.File(a, "r") as f, h5py.File(plain, "r") as fp:
            job_id = jobs(f)[0][0]
            np.testing.assert_array_equal(f["runs"][job_id]["weights/init/W1"][()],
                                          fp["runs"][job_id]["weights/init/W1"][()])
            self.assertFalse(np.array_equal(f["runs"][job_id]["weights/final/W1"][()],
                                            fp["runs"][job_id]["weights/final/W1"][()]))
        p = run("rerun", a, "--job", "2", check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_noise_kinds(self):
        """three_point and gaussian dropout noise: 1 and 2 threads give the
        same file; three_point stores the nonzero pattern, which numpy
        regenerates from the documented counters (and which is the
        Bernoulli run's mask); gaussian stores no mask; rerun reproduces
        both; the training differs from Bernoulli's."""
        plain = self.out("bern.h5")
        run("run", self.spec("bern"), "-o", plain, check=0)
        for kind in ("three_point", "gaussian"):
            spec = self.spec(kind, f"reg: {{noise: {kind}}}\n")
            a, b = self.out(kind + "1.h5"), self.out(kind + "2.h5")
            run("run", spec, "-o", a, env={"OMP_NUM_THREADS": "1"}, check=0)
            run("run", spec, "-o", b, env={"OMP_NUM_THREADS": "2"}, check=0)
            d = h5diff(a, b)
            self.assertEqual(d.returncode, 0, kind + d.stdout + d.stderr)
            with h5py.File(a, "r") as f, h5py.File(plain, "r") as fp:
                for job_id, seed, keep, l1 in jobs(f):
                    g, gp = f["runs"][job_id], fp["runs"][job_id]
                    if keep == 1.0:
                        np.testing.assert_array_equal(g["weights/final/W1"][()],
                                                      gp["weights/final/W1"][()])
                        continue
                    self.assertFalse(np.array_equal(g["weights/final/W1"][()],
                                                    gp["weights/final/W1"][()]))
                    if kind == "gaussian":
                        self.assertNotIn("layer0", g["masks"])
                        continue
                    m = g["masks"]
                    np.testing.assert_array_equal(m["layer0"][()], gp["masks/layer0"][()])
                    for r in range(0, m["layer0"].shape[0], 7):
                        rows = int(m["n_rows"][r])
                        mine = philox_np.dropout_bits(int(seed), 0, int(m["epoch"][r]),
                                                      int(m["step"][r]), rows, 16, keep)
                        np.testing.assert_array_equal(m["layer0"][r, :rows], mine)
            p = run("rerun", a, "--job", "6", check=0)
            self.assertIn("bit-identical", p.stdout)

    def test_dropconnect_is_the_documented_masks(self):
        """A 1-8-1 tanh net trained full-batch with DropConnect on W1,
        recomputed in float64 numpy from the stored initial weights with the
        masks regenerated by philox_np (purpose 8): forward with W1 * mask,
        gradient of W1 times the mask.  The final weights agree to float32
        rounding; without the masks they do not.  1 and 2 threads give the
        same file and rerun reproduces it."""
        path = os.path.join(self.dir, "dc.yaml")
        with open(path, "w") as f:
            f.write("dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}\n"
                    "model: {layers: [1, 8, 1], activation: tanh}\n"
                    "train: {lr: 0.05, epochs: 5, shuffle: false}\n"
                    "reg: {dropconnect_keep_prob: 0.5}\n"
                    "record: {masks: none}\n"
                    "axes: {seed: [2, 3]}\n")
        out, out2 = self.out("dc.h5"), self.out("dc2.h5")
        run("run", path, "-o", out, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", path, "-o", out2, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(out, out2)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        x, y, _, _ = sin_data(seed=3, n_train=64, n_test=50, noise=0.5)
        scale = float(np.float32(1) / np.float32(0.5))
        with h5py.File(out, "r") as f:
            for job_id, seed in zip(f["jobs/id"].asstr()[()], f["jobs/seed"][()]):
                g = f["runs"][job_id]

                def train(masked):
                    W = [g[f"weights/init/W{l}"][()].astype(np.float64) for l in (0, 1)]
                    b = [g[f"weights/init/b{l}"][()].astype(np.float64) for l in (0, 1)]
                    for epoch in range(5):
                        m = np.ones((8, 1))
                        if masked:
                            m = philox_np.dropconnect_keep(int(seed), 1, epoch, 0, 8, 0.5)
                            m = m.reshape(8, 1) * scale
                        a1 = np.tanh(x @ W[0] + b[0])
                        W1m = W[1] * m
                        dp = 2 * (a1 @ W1m + b[1] - y) / 64
                        dz1 = (dp @ W1m.T) * (1 - a1 * a1)
                        grads = [(x.T @ dz1, dz1.sum(0)), ((a1.T @ dp) * m, dp.sum(0))]
                        for l, (gw, gb) in enumerate(grads):
                            W[l] -= 0.05 * gw
                            b[l] -= 0.05 * gb
                    return W + b

                final = [g[n][()] for n in ("weights/final/W0", "weights/final/W1",
                                            "weights/final/b0", "weights/final/b1")]
                for mine, stored in zip(train(True), final):
                    np.testing.assert_allclose(stored, mine, rtol=1e-4, atol=1e-6)
                diff = max(abs(a - b).max() for a, b in zip(train(False), final))
                self.assertGreater(diff, 1e-3)
        p = run("rerun", out, "--job", "1", check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_dropconnect_per_layer_masks_recorded(self):
        """reg.dropconnect_keep per hidden layer as an axis, with
        record.dropconnect_masks at selected steps: every stored W<l> mask
        is the pattern philox_np regenerates from docs/FORMAT.md (purpose 8,
        the layer's own keep); a layer kept whole stores none and leaves W1's
        draws unchanged; jobs differing only in l2 share one stored copy
        (/dropconnect_masks/<k>); the /jobs column is the per-layer text;
        1 and 2 threads give the same file and rerun reproduces a job."""
        path = os.path.join(self.dir, "dcl.yaml")
        with open(path, "w") as f:
            f.write("dataset: {kind: sin, n_train: 64, n_test: 50, noise_sd: 0.5, seed: 3}\n"
                    "model: {layers: [1, 16, 12, 1], activation: tanh}\n"
                    "train: {lr: 0.05, epochs: 4, batch_size: 16}\n"
                    "record: {masks: none, dropconnect_masks: {epochs: [0, -1], steps: [0, 3]}}\n"
                    "axes:\n"
                    "  seed: [2, 3]\n"
                    "  l2: [0, 0.001]\n"
                    "  reg.dropconnect_keep: [[0.8, 0.5], [0.8, 1]]\n")
        out, out2 = self.out("dcl.h5"), self.out("dcl2.h5")
        run("run", path, "-o", out, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", path, "-o", out2, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(out, out2)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        sizes = [1, 16, 12, 1]
        with h5py.File(out, "r") as f:
            cols = f["jobs/reg.dropconnect_keep"].asstr()[()]
            self.assertEqual(sorted(set(cols)), ["0.8/0.5", "0.8/1"])
            ids = f["jobs/id"].asstr()[()]
            seeds, l2s = f["jobs/seed"][()], f["jobs/l2"][()]
            w1 = {}
            for job_id, seed, l2, keep in zip(ids, seeds, l2s, cols):
                g = f["runs"][job_id]["dropconnect_masks"]
                np.testing.assert_array_equal(g["epoch"][()], [0, 0, 3, 3])
                np.testing.assert_array_equal(g["step"][()], [0, 3, 0, 3])
                keeps = [float(k) for k in keep.split("/")]
                self.assertEqual("W2" in g, keeps[1] < 1)
                for l in (1, 2):
                    if keeps[l - 1] == 1:
                        continue
                    n_in, n_out = sizes[l], sizes[l + 1]
                    stored = g[f"W{l}"]
                    self.assertEqual(stored.shape, (4, n_in, (n_out + 7) // 8))
                    self.assertEqual(stored.attrs["layer"], l)
                    bits = np.unpackbits(stored[()], axis=-1, bitorder="little")[:, :, :n_out]
                    for r in range(4):
                        mine = philox_np.dropconnect_keep(int(seed), l, int(g["epoch"][r]),
                                                          int(g["step"][r]), n_in * n_out,
                                                          keeps[l - 1])
                        np.testing.assert_array_equal(bits[r], mine.reshape(n_in, n_out))
                    pad = np.unpackbits(stored[()], axis=-1, bitorder="little")[:, :, n_out:]
                    self.assertFalse(pad.any())
                w1.setdefault(int(seed), []).append(g["W1"][()])
                # CRN: l2 changes no draw, so the packed file keeps one copy
                other = [i for i, (s2, k2, l22) in enumerate(zip(seeds, cols, l2s))
                         if s2 == seed and k2 == keep and l22 != l2][0]
                self.assertEqual(f["runs"][ids[other]]["dropconnect_masks"], g)
            for seed, masks in w1.items():
                self.assertEqual(len(masks), 4)
                for m in masks[1:]:
                    np.testing.assert_array_equal(m, masks[0])
            self.assertEqual(len(f["dropconnect_masks"]), 4)   # 2 seeds x 2 keeps
        p = run("rerun", out, "--job", "5", check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_early_stopping(self):
        """Jobs stop once the validation loss has not improved for the
        patience; they keep the best epoch's weights and curves, which the
        /jobs table reports; 1 and 2 threads give the same file; rerun
        reproduces a stopped job."""
        spec = self.spec("es", "reg: {early_stopping_patience: 5}\n")
        over = ["dataset.n_val=64", "train.epochs=150", "train.lr=0.05"]
        a, b = self.out("es1.h5"), self.out("es2.h5")
        run("run", spec, "-o", a, *over, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", spec, "-o", b, *over, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        stopped_index = None
        with h5py.File(a, "r") as f:
            best = f["jobs/best_epoch"][()]
            test_loss = f["jobs/test_loss"][()]
            for i, (job_id, *_) in enumerate(jobs(f)):
                g = f["runs"][job_id]
                if "stopped_epoch" not in g.attrs:
                    continue
                stopped_index = i
                e, r = int(g.attrs["stopped_epoch"]), int(g.attrs["returned_epoch"])
                self.assertEqual(e - r, 5)
                val = g["curves/val_loss"][()]
                self.assertEqual(int(np.argmin(val[:e + 1])), r)
                self.assertEqual(best[i], r)
                for name in ("test_loss", "train_loss", "val_loss"):
                    c = g[f"curves/{name}"][()]
                    np.testing.assert_array_equal(c[e + 1:], c[r])
                self.assertTrue(np.isnan(g["curves/train_loss_dropout"][e + 1:]).all())
                self.assertEqual(test_loss[i], g["curves/test_loss"][r])
                self.assertEqual(int(g.attrs["steps"]), 4 * e)
        self.assertIsNotNone(stopped_index, "no job stopped early")
        p = run("rerun", a, "--job", str(stopped_index), check=0)
        self.assertIn("bit-identical", p.stdout)

    def test_early_stopping_min_delta(self):
        """With a min_delta above any loss no epoch beats epoch 0: every job
        stops after exactly `patience` epochs and returns the initial
        model; min_delta 0 is today's rule (the same file as without the
        key); as an axis, each job follows its own value."""
        spec = self.spec("md", "reg: {early_stopping_patience: 5, "
                               "early_stopping_min_delta: 1000}\n")
        over = ["dataset.n_val=64", "train.epochs=40", "train.lr=0.05"]
        out = self.out("md.h5")
        run("run", spec, "-o", out, *over, check=0)
        with h5py.File(out, "r") as f:
            for job_id, *_ in jobs(f):
                g = f["runs"][job_id]
                self.assertEqual(int(g.attrs["stopped_epoch"]), 5)
                self.assertEqual(int(g.attrs["returned_epoch"]), 0)
                np.testing.assert_array_equal(g["weights/final/W0"][()],
                                              g["weights/init/W0"][()])
        plain = self.spec("md0", "reg: {early_stopping_patience: 5}\n")
        zero = self.spec("md1", "reg: {early_stopping_patience: 5, "
                                "early_stopping_min_delta: 0}\n")
        a, b = self.out("md0.h5"), self.out("md1.h5")
        run("run", plain, "-o", a, *over, check=0)
        run("run", zero, "-o", b, *over, check=0)
        with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
            for job_id, *_ in jobs(fa):
                ga, gb = fa["runs"][job_id], fb["runs"][job_id]
                for name in ("weights/final/W0", "weights/final/W1",
                             "curves/val_loss", "curves/test_loss"):
                    np.testing.assert_array_equal(ga[name][()], gb[name][()])
                self.assertEqual(ga.attrs.get("stopped_epoch"), gb.attrs.get("stopped_epoch"))
        p = run("run", plain, "-o", self.out("md2.h5"), *over,
                "reg.early_stopping_min_delta=0,1000", check=0)
        with h5py.File(self.out("md2.h5"), "r") as f:
            deltas = f["jobs/reg.early_stopping_min_delta"][()]
            for (job_id, *_), d in zip(jobs(f), deltas):
                g = f["runs"][job_id]
                if d == 1000:
                    self.assertEqual(int(g.attrs["returned_epoch"]), 0)
        self.assertIn("md2.h5", p.stderr)

    def test_mc_dropout_is_the_documented_average(self):
        """curves/test_loss_mc at the last epoch, recomputed in float64
        numpy from weights/final: T passes with the masks (Bernoulli) or
        multipliers (Gaussian) philox_np draws at purpose 9, the outputs
        averaged, the MSE of the mean.  The dropout counters (purpose 4)
        give another value.  1 and 2 threads give the same file; rerun
        reproduces a job."""
        E, T = 5, 8
        for kind in ("bernoulli", "gaussian"):
            spec = self.spec("mc-" + kind, f"reg: {{noise: {kind}}}\n")
            over = ["record.mc_dropout_samples=8", f"train.epochs={E}",
                    "axes.keep_prob=[[0.7, 0.8]]", "axes.l1=0"]
            a, b = self.out(kind + "-mc1.h5"), self.out(kind + "-mc2.h5")
            run("run", spec, "-o", a, *over, env={"OMP_NUM_THREADS": "1"}, check=0)
            run("run", spec, "-o", b, *over, env={"OMP_NUM_THREADS": "2"}, check=0)
            d = h5diff(a, b)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            _, _, xt, yt = sin_data(seed=3, n_train=64, n_test=50, noise=0.5)
            with h5py.File(a, "r") as f:
                for job_id, seed in zip(f["jobs/id"].asstr()[()], f["jobs/seed"][()]):
                    g = f["runs"][job_id]
                    W = [g[f"weights/final/W{l}"][()].astype(np.float64) for l in range(3)]
                    bias = [g[f"weights/final/b{l}"][()].astype(np.float64) for l in range(3)]

                    def mc(purpose):
                        total = 0
                        for t in range(T):
                            h = xt
                            for l, (units, keep) in enumerate(((16, 0.7), (12, 0.8))):
                                m = philox_np.noise_multipliers(kind, int(seed), l, E, t, 50,
                                                                units, keep, purpose=purpose)
                                h = np.maximum(h @ W[l] + bias[l], 0) * m
                            total = total + (h @ W[2] + bias[2])
                        return np.mean((total / T - yt) ** 2)

                    stored = g["curves/test_loss_mc"][E]
                    self.assertAlmostEqual(stored / mc(9), 1.0, delta=1e-5)
                    self.assertGreater(abs(stored / mc(4) - 1.0), 1e-4)
                    self.assertNotIn("test_acc_mc", g["curves"])   # regression: no accuracy
            p = run("rerun", a, "--job", "1", check=0)
            self.assertIn("bit-identical", p.stdout)

    def test_act_var_is_the_documented_measurement(self):
        """record.act_var (docs/FORMAT.md): the record of epoch 0, step 0
        recomputed in float64 numpy from the stored initial weights, the
        sin data and the multipliers philox_np draws (Bernoulli and
        Gaussian): the four statistics agree to float32 rounding; a layer
        with keep 1 adds no noise; noise_var_factor is the formula; the
        recorded steps are the selection's.  Recording changes no training
        bit (the run without it has the same weights, curves and masks),
        1 and 2 threads give the same file, rerun reproduces a job."""
        E = 4
        over = ["train.shuffle=false", f"train.epochs={E}", "axes.keep_prob=[1.0,[0.7,1.0]]",
                "axes.l1=0", "reg.noise=bernoulli,gaussian"]
        sel = "record.act_var={epochs: [0, -1], steps: [0, 3]}"
        spec = self.spec("av")
        a, b, plain = self.out("av1.h5"), self.out("av2.h5"), self.out("av0.h5")
        run("run", spec, "-o", a, *over, sel, env={"OMP_NUM_THREADS": "1"}, check=0)
        run("run", spec, "-o", b, *over, sel, env={"OMP_NUM_THREADS": "2"}, check=0)
        run("run", spec, "-o", plain, *over, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        x, _, _, _ = sin_data(seed=3, n_train=64, n_test=50, noise=0.5)
        p = float(np.float32(0.7))
        with h5py.File(a, "r") as f, h5py.File(plain, "r") as fp:
            ids = f["jobs/id"].asstr()[()]
            self.assertEqual(list(ids), list(fp["jobs/id"].asstr()[()]))
            kinds = f["jobs/reg.noise"].asstr()[()]
            for job_id, seed, keep, kind in zip(ids, f["jobs/seed"][()],
                                                f["jobs/keep_prob_1"][()], kinds):
                g, gp = f["runs"][job_id], fp["runs"][job_id]
                self.assertNotIn("act_var", gp)
                for name in ("weights/final/W0", "weights/final/W1", "weights/final/W2",
                             "curves/test_loss", "curves/train_loss_dropout"):
                    np.testing.assert_array_equal(g[name][()], gp[name][()], name)
                if keep < 1 and kind == "bernoulli":
                    np.testing.assert_array_equal(g["masks/layer0"][()],
                                                  gp["masks/layer0"][()])
                av = g["act_var"]
                self.assertEqual(av.attrs["noise"], kind)
                v = (1 - p) / p if keep < 1 else 0.0
                np.testing.assert_allclose(av.attrs["noise_var_factor"], [v, 0.0], rtol=1e-15)
                np.testing.assert_array_equal(av["epoch"][()], [0, 0, E - 1, E - 1])
                np.testing.assert_array_equal(av["step"][()], [0, 3, 0, 3])
                np.testing.assert_array_equal(av["n_rows"][()], [16] * 4)
                self.assertEqual(av["noise_var"].shape, (4, 2))
                self.assertEqual(av["noise_var"].attrs["units"], "1")
                self.assertIn("(a - h)^2", av["noise_var"].attrs["description"])
                np.testing.assert_array_equal(av["noise_var"][:, 1], 0.0)
                np.testing.assert_array_equal(av["noise_var_theory"][:, 1], 0.0)
                np.testing.assert_array_equal(av["clean_var"][:, 1], av["dropout_var"][:, 1])
                # epoch 0, step 0: rows 0..15 (no shuffle), the initial weights
                W = [g[f"weights/init/W{l}"][()].astype(np.float64) for l in range(3)]
                bias = [g[f"weights/init/b{l}"][()].astype(np.float64) for l in range(3)]
                h0 = np.maximum(x[:16] @ W[0] + bias[0], 0)
                m0 = (philox_np.noise_multipliers(kind, int(seed), 0, 0, 0, 16, 16, keep)
                      if keep < 1 else np.ones((16, 16)))
                a0 = h0 * m0
                h1 = np.maximum(a0 @ W[1] + bias[1], 0)
                mine = {"clean_var": [h0.var(), h1.var()],
                        "dropout_var": [a0.var(), h1.var()],
                        "noise_var": [np.mean((a0 - h0) ** 2), 0.0],
                        "noise_var_theory": [v * np.mean(h0 ** 2), 0.0]}
                for name, want in mine.items():
                    np.testing.assert_allclose(av[name][0], want, rtol=1e-5, atol=1e-9,
                                               err_msg=f"{job_id} {name}")
                if keep < 1:
                    self.assertGreater(av["noise_var"][0, 0], 0.0)
        p = run("rerun", a, "--job", "7", check=0)   # gaussian, keep 0.7
        self.assertIn("bit-identical", p.stdout)

    ALL = ("reg: {l1_mode: proximal, max_norm: 1.5, input_noise_sd: 0.1, "
           "noise: three_point, dropconnect_keep_prob: 0.8}\n")

    def test_all_together_on_every_simd_path(self):
        """Every reg setting at once, with MC-dropout curves: the scalar
        path on 1 thread and the best path on 2 threads write the same
        file."""
        spec = self.spec("all", self.ALL)
        a, b = self.out("scalar.h5"), self.out("best.h5")
        mc = "record.mc_dropout_samples=3"
        run("run", spec, "-o", a, mc, "--simd", "scalar", env={"OMP_NUM_THREADS": "1"},
            check=0)
        run("run", spec, "-o", b, mc, env={"OMP_NUM_THREADS": "2"}, check=0)
        d = h5diff(a, b)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    @unittest.skipUnless(os.environ.get("REGSWEEP_OTHER"),
                         "REGSWEEP_OTHER (a second build, e.g. clang -O0) not set")
    def test_other_build_gives_identical_files(self):
        """Another compiler and build type (tools/test.sh passes a clang
        debug build) writes the same results with every reg setting, and
        with gaussian noise."""
        for name, extra in (("all", self.ALL),
                            ("gauss", "reg: {noise: gaussian, max_norm: 1.0}\n")):
            spec = self.spec(name, extra)
            a, b = self.out(name + "-this.h5"), self.out(name + "-other.h5")
            mc = "record.mc_dropout_samples=3"
            run("run", spec, "-o", a, mc, check=0)
            p = subprocess.run([os.environ["REGSWEEP_OTHER"], "run", spec, "-o", b, mc],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            d = h5diff(a, b)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_bad_reg_key_says_where(self):
        spec = self.spec("bad", "reg:\n  l1_mode: lasso\n")
        p = run("run", spec, "-o", self.out("never.h5"), check=2)
        self.assertIn("bad.yaml:11:12", p.stderr)
        self.assertIn("reg.l1_mode: expected one of subgradient, proximal", p.stderr)
        self.assertFalse(os.path.exists(self.out("never.h5")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
