#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`regsweep report` end to end: what it counts, which epoch it picks, what
it refuses, and that every format parses with a strict reader.  The numbers
themselves are checked against scipy in tests/test_analysis.c and
tests/integration/test_tools.py; here they are recomputed from the results
file with numpy where a check needs them.

Run by meson, which passes the regsweep binary in $REGSWEEP.
"""
import csv
import io
import hashlib
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")

SPEC = """\
name: {name}
dataset: {{kind: sin, n_train: 40, n_test: 40, noise_sd: 0.5, seed: 3{val}}}
model: {{layers: [1, 12, 1], activation: relu}}
train: {{lr: 0.02, epochs: 30, batch_size: 8, shuffle: true}}
record: {{masks: none}}
axes:
  seed: {{from: 0, to: {last}}}
  keep_prob: [1.0, 0.7]
  l2: [0, 0.001]
"""


def run(*args, check=None):
    p = subprocess.run([REGSWEEP, *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="2"))
    if check is not None and p.returncode != check:
        raise AssertionError(f"regsweep {' '.join(args)} exited {p.returncode}, expected "
                             f"{check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


class Report(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def sweep(self, name="rep", last=5, val="", extra=(), check=0):
        spec = os.path.join(self.dir, name + ".yaml")
        with open(spec, "w") as f:
            f.write(SPEC.format(name=name, val=val, last=last))
        out = os.path.join(self.dir, name + ".h5")
        run("run", spec, "-o", out, *extra, check=check)
        return out

    def test_best_epoch_is_chosen_on_validation_only(self):
        plain = self.sweep("plain")
        p = run("report", plain, "--at", "best", "--no-store")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("validation", p.stderr)
        out = self.sweep("val", val=", n_val: 30")
        with h5py.File(out, "r") as f:
            ids = f["jobs/id"].asstr()[()]
            best = f["jobs/best_epoch"][()]
            best_test = f["jobs/best_test_loss"][()]
            for i, job in enumerate(ids):
                val_loss = f["runs"][job]["curves/val_loss"][()]
                test_loss = f["runs"][job]["curves/test_loss"][()]
                self.assertEqual(best[i], int(np.argmin(val_loss)))   # first minimum
                self.assertEqual(best_test[i], test_loss[int(best[i])])
        # the test loss never chose: somewhere its own argmin differs
        with h5py.File(out, "r") as f:
            differs = sum(int(np.argmin(f["runs"][j]["curves/test_loss"][()])) != b
                          for j, b in zip(ids, best))
        self.assertGreater(differs, 0)
        d = json.loads(run("report", out, "--at", "best", "--format", "json",
                           "--no-store", check=0).stdout)
        self.assertEqual(d["at"], "best")
        with h5py.File(out, "r") as f:
            keep = f["jobs/keep_prob_1"][()]
            l2 = f["jobs/l2"][()]
        for c in d["configs"]:
            sel = (keep == c["keep_prob_1"]) & (l2 == c["l2"])
            self.assertAlmostEqual(c["test_loss_mean"], best_test[sel].mean(), delta=1e-12)

    def test_diverged_jobs_are_counted_not_averaged(self):
        out = self.sweep("div", extra=("train.lr=100", "--allow-diverged"))
        with h5py.File(out, "r") as f:
            self.assertTrue((f["jobs/status"].asstr()[()] == "diverged").all())
            self.assertEqual(int(f.attrs["n_diverged"]), 24)
        p = run("report", out, "--no-store", check=0)
        self.assertIn("0 done, 24 diverged", p.stdout)
        self.assertIn("0/6*", p.stdout)
        d = json.loads(run("report", out, "--format", "json", "--no-store", check=0).stdout)
        self.assertEqual(d["n_diverged"], 24)
        for c in d["configs"]:
            self.assertEqual((c["n_used"], c["n_diverged"]), (0, 6))
            self.assertIsNone(c["test_loss_mean"])
        for x in d["comparisons"]:
            self.assertEqual(x["test"], "none")
            self.assertIsNone(x["p"])
            self.assertIn("no seed", x["reason"])
        # without --allow-diverged the run says so and exits 1
        p = run("run", os.path.join(self.dir, "div.yaml"), "-o", out, "--resume",
                "train.lr=100")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("24 of 24 jobs diverged", p.stderr)

    def test_failed_jobs_are_reported_as_failed(self):
        out = self.sweep("fail")
        # a job that failed has no job file and is marked so in /jobs only
        with h5py.File(out, "r+") as f:
            job = f["jobs/id"].asstr()[3]
            status = f["jobs/status"].asstr()[()].astype(object)
            status[3] = "failed"
            del f["jobs/status"]
            f["jobs"].create_dataset("status", data=status.astype("S"),
                                     dtype=h5py.string_dtype())
            del f["runs"][job]
        self.assertFalse(os.path.exists(os.path.join(self.dir, "fail.jobs", job + ".h5")))
        d = json.loads(run("report", out, "--format", "json", "--no-store", check=0).stdout)
        self.assertEqual((d["n_failed"], d["n_done"]), (1, 23))
        self.assertEqual(sum(c["n_failed"] for c in d["configs"]), 1)

    def test_storing_the_analysis_leaves_the_results_file_alone(self):
        """report writes OUT.analysis.h5 (tmp + rename), which OUT.h5's
        /analysis links to: OUT.h5 is neither rewritten nor touched."""
        out = self.sweep("store")
        side = os.path.join(self.dir, "store.analysis.h5")
        before = os.stat(out)
        with open(out, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with h5py.File(out, "r") as f:
            self.assertEqual(len(f["analysis"]), 0)   # empty until a report
        run("report", out, check=0)
        after = os.stat(out)
        self.assertEqual((after.st_ino, after.st_mtime_ns, after.st_size),
                         (before.st_ino, before.st_mtime_ns, before.st_size))
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)
        with h5py.File(out, "r") as f:
            self.assertIn("configs", f["analysis"])
            self.assertEqual(f["analysis/configs/config"].attrs["units"], "")
        self.assertLess(os.path.getsize(side), os.path.getsize(out))
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".tmp")], [])

    def test_one_seed_gives_no_test_and_says_why(self):
        out = self.sweep("one", last=0)
        p = run("report", out, "--no-store", check=0)
        self.assertIn("n/a", p.stdout)
        self.assertIn("a: fewer than 5 pairs", p.stdout)
        self.assertNotIn("welch", p.stdout.lower())
        d = json.loads(run("report", out, "--format", "json", "--no-store", check=0).stdout)
        for x in d["comparisons"]:
            self.assertEqual((x["test"], x["n"]), ("none", 1))
            self.assertIsNone(x["p"])
            self.assertIsNone(x["p_holm"])
            self.assertIsNone(x["ci_lo"])
        self.assertEqual(d["holm"]["primary"]["rows"], 0)

    def test_formats_parse_strictly_with_a_hostile_name(self):
        spec = os.path.join(self.dir, "h.yaml")
        with open(spec, "w") as f:     # YAML: "q\"uo\\te, tab\tand ünïcode"
            f.write(SPEC.format(name="x", val="", last=5).replace(
                "name: x", 'name: "q\\"uo\\\\te, tab\\tand ünïcode"'))
        out = os.path.join(self.dir, "h.h5")
        run("run", spec, "-o", out, check=0)
        d = json.loads(run("report", out, "--format", "json", "--no-store",
                           "--trajectory", check=0).stdout, strict=True)
        self.assertEqual(d["name"], 'q"uo\\te, tab\tand ünïcode')
        self.assertEqual(len(d["trajectory"]), 4 * 31)
        self.assertEqual(d["holm"]["primary"]["rows"], 6)   # 3 configs x 2 metrics
        for table in ("configs", "comparisons", "trajectory"):
            text = run("report", out, "--format", "csv", "--table", table, "--no-store",
                       check=0).stdout
            rows = list(csv.DictReader(io.StringIO(text)))
            self.assertTrue(rows, table)
            self.assertTrue(all(len(r) == len(rows[0]) for r in rows))
            for r in rows:    # axes are numeric columns, counts integers
                float(r["l2"])
                self.assertRegex(r.get("n", r.get("n_used", "0")) or "0", r"^\d+$")
        # the comparisons' CSV equals the JSON, column by column
        rows = list(csv.DictReader(io.StringIO(run(
            "report", out, "--format", "csv", "--table", "comparisons", "--no-store",
            check=0).stdout)))
        for r, j in zip(rows, d["comparisons"]):
            for k, v in j.items():
                if isinstance(v, float):
                    self.assertEqual(float(r[k]), v, k)
                elif v is None:
                    self.assertEqual(r[k], "", k)

    def test_text_fits_100_columns_and_names_the_tests(self):
        out = self.sweep("wide", extra=("axes.l1=[0, 0.0001]",))
        text = run("report", out, "--trajectory", check=0).stdout
        for line in text.splitlines():
            self.assertLessEqual(len(line), 100, line)
        self.assertIn("p (t, Holm)", text)
        self.assertIn("p (Wilcoxon, Holm)", text)
        self.assertIn("positive means overfitting", text)
        self.assertIn("Ranked by mean test_loss", text)
        # what was printed is what was stored
        with h5py.File(out, "r") as f:
            cmp = f["analysis/comparisons"]
            self.assertIn("Holm over the 14 rows", cmp.attrs["description"])
            self.assertEqual(len(cmp["p_holm"]), 14)

    def test_rank_by(self):
        out = self.sweep("rank")
        order = {}
        for key in ("test_loss", "gap", "abs_gap"):
            d = json.loads(run("report", out, "--format", "json", "--rank-by", key,
                               "--no-store", check=0).stdout)
            order[key] = [c["config"] for c in d["configs"]]
            means = [c["gap_mean" if key != "test_loss" else "test_loss_mean"]
                     for c in d["configs"]]
            if key == "abs_gap":
                means = [abs(m) for m in means]
            self.assertEqual(means, sorted(means), key)
        self.assertEqual(run("report", out, "--rank-by", "nope").returncode, 2)


MC_SPEC = """\
name: mcrep
dataset: {kind: sin, n_train: 40, n_test: 40, n_val: 30, noise_sd: 0.5, seed: 3}
model: {layers: [1, 12, 12, 1], activation: relu}
train: {lr: 0.02, epochs: 20, batch_size: 8}
record: {masks: none}
axes:
  seed: {from: 0, to: 4}
  keep_prob: [1.0, 0.6]
  eval.mc_samples: [0, 8]
