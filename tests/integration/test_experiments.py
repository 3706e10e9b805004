#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The shipped specs cannot rot: every experiments/*.yaml expands as it
is, runs and reports with a tiny override (1 epoch, 2 seeds, Fashion-MNIST
cut to a few hundred rows), is installed by meson.build and is named in
README.md or docs/EXERCISES.md; tools/job_stats.py, which the exercises'
answers use, reads what those runs store.  Specs that need Fashion-MNIST
are skipped where /usr/share/datasets/fashion-mnist is missing.

Run by meson (`meson test`), which passes the regsweep binary in $REGSWEEP
and the source root in $RS_SOURCE_ROOT.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")
ROOT = os.environ.get("RS_SOURCE_ROOT",
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPECS = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.yaml")))
FMNIST = "/usr/share/datasets/fashion-mnist"
JOB_STATS = os.path.join(ROOT, "tools", "job_stats.py")
TINY = ["train.epochs=1", "axes.seed=[0, 1]"]
TINY_IDX = ["dataset.max_train=300", "dataset.max_test=200"]


def run(*args, check=0):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}, expected {check}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def uses_fmnist(path):
    with open(path) as f:
        return re.search(r"kind:\s*(idx|fashion_mnist)", f.read()) is not None


def md_rows(text, title):
    """The rows (lists of cells) of the markdown table after the line that
    starts with `title`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


class Experiments(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.outputs = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def tiny_run(self, spec):
        """Runs a spec with the tiny overrides (once per test run) and
        returns its results file."""
        name = os.path.splitext(os.path.basename(spec))[0]
        if name in self.outputs:
            return self.outputs[name]
        out = os.path.join(self.tmp.name, name + ".h5")
        extra = TINY_IDX if uses_fmnist(spec) else []
        run(REGSWEEP, "run", spec, "-o", out, "--allow-diverged", *TINY, *extra)
        self.outputs[name] = out
        return out

    def test_there_are_specs(self):
        names = {os.path.basename(s) for s in SPECS}
        for want in ("ch311_sin.yaml", "d2l_ex3_act_var.yaml", "ch311_mc_dropout.yaml"):
            self.assertIn(want, names)

    def test_every_spec_expands_runs_and_reports(self):
        for spec in SPECS:
            with self.subTest(spec=os.path.basename(spec)):
                if uses_fmnist(spec) and not os.path.isdir(FMNIST):
                    self.skipTest(f"{FMNIST} missing (Debian's dataset-fashion-mnist)")
                run(REGSWEEP, "expand", spec)
                out = self.tiny_run(spec)
                with h5py.File(out, "r") as f:
                    status = list(f["jobs/status"].asstr()[()])
                    self.assertTrue(status, spec)
                    self.assertNotIn("missing", status)
                    self.assertNotIn("failed", status)
                p = run(REGSWEEP, "report", out, "--no-store")
                self.assertIn("configs", p.stdout.splitlines()[0])

    def test_every_spec_is_installed_and_documented(self):
        with open(os.path.join(ROOT, "meson.build")) as f:
            installed = set(re.findall(r"'experiments/([A-Za-z0-9_.-]+\.yaml)'", f.read()))
        docs = ""
        for doc in ("README.md", os.path.join("docs", "EXERCISES.md")):
            with open(os.path.join(ROOT, doc)) as f:
                docs += f.read()
        for spec in SPECS:
            name = os.path.basename(spec)
            self.assertIn(name, installed, "not in meson.build's install_data of experiments")
            self.assertIn(f"experiments/{name}", docs, "named in neither README.md nor EXERCISES.md")

    def test_job_stats_reads_what_the_exercise_specs_store(self):
        """tools/job_stats.py on the tiny runs: its per-config means are the
        values read directly from the jobs (zero_frac, the MC-dropout
        difference, act_var), its paired differences those of the seeds."""
        cases = (("ch311_l1_zeros.yaml", "curves/zero_frac[-1,1]", None,
                  lambda f, i, g: g["curves/zero_frac"][-1, 1]),
                 ("ch311_mc_dropout.yaml", "curves/test_loss_mc[-1]", "curves/test_loss[-1]",
                  lambda f, i, g: g["curves/test_loss_mc"][-1] - g["curves/test_loss"][-1]),
                 ("d2l_ex3_act_var.yaml", "act_var/noise_var[:,0]", None,
                  lambda f, i, g: np.mean(g["act_var/noise_var"][:, 0])),
                 ("d2l_ex6_dropout_vs_weight_decay.yaml", "jobs/gap", None,
                  lambda f, i, g: f["jobs/gap"][i]))
        for name, q, minus, direct in cases:
            spec = os.path.join(ROOT, "experiments", name)
            with self.subTest(spec=name):
                if uses_fmnist(spec) and not os.path.isdir(FMNIST):
                    self.skipTest(f"{FMNIST} missing")
                out = self.tiny_run(spec)
                args = [sys.executable, JOB_STATS, out, q, "--format", "md"]
                if minus:
                    args += ["--minus", minus]
                p = run(*args)
                with h5py.File(out, "r") as f:
                    ids = f["jobs/id"].asstr()[()]
                    values = np.array([direct(f, k, f["runs"][i]) for k, i in enumerate(ids)])
                    configs = len(ids) // 2          # 2 seeds, seed fastest
                rows = md_rows(p.stdout, os.path.basename(out))
                self.assertEqual(len(rows), configs, p.stdout)
                for k, row in enumerate(rows):
                    mean = float(row[2].split(" [")[0])
                    want = values[2 * k:2 * k + 2].mean()
                    self.assertAlmostEqual(mean, want, delta=6e-3 * abs(want) + 1e-12,
                                           msg=f"{row}\n{p.stdout}")
                    self.assertEqual(row[1], "2")
                if "against the baseline" in p.stdout:
                    paired = md_rows(p.stdout, q)
                    d = values[2:4] - values[0:2]
                    got = float(paired[0][2].split(" [")[0])
                    self.assertAlmostEqual(got, d.mean(), delta=6e-3 * abs(d.mean()) + 1e-12)

    def test_job_stats_interaction(self):
        """--interaction: A's effect without B, with B, and the difference,
        per seed, equal the values computed from /jobs here."""
        spec = os.path.join(ROOT, "experiments", "d2l_ex6_dropout_vs_weight_decay.yaml")
        if not os.path.isdir(FMNIST):
            self.skipTest(f"{FMNIST} missing")
        out = self.tiny_run(spec)
        p = run(sys.executable, JOB_STATS, out, "jobs/gap", "--format", "md",
                "--interaction", "keep_prob_1=0.8,keep_prob_2=0.5", "l2=1e-3")
        with h5py.File(out, "r") as f:
            gap = f["jobs/gap"][()].reshape(2, 2, 2)      # keep x l2 x seed
        a_without = gap[1, 0] - gap[0, 0]
        a_with = gap[1, 1] - gap[0, 1]
        rows = md_rows(p.stdout, "jobs/gap: the effect of")
        self.assertEqual(len(rows), 3, p.stdout)
        for row, d in zip(rows, (a_without, a_with, a_with - a_without)):
            got = float(row[2].split(" [")[0])
            self.assertAlmostEqual(got, d.mean(), delta=6e-3 * abs(d.mean()) + 1e-12,
                                   msg=p.stdout)
        p = run(sys.executable, JOB_STATS, out, "jobs/gap", "--interaction", "l2=0.5",
                "keep_prob_1=0.8", check=2)
        self.assertIn("no config is the baseline with", p.stderr)

    def test_job_stats_refuses_bad_quantities(self):
        spec = os.path.join(ROOT, "experiments", "ch311_l1_zeros.yaml")
        out = self.tiny_run(spec)
        p = run(sys.executable, JOB_STATS, out, "curves/zero_frac", check=2)
        self.assertIn("expected PATH[INDEX]", p.stderr)
        p = run(sys.executable, JOB_STATS, out, "curves/zero_frac[-1,x]", check=2)
        self.assertIn("neither an integer", p.stderr)
        p = run(sys.executable, JOB_STATS, out, "curves/test_loss[-1]", "--baseline", "nope",
                check=2)
        self.assertIn("no config labelled 'nope'", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