"""

# Two-sided 95% quantile of Student's t with 4 degrees of freedom (5 seeds),
# from a t table; not computed by the code under test.
T975_DF4 = 2.776445105197793


def t_p_df4(t):
    """Two-sided p of Student's t with 4 degrees of freedom, by its closed
    form: F(t) = 1/2 + 3a/4 - a^3/4, a = t / sqrt(4 + t^2)."""
    a = abs(t) / np.sqrt(4 + t * t)
    return 1 - a * (3 - a * a) / 2


def ci_text(m, lo, hi):
    """The report's "m [lo, hi]": decimals that show the half-width to two
    significant digits."""
    d = min(8, max(0, 1 - int(np.floor(np.log10((hi - lo) / 2)))))
    return f"{m:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


class McDropout(unittest.TestCase):
    """The report's weight scaling vs MC dropout table, recomputed with
    numpy from the curves in the results file: per config with
    eval.mc_samples > 0, d = curves/test_loss - curves/test_loss_mc per
    seed at the report's epoch, its mean, t-interval and t-test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        spec = os.path.join(cls.tmp.name, "mcrep.yaml")
        with open(spec, "w") as f:
            f.write(MC_SPEC)
        cls.out = os.path.join(cls.tmp.name, "mcrep.h5")
        run("run", spec, "-o", cls.out, check=0)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def expected(self, at_best):
        """keep_prob -> (ws mean, mc mean, mean d, sd d, ci lo, ci hi, t, p)
        of the configs with MC curves."""
        got = {}
        with h5py.File(self.out, "r") as f:
            jobs = {k: f["jobs"][k][()] for k in ("keep_prob_1", "eval.mc_samples",
                                                 "best_epoch")}
            ids = f["jobs/id"].asstr()[()]
            for keep in (0.6,):
                sel = (jobs["keep_prob_1"] == keep) & (jobs["eval.mc_samples"] == 8)
                ws, mc = [], []
                for i in np.flatnonzero(sel):
                    c = f["runs"][ids[i]]["curves"]
                    e = int(jobs["best_epoch"][i]) if at_best else -1
                    ws.append(c["test_loss"][e])
                    mc.append(c["test_loss_mc"][e])
                ws, mc = np.array(ws), np.array(mc)
                d = ws - mc
                self.assertEqual(len(d), 5)
                m, sd = d.mean(), d.std(ddof=1)
                half = T975_DF4 * sd / np.sqrt(5)
                t = m / (sd / np.sqrt(5)) if sd > 0 else np.nan
                got[keep] = (ws.mean(), mc.mean(), m, sd, m - half, m + half, t,
                             t_p_df4(t) if sd > 0 else np.nan)
        return got

    def test_json_and_csv_rows_are_the_numbers_of_the_file(self):
        for at in ("final", "best"):
            want = self.expected(at == "best")
            d = json.loads(run("report", self.out, "--at", at, "--format", "json",
                               "--no-store", check=0).stdout)
            rows = d["mc_dropout"]
            # keep 1 has no row: every thinned network is the network
            self.assertEqual([(r["keep_prob_1"], r["eval.mc_samples"], r["mc_samples"])
                              for r in rows], [(0.6, 8, 8)])
            r = rows[0]
            w = want[0.6]
            self.assertEqual((r["metric"], r["n"], r["test"]), ("test_loss", 5, "paired_t"))
            for k, v in zip(("weight_scaling_mean", "mc_mean", "mean_diff", "sd_diff",
                             "ci_lo", "ci_hi", "t"), w):
                self.assertAlmostEqual(r[k], v, delta=1e-12 * max(1, abs(v)), msg=(at, k))
            self.assertAlmostEqual(r["p"], w[7], delta=1e-10)
            self.assertAlmostEqual(r["p_holm"], r["p"], delta=0, msg="one row has a p")
            csv_rows = list(csv.DictReader(io.StringIO(run(
                "report", self.out, "--at", at, "--format", "csv", "--table",
                "mc_dropout", "--no-store", check=0).stdout)))
            self.assertEqual(len(csv_rows), 1)
            self.assertEqual(float(csv_rows[0]["mean_diff"]), r["mean_diff"])

    def test_text_prints_them(self):
        want = self.expected(False)
        text = run("report", self.out, "--no-store", check=0).stdout
        self.assertIn("weight scaling vs MC dropout (8 passes), test loss:", text)
        line = [ln for ln in text.splitlines()
                if ln.startswith("keep 0.6, L2 0, eval.mc_samples 8 ")]
        # the configs table, the comparisons with the baseline, this one
        self.assertEqual(len(line), 3, text)
        ws, mc, m, _, lo, hi, _, p = want[0.6]
        cells = [c for c in line[2].split("  ") if c.strip()]
        self.assertEqual([c.strip() for c in cells[1:]],
                         ["5", f"{ws:.4g}", f"{mc:.4g}", ci_text(m, lo, hi),
                          "<0.001" if p < 0.001 else f"{p:.3f}",
                          "<0.001" if p < 0.001 else f"{p:.3f}"], line[2])
        self.assertIn("d = weight scaling - MC dropout, per seed", text)

    def test_stored_under_analysis(self):
        run("report", self.out, check=0)
        with h5py.File(self.out, "r") as f:
            g = f["analysis/mc_dropout"]
            self.assertEqual(list(g["metric"].asstr()[()]), ["test_loss"])
            self.assertAlmostEqual(g["mean_diff"][0], self.expected(False)[0.6][2],
                                   delta=1e-12)
            self.assertIn("d = weight scaling - MC dropout", g.attrs["description"])
        # without MC curves there is no such table or section
        plain = os.path.join(self.tmp.name, "plain.h5")
        spec = os.path.join(self.tmp.name, "plain.yaml")
        with open(spec, "w") as f:
            f.write(MC_SPEC.replace("  eval.mc_samples: [0, 8]\n", ""))
        run("run", spec, "-o", plain, check=0)
        self.assertNotIn("MC dropout", run("report", plain, check=0).stdout)
        with h5py.File(plain, "r") as f:
            self.assertNotIn("mc_dropout", f["analysis"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
