#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests of the analysis side: tools/plot_*.py and the recipes of
docs/ANALYSIS.md, on a small sweep made by the regsweep binary in $REGSWEEP.

The sweep (sin data, 5 seeds x keep 1.0/0.8/0.5 x l2 0/0.001, minibatches
with a short last one, every mask recorded) is written once to
TMP/results/ch311_sin.h5, the path the docs use, and `regsweep report`
stores /analysis in it.  Truths used: PNG structure from the PNG
specification (signature, IHDR, CRC-32 of every chunk), the PDF and SVG
signatures, published t-table quantiles, the C report's /analysis tables
(computed by the stats module, independently of the Python scripts), paired
differences recomputed here with numpy, masks unpacked here, and the text
matplotlib writes into SVG files (every text element is preceded by an XML
comment holding its string).
"""
import contextlib
import html
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import h5py
import numpy as np
import pandas as pd

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
DOC = os.path.join(ROOT, "docs", "ANALYSIS.md")
sys.path.insert(0, TOOLS)
import rsread  # noqa: E402

SPEC = """\
name: tools_small
dataset: {kind: sin, n_train: 90, n_test: 100, noise_sd: 0.5, seed: 1}
model: {layers: [1, 24, 16, 1], activation: relu}
train: {lr: 0.01, epochs: 25, batch_size: 25, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 4}
  keep_prob: [1.0, 0.8, 0.5]
  l2: [0, 0.001]
"""
FASHION = "/usr/share/datasets/fashion-mnist"
CLASSIFIER = """\
name: fm_tiny
dataset: {kind: idx, dir: %s, max_train: 600, max_test: 300}
model: {layers: [784, 16, 16, 10], activation: relu, init: normal, init_sd: 0.01,
        loss: softmax_cross_entropy}
train: {lr: 0.5, epochs: 3, batch_size: 100, shuffle: true}
record: {masks: {epochs: [0], steps: [0]}}
axes:
  seed: {from: 0, to: 2}
  keep_prob: [1.0, [0.8, 0.5]]
  l2: [0, 0.001]
""" % FASHION
NO_MASKS = SPEC.replace("name: tools_small", "name: no_masks").replace(
    "record: {masks: all}", "record: {masks: none}").replace("to: 4", "to: 1")


# Two-sided 95% quantile of Student's t with 4 degrees of freedom (the test
# sweep has 5 seeds, so a paired comparison has n = 5 pairs and df = 4),
# from a t table / scipy.stats.t.ppf(0.975, 4); not computed by the code
# under test.
T975_DF4 = 2.776445105197793
PLOTS = (("plot_curves.py", "curves"), ("plot_gap_vs_keep.py", "gap_vs_keep"),
         ("plot_dropout_hist.py", "dropout_hist"), ("plot_paired_diff.py", "paired_diff"))
MAGIC = {".png": (b"\x89PNG\r\n\x1a\n",), ".pdf": (b"%PDF-",), ".svg": (b"<?xml", b"<svg")}


def run(cmd, cwd=None, check=None):
    env = dict(os.environ, MPLCONFIGDIR=Tools.tmp.name)
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}, expected {check}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def tool(name, *args, cwd=None, check=0):
    return run([sys.executable, os.path.join(TOOLS, name), *args], cwd=cwd, check=check)


def table(group):
    return pd.DataFrame({k: v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()]
                         for k, v in group.items()})


def svg_text(path):
    """Every string matplotlib drew into an SVG file: it writes each text
    element as '<!-- STRING -->' followed by the glyph paths (or as <text>
    when svg.fonttype is 'none')."""
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    found = re.findall(r"<!-- (.*?) -->", svg, re.S) + re.findall(r"<text[^>]*>(.*?)</text>",
                                                                   svg, re.S)
    return [html.unescape(t) for t in found]


def listing(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder)
                  for d, ds, fs in os.walk(folder) for n in ds + fs)


def printed_table(stdout):
    """The whitespace-separated table a script printed (header row first)."""
    lines = [ln for ln in stdout.splitlines() if ln and not ln.startswith("wrote ")]
    return [ln.split() for ln in lines]


class Tools(unittest.TestCase):
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        os.mkdir(os.path.join(cls.dir, "results"))
        cls.h5 = os.path.join(cls.dir, "results", "ch311_sin.h5")
        spec = os.path.join(cls.dir, "small.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        run([REGSWEEP, "run", spec, "-o", cls.h5], check=0)
        run([REGSWEEP, "report", cls.h5], check=0)
        with h5py.File(cls.h5, "r") as f:
            cls.jobs = table(f["jobs"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.dir, name)

    def fm_tiny(self):
        """The classifier sweep (per-layer keeps), run and reported once."""
        if not os.path.isdir(FASHION):
            self.skipTest(f"{FASHION} missing (Debian package dataset-fashion-mnist)")
        out = self.out("fm_tiny.h5")
        if not os.path.exists(out):
            spec = self.out("fm_tiny.yaml")
            with open(spec, "w") as f:
                f.write(CLASSIFIER)
            run([REGSWEEP, "run", spec, "-o", out], check=0)
            run([REGSWEEP, "report", out], check=0)
        return out

    def assertFileType(self, path, ext):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            head = f.read(64)
        self.assertTrue(any(head.startswith(m) for m in MAGIC[ext]), f"{path}: {head[:16]!r}")
        if ext == ".png":
            self.assertValidPNG(path)
        elif ext == ".pdf":
            with open(path, "rb") as f:
                data = f.read()
            self.assertIn(b"%%EOF", data[-32:])
            self.assertIn(b"/FontFile2", data)        # TrueType (Type 42), not Type 3
        else:
            with open(path, encoding="utf-8") as f:
                self.assertIn("</svg>", f.read()[-64:])

    # ---- PNG validity, from the PNG specification -------------------------

    def assertValidPNG(self, path):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 1000)
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        pos, chunks = 8, []
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
            self.assertEqual(zlib.crc32(kind + body) & 0xFFFFFFFF, crc, f"{path}: {kind} CRC")
            chunks.append((kind, body))
            pos += 12 + length
        self.assertEqual(pos, len(data))
        self.assertEqual(chunks[0][0], b"IHDR")
        self.assertEqual(len(chunks[0][1]), 13)
        width, height, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
        self.assertTrue(200 < width < 5000 and 200 < height < 5000, (width, height))
        self.assertIn(depth, (8, 16))
        self.assertEqual(chunks[-1][0], b"IEND")
        self.assertIn(b"IDAT", [k for k, _ in chunks])
        import matplotlib.image
        img = matplotlib.image.imread(path)
        self.assertEqual(img.shape[:2], (height, width))
        self.assertGreater(float(np.ptp(img)), 0)        # not a blank image
        try:
            from PIL import Image
        except ImportError:
            return
        with Image.open(path) as im:
            im.verify()

    # ---- the scripts ------------------------------------------------------

    def test_t_quantiles_match_published_tables(self):
        """Two-sided 95% t quantiles (any t table, e.g. Fisher & Yates)."""
        for df, t in [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571),
                      (9, 2.262), (10, 2.228), (30, 2.042), (120, 1.980)]:
            self.assertAlmostEqual(rsread.t_quantile(0.95, df), t, places=3, msg=f"df {df}")
        self.assertAlmostEqual(rsread.t_quantile(0.99, 9), 3.250, places=3)
        # df 1 is the Cauchy law: P(|T| < t) = 2 atan(t) / pi exactly
        self.assertAlmostEqual(rsread.t_quantile(0.95, 1), np.tan(0.475 * np.pi), places=9)

    def test_plot_curves_defaults_and_configs(self):
        p = tool("plot_curves.py", self.h5, "-o", self.out("figs"))
        png = self.out("figs/tools_small_curves.png")
        self.assertValidPNG(png)
        self.assertIn("keep 1, L2 0: 5 seeds", p.stdout)       # the baseline
        self.assertIn("keep 0.5, L2 0: 5 seeds", p.stdout)     # the strongest dropout
        # the printed final means are the /jobs means of the same config
        m = re.search(r"keep 0.5, L2 0: 5 seeds; final mean train loss (\S+), "
                      r"test loss (\S+), gap (\S+)", p.stdout)
        rows = self.jobs[(self.jobs.keep_prob_1 == 0.5) & (self.jobs.l2 == 0)]
        for value, col in zip(m.groups(), ("train_loss", "test_loss", "gap")):
            self.assertAlmostEqual(float(value), rows[col].mean(), delta=1e-5 * abs(float(value)))
        p = tool("plot_curves.py", self.h5, "--config", "keep=0.8 l2=0.001",
                 "--config", "keep 0.5, L2 0", "--band", "sd", "--logy",
                 "-o", self.out("chosen.png"))
        self.assertValidPNG(self.out("chosen.png"))
        self.assertIn("keep 0.8, L2 1e-3: 5 seeds", p.stdout)   # key=value words...
        self.assertIn("keep 0.5, L2 0: 5 seeds", p.stdout)      # ...or the report's label
        p = tool("plot_curves.py", self.h5, "--config", "keep=0.5", check=2)
        self.assertIn("matches 2 configs", p.stderr)
        p = tool("plot_curves.py", self.h5, "--config", "keep=0.3", check=2)
        self.assertIn("no config", p.stderr)

    def test_default_output_folder_is_results(self):
        tool("plot_gap_vs_keep.py", "results/ch311_sin.h5", cwd=self.dir)
        self.assertValidPNG(self.out("results/tools_small_gap_vs_keep.png"))

    def test_gap_vs_keep_numbers_equal_the_reports(self):
        """The plotted means and t-intervals equal /analysis/configs, which
        the C stats module computed."""
        p = tool("plot_gap_vs_keep.py", self.h5, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/tools_small_gap_vs_keep.png"))
        self.assertEqual(printed_table(p.stdout)[0],
                         ["config", "metric", "n", "mean", "ci_lo", "ci_hi"])
        self.check_against_report(self.h5, p.stdout, ("gap",))
        # the best epoch needs a validation split, which this sweep has not
        p = tool("plot_gap_vs_keep.py", self.h5, "--at", "best", "-o", self.out("best.png"),
                 check=2)
        self.assertIn("best_gap is absent or NaN for every finished job", p.stderr)
        self.assertFalse(os.path.exists(self.out("best.png")))

    def test_dropout_hist_uses_the_stored_masks(self):
        p = tool("plot_dropout_hist.py", self.h5, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/tools_small_dropout_hist.png"))
        rows = printed_table(p.stdout)
        self.assertEqual(rows[0][:4], ["wanted", "keep", "job", "layer"])
        self.assertEqual([float(r[1]) for r in rows[1:]], [1.0, 0.8, 0.5])
        with h5py.File(self.h5, "r") as f:
            for _, keep, job, layer, values, zeros, _, mean_in, mean_out, sd_out, _ in rows[2:]:
                masks = f["runs"][job]["masks"]
                m = masks[f"layer{layer}"]
                self.assertEqual(m.attrs["keep_prob"], float(keep))
                # every recorded row, unpacked here: the share of zeros must
                # be the share of 0 bits (N(0,1) draws are never exactly 0)
                bits = [np.unpackbits(m[r, :masks["n_rows"][r]], axis=1,
                                      bitorder="little")[:, :m.attrs["n_units"]]
                        for r in range(m.shape[0])]
                bits = np.concatenate(bits)[:5000]
                self.assertEqual(int(values), bits.size)
                self.assertAlmostEqual(float(zeros), 1 - bits.mean(), delta=1e-4)
                self.assertLess(abs(float(zeros) - (1 - float(keep))), 0.02)
                # inverted dropout keeps the mean: within 4 standard errors
                self.assertLess(abs(float(mean_out) - float(mean_in)),
                                4 * float(sd_out) / np.sqrt(bits.size))
                self.assertAlmostEqual(float(sd_out), 1 / np.sqrt(float(keep)), delta=0.05)
        self.assertEqual(float(rows[1][5]), 0.0)         # keep 1: no zeros
        # a keep that was not swept: the nearest one stored is used and named
        # (and with N(1, 1) activations, so that keeping the mean is not trivial)
        p = tool("plot_dropout_hist.py", self.h5, "--keep", "0.6", "--layer", "1",
                 "--loc", "1", "-o", self.out("nearest.png"))
        self.assertValidPNG(self.out("nearest.png"))
        r = printed_table(p.stdout)[1]
        self.assertEqual((r[0], r[1], r[3]), ("0.6", "0.5", "1"))
        n, mean_in, mean_out, sd_out = int(r[4]), float(r[7]), float(r[8]), float(r[9])
        self.assertLess(abs(mean_in - 1), 4 / np.sqrt(n))
        self.assertLess(abs(mean_out - 1), 4 * sd_out / np.sqrt(n))
        self.assertAlmostEqual(sd_out, np.sqrt(2 / 0.5 - 1), delta=0.05)

    def test_error_paths_exit_2_naming_the_file(self):
        text = self.out("notes.txt")
        with open(text, "w") as f:
            f.write("not HDF5\n")
        other = self.out("other.h5")
        with h5py.File(other, "w") as f:
            f.attrs["format"] = "something-else"
        missing = self.out("nope.h5")
        for script, _ in PLOTS:
            for path, what in ((missing, "no such file"), (text, "not an HDF5 file"),
                               (other, "not a regsweep results file")):
                p = tool(script, path, "-o", self.out("err"), check=2)
                self.assertIn(path, p.stderr)
                self.assertIn(what, p.stderr)
            p = tool(script, "--help")
            self.assertIn("usage:", p.stdout)
            self.assertIn("results", p.stdout)
        self.assertFalse(os.path.exists(self.out("err")))
        spec = self.out("no_masks.yaml")
        with open(spec, "w") as f:
            f.write(NO_MASKS)
        plain = self.out("no_masks.h5")
        run([REGSWEEP, "run", spec, "-o", plain], check=0)
        p = tool("plot_dropout_hist.py", plain, "-o", self.out("err"), check=2)
        self.assertIn("no dropout masks recorded", p.stderr)

    # ---- -o: the output rule ---------------------------------------------

    def test_output_rule(self):
        """rsread.output_path, the one function every script uses for -o."""
        d = self.out("rule")
        os.mkdir(d)
        os.mkdir(os.path.join(d, "figs.v2"))
        os.mkdir(os.path.join(d, "oops.png"))
        ok = {"fig.pdf": "fig.pdf", "fig.SVG": "fig.SVG", "sub/fig.png": None,
              f"{d}/fig.Png": f"{d}/fig.Png", f"{d}/a.b.pdf": f"{d}/a.b.pdf",
              f"{d}/new": f"{d}/new/sw_k.png", f"{d}/new.dir/": f"{d}/new.dir/sw_k.png",
              f"{d}/figs.v2": f"{d}/figs.v2/sw_k.png", "results": "results/sw_k.png",
              ".": "./sw_k.png"}
        for out, want in ok.items():
            if want is None:
                continue
            self.assertEqual(rsread.output_path(out, "sw", "k"), want, out)
        bad = {"fig.jpeg": "unknown figure format '.jpeg'", f"{d}/fig.eps": "'.eps'",
               f"{d}/nope/fig.pdf": "does not exist", f"{d}/oops.png": "is a folder",
               f"{d}/x.v2": "unknown figure format"}
        for out, why in bad.items():
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as cm:
                rsread.output_path(out, "sw", "k")
            self.assertEqual(cm.exception.code, 2, out)
            self.assertIn(why, err.getvalue())
            self.assertIn(out, err.getvalue())
            if "format" in why:
                self.assertIn(".png, .pdf, .svg", err.getvalue())
        self.assertEqual(listing(d), ["figs.v2", "oops.png"])     # output_path creates nothing

    def svg(self, kind):
        """The SVG figure of one script on the test sweep, made once (the
        format test and the text test share it)."""
        path = self.out(f"svg/{kind}.svg")
        if not os.path.exists(path):
            os.makedirs(self.out("svg"), exist_ok=True)
            script = dict((k, s) for s, k in PLOTS)[kind]
            p = tool(script, self.h5, "-o", path)
            self.assertIn(f"wrote {path}", p.stdout)
        return path

    def test_every_plot_writes_the_format_its_name_asks_for(self):
        """.pdf, .svg and .png (any case) are files of that format, whatever
        the script; .png files are also checked by the other tests."""
        d = self.out("formats")
        os.mkdir(d)
        for script, kind in PLOTS:
            path = os.path.join(d, f"{kind}.pdf")
            p = tool(script, self.h5, "-o", path)
            self.assertIn(f"wrote {path}", p.stdout)
            self.assertFileType(path, ".pdf")
            self.assertFileType(self.svg(kind), ".svg")
        path = os.path.join(d, "upper.PNG")
        tool("plot_gap_vs_keep.py", self.h5, "-o", path)
        self.assertFileType(path, ".png")
        self.assertEqual(listing(d), sorted([f"{k}.pdf" for _, k in PLOTS] + ["upper.PNG"]))
        # SVG (and PDF) carry no date: the same figure twice is the same bytes
        again = os.path.join(d, "again.svg")
        tool("plot_gap_vs_keep.py", self.h5, "-o", again)
        with open(again, "rb") as a, open(self.svg("gap_vs_keep"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_folder_output(self):
        """A name without a figure extension is a folder, made when missing
        (parents too), with NAME_<kind>.png inside; so is a name ending in '/'
        and an existing folder whatever its name."""
        outs = [self.out("made/deeper"), self.out("slash.pdf/"), self.out("figs.v2"),
                self.out("figs.v2")]
        os.mkdir(self.out("figs.v2"))
        for (script, kind), out in zip(PLOTS, outs):
            p = tool(script, self.h5, "-o", out)
            path = os.path.join(out, f"tools_small_{kind}.png")
            self.assertIn(f"wrote {path}", p.stdout)
            self.assertValidPNG(path)

    def test_bad_output_exits_2_and_creates_nothing(self):
        d = self.out("bad")
        os.mkdir(d)
        os.mkdir(os.path.join(d, "old.png"))   # what `-o old.png` used to leave behind
        before = listing(d)
        cases = [(script, "fig.jpeg", "unknown figure format '.jpeg'") for script, _ in PLOTS]
        cases += [("plot_curves.py", "fig.tiff", "unknown figure format '.tiff'"),
                  ("plot_gap_vs_keep.py", "nope/fig.pdf", "folder '"),
                  ("plot_paired_diff.py", "old.png", "is a folder, not a file")]
        for script, out, why in cases:
            p = tool(script, self.h5, "-o", os.path.join(d, out), check=2)
            self.assertIn(why, p.stderr)
            self.assertEqual(p.stdout, "")                  # stops before printing
            if "format" in why:
                self.assertIn(".png, .pdf, .svg", p.stderr)
            self.assertEqual(listing(d), before, f"{script} -o {out}")

    # ---- figure text -------------------------------------------------------

    def assertNoCliText(self, texts, where):
        ids = set(self.jobs["id"])
        for t in texts:
            for bad in ("keep=", "l2=", "l1=", "keep_prob", "--", "job "):
                self.assertNotIn(bad, t, f"{where}: {t!r}")
            for word in re.findall(r"[0-9a-f]{12}", t):
                self.assertNotIn(word, ids, f"{where}: a job id in {t!r}")

    def test_figure_text_names_the_loss_and_configs_in_words(self):
        texts = {}
        for script, kind in PLOTS:
            texts[kind] = svg_text(self.svg(kind))
            self.assertNoCliText(texts[kind], kind)
            self.assertFalse([t for t in texts[kind] if "L1" in t], kind)  # no L1 axis here
        gap = texts["gap_vs_keep"]
        for want in ("keep probability", "generalisation gap: test − train MSE", "L2 0",
                     "L2 1e-3"):
            self.assertIn(want, gap)
        self.assertIn("tools_small: final generalisation gap", gap)   # title, two lines
        self.assertIn("mean and 95% CI over n = 5 seeds", gap)
        curves = texts["curves"]
        for want in ("epoch", "train and test MSE", "train MSE", "test MSE",
                     "generalisation gap: test − train MSE", "keep 1, L2 0", "keep 0.5, L2 0"):
            self.assertIn(want, curves)
        paired = texts["paired_diff"]
        for want in ("keep 1, L2 1e-3", "keep 0.8, L2 0", "keep 0.5, L2 1e-3"):
            self.assertIn(want, paired)                     # the y tick labels
        self.assertNotIn("keep 1, L2 0", paired)            # the baseline has no row...
        self.assertTrue(any("baseline keep 1, L2 0" in t for t in paired))  # ...it is named
        self.assertTrue(any("n = 5 seeds" in t for t in paired))
        self.assertTrue(any(t.startswith("change in generalisation gap (test − train MSE)")
                            for t in paired))
        self.assertTrue(any(t.startswith("keep probability 0.8") for t in texts["dropout_hist"]))

    def test_config_labels(self):
        self.assertEqual(rsread.config_label([0.7, 0.7], 0.001, 0, False), "keep 0.7, L2 1e-3")
        self.assertEqual(rsread.config_label([0.8, 0.5], 0, 1e-4, True),
                         "keep 0.8/0.5, L2 0, L1 1e-4")
        self.assertEqual(rsread.config_label([1.0], 0.05, 0, True), "keep 1, L2 0.05, L1 0")
        self.assertEqual(rsread.config_label([], 2.5e-4, 0, False), "keep -, L2 2.5e-4")
        self.assertEqual([rsread.number_text(x) for x in (0, 1, 0.5, 0.01, 0.001, 1e-5,
                                                          1.2345e-5, 12345)],
                         ["0", "1", "0.5", "0.01", "1e-3", "1e-5", "1.23e-5", "12345"])
        self.assertEqual(rsread.loss_label("mse", "test"), "test MSE")
        self.assertEqual(rsread.loss_label("softmax_cross_entropy", "train"),
                         "train cross-entropy (nats)")
        self.assertEqual(rsread.gap_label("mse"), "generalisation gap: test − train MSE")
        self.assertEqual(rsread.gap_label("softmax_cross_entropy", "gap_acc"),
                         "generalisation gap: train − test accuracy")
        self.assertEqual(rsread.loss_kind(self.jobs), "mse")

    def test_gap_vs_keep_joins_scalar_keeps_only(self):
        """Scalar keep probabilities are ordered: each (L2, L1) series is a
        line.  (The per-layer case is in the classifier test.)"""
        import plot_gap_vs_keep
        with h5py.File(self.h5, "r") as f:
            fig, table = plot_gap_vs_keep.draw(f, self.h5)
        ax = fig.axes[0]
        self.assertEqual(ax.get_xlabel(), "keep probability")
        self.assertEqual([t.get_text() for t in ax.get_legend().get_texts()], ["L2 0", "L2 1e-3"])
        lines = [c.lines[0] for c in ax.containers]
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.assertEqual(line.get_linestyle(), "-")
            self.assertEqual(len(line.get_xdata()), 3)

    # ---- the paired-difference figure --------------------------------------

    def paired_rows(self, stdout):
        """plot_paired_diff.py's table: {(config, metric): (test, n, mean, lo, hi, dots)};
        config labels hold spaces, so each row is read from the right."""
        rows = printed_table(stdout)
        self.assertEqual(rows[0], ["config", "metric", "test", "n", "mean_diff", "ci_lo",
                                   "ci_hi", "dots"])
        return {(" ".join(r[:-7]), r[-7]): (r[-6], int(r[-5]), float(r[-4]), float(r[-3]),
                                            float(r[-2]), int(r[-1])) for r in rows[1:]}

    def comparison_axes(self, c, path):
        """(keeps, l2, l1) of a row of /analysis/comparisons: its own axis
        columns, or /analysis/configs' row of the same label."""
        if "keep_prob_1" not in c:
            with h5py.File(path, "r") as f:
                configs = table(f["analysis/configs"])
            c = configs[configs.config == c.config].iloc[0]
        keeps = [c[k] for k in sorted((k for k in c.index if k.startswith("keep_prob_")),
                                      key=lambda k: int(k.rsplit("_", 1)[1]))]
        return keeps, c.l2, c.l1

    def jobs_diffs(self, jobs, config_axes, col, base_axes):
        """Per-seed differences config - baseline from /jobs, paired by seed."""
        def pick(axes):
            keeps, l2, l1 = axes
            sel = (jobs.status == "done") & (jobs.l2 == l2) & (jobs.l1 == l1)
            for i, k in enumerate(keeps):
                sel &= jobs[f"keep_prob_{i + 1}"] == k
            return jobs[sel].set_index("seed")[col]
        mine, base = pick(config_axes), pick(base_axes)
        seeds = sorted(set(mine.index) & set(base.index))
        return np.array([mine[s] - base[s] for s in seeds])

    def check_paired_diff(self, path, stdout, jobs, metrics, n_seeds, t_quantile=None):
        """The table plot_paired_diff.py printed equals /analysis/comparisons
        (to 1e-12: it prints every digit) and, for the mean (and with
        `t_quantile` the interval), a recomputation from /jobs here.  The
        baseline of the test sweeps is the default one: keep 1, L2 0, L1 0."""
        printed = self.paired_rows(stdout)
        with h5py.File(path, "r") as f:
            cmp = table(f["analysis/comparisons"])
        cmp = cmp[cmp.metric.isin(metrics)]
        self.assertEqual(set(printed), set(zip(cmp.config, cmp.metric)))
        for _, c in cmp.iterrows():
            test, n, mean, lo, hi, dots = printed[(c.config, c.metric)]
            self.assertEqual((test, n, dots), (c.test, c.n, n_seeds))
            for got, want in ((mean, c.mean_diff), (lo, c.ci_lo), (hi, c.ci_hi)):
                self.assertLessEqual(abs(got - want), 1e-12, (c.config, c.metric))
            keeps, l2, l1 = self.comparison_axes(c, path)
            d = self.jobs_diffs(jobs, (keeps, l2, l1), c.metric,
                                ([1.0] * len(keeps), 0.0, 0.0))
            self.assertEqual(len(d), n_seeds)
            self.assertLessEqual(abs(mean - d.mean()), 1e-12, (c.config, c.metric))
            if t_quantile is not None:
                half = t_quantile * d.std(ddof=1) / np.sqrt(len(d))
                self.assertLessEqual(abs(lo - (d.mean() - half)), 1e-12, c.config)
                self.assertLessEqual(abs(hi - (d.mean() + half)), 1e-12, c.config)
        return cmp

    def test_paired_diff_draws_the_reports_numbers(self):
        p = tool("plot_paired_diff.py", self.h5, "-o", self.out("paired.svg"))
        self.assertEqual(len(printed_table(p.stdout)), 1 + 5)   # 6 configs, one the baseline
        gap = self.check_paired_diff(self.h5, p.stdout, self.jobs, ("gap",), 5, T975_DF4)

        # what is drawn: the same point and interval, and one dot per seed
        import plot_paired_diff
        with h5py.File(self.h5, "r") as f:
            fig, rows = plot_paired_diff.draw(f, self.h5)
        ax = fig.axes[0]
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        self.assertEqual(sorted(ticks), sorted(["keep 1, L2 1e-3", "keep 0.8, L2 0",
                                                "keep 0.8, L2 1e-3", "keep 0.5, L2 0",
                                                "keep 0.5, L2 1e-3"]))
        self.assertIn("keep 1, L2 0", ax.get_xlabel())             # the baseline
        self.assertIn("keep 1, L2 0", fig._suptitle.get_text())
        self.assertTrue([ln for ln in ax.lines if list(ln.get_xdata()) == [0, 0]])  # zero line
        self.assertEqual(len(ax.containers), 5)
        points = [cont.lines[0] for cont in ax.containers]
        for y, (label, cont) in enumerate(zip(ticks, ax.containers)):
            c = gap[gap.config == rows[y]["config"]].iloc[0]
            self.assertEqual(rows[y]["label"], label)
            point = cont.lines[0]
            self.assertEqual(list(point.get_xdata()), [c.mean_diff])
            self.assertEqual(list(point.get_ydata()), [y])
            (lo, y0), (hi, y1) = cont.lines[2][0].get_segments()[0]
            self.assertEqual((lo, hi, y0, y1), (c.ci_lo, c.ci_hi, y, y))
            dots = [ln for ln in ax.lines if ln not in points and ln.get_marker() == "o"
                    and np.all(np.abs(np.asarray(ln.get_ydata()) - y) < 0.3)]
            self.assertEqual(len(dots), 1, label)
            keeps, l2, l1 = self.comparison_axes(c, self.h5)
            d = self.jobs_diffs(self.jobs, (keeps, l2, l1), "gap", ([1.0, 1.0], 0.0, 0.0))
            self.assertEqual(sorted(dots[0].get_xdata()), sorted(d))

    def test_paired_diff_at_the_best_epoch(self):
        """--at best: the stored report must be at the best epoch too, and the
        dots come from the /jobs best_* columns (a sweep with a validation
        split, which the best epoch needs)."""
        spec = self.out("with_val.yaml")
        with open(spec, "w") as f:
            f.write(NO_MASKS.replace("name: no_masks", "name: with_val")
                    .replace("seed: 1}", "seed: 1, n_val: 20}").replace("to: 1", "to: 4"))
        path = self.out("with_val.h5")
        run([REGSWEEP, "run", spec, "-o", path], check=0)
        run([REGSWEEP, "report", path, "--at", "best"], check=0)
        with h5py.File(path, "r") as f:
            jobs = table(f["jobs"])
        p = tool("plot_paired_diff.py", path, "--at", "best", "-o", self.out("best.svg"))
        self.check_paired_diff(path, p.stdout, jobs.rename(columns={"best_gap": "gap",
                                                                      "gap": "final_gap"}),
                               ("gap",), 5, T975_DF4)
        self.assertTrue(any("best epoch" in t for t in svg_text(self.out("best.svg"))))
        p = tool("plot_paired_diff.py", path, "-o", self.out("best2.svg"))   # --at as stored
        self.assertEqual(self.paired_rows(p.stdout), self.paired_rows(
            tool("plot_paired_diff.py", path, "--at", "best", "-o", self.out("best.svg")).stdout))
        p = tool("plot_paired_diff.py", path, "--at", "final", "-o", self.out("x.png"), check=2)
        self.assertIn(f"run `regsweep report {path} --at final` first", p.stderr)
        p = tool("plot_gap_vs_keep.py", path, "--at", "best", "-o", self.out("best_gap.png"))
        self.assertValidPNG(self.out("best_gap.png"))

    def test_paired_diff_needs_the_report(self):
        spec = self.out("unreported.yaml")
        with open(spec, "w") as f:
            f.write(NO_MASKS.replace("name: no_masks", "name: unreported"))
        plain = self.out("unreported.h5")
        run([REGSWEEP, "run", spec, "-o", plain], check=0)
        before = listing(self.dir)
        p = tool("plot_paired_diff.py", plain, "-o", self.out("never.png"), check=2)
        self.assertIn(f"run `regsweep report {plain}` first", p.stderr)
        # the stored report is at the final epoch; --at best needs another report
        p = tool("plot_paired_diff.py", self.h5, "--at", "best", "-o", self.out("never.png"),
                 check=2)
        self.assertIn("--at best", p.stderr)
        self.assertEqual(listing(self.dir), before)
        p = tool("plot_paired_diff.py", self.h5, "--at", "final", "-o", self.out("final.png"))
        self.assertValidPNG(self.out("final.png"))

    def check_against_report(self, path, stdout, metrics):
        """The table plot_gap_vs_keep.py printed equals /analysis/configs."""
        with h5py.File(path, "r") as f:
            configs = table(f["analysis/configs"]).set_index("config")
        rows = printed_table(stdout)[1:]
        self.assertEqual(len(rows), len(configs) * len(metrics))
        for r in rows:
            label, metric = " ".join(r[:-5]), r[-5]   # labels hold spaces: read from the right
            self.assertIn(metric, metrics)
            self.assertEqual(int(r[-4]), configs.loc[label, "n_done"])
            for value, col in zip(r[-3:], ("mean", "ci_lo", "ci_hi")):
                want = configs.loc[label, f"{metric}_{col}"]
                self.assertAlmostEqual(float(value), want, delta=1e-5 * abs(want) + 1e-12,
                                       msg=f"{label} {metric}_{col}")

    def test_per_layer_keeps_and_a_classifier(self):
        """keep [0.8, 0.5] per layer: a categorical x axis without connecting
        lines and a config label 'keep=0.8,0.5' in the printed tables
        ('0.8/0.5' in figures); accuracy panels and cross-entropy labels for
        softmax models."""
        out = self.fm_tiny()
        p = tool("plot_gap_vs_keep.py", out, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_gap_vs_keep.png"))
        self.check_against_report(out, p.stdout, ("gap", "gap_acc"))
        self.assertIn("keep 0.8/0.5, L2 1e-3", p.stdout)
        import plot_gap_vs_keep
        with h5py.File(out, "r") as f:
            fig, _ = plot_gap_vs_keep.draw(f, out)
        self.assertEqual(len(fig.axes), 2)
        self.assertEqual([a.get_ylabel() for a in fig.axes],
                         ["generalisation gap: test − train cross-entropy (nats)",
                          "generalisation gap: train − test accuracy"])
        for a in fig.axes:
            self.assertEqual(a.get_xlabel(), "keep probability in hidden layer 1/2")
            self.assertEqual([t.get_text() for t in a.get_xticklabels()], ["0.8/0.5", "1/1"])
            self.assertEqual(len(a.containers), 2)          # one series per L2
            for c in a.containers:
                self.assertEqual(c.lines[0].get_linestyle(), "None")   # markers only
        p = tool("plot_curves.py", out, "--config", "keep=0.8,0.5 l2=0", "-o",
                 self.out("fm_curves.svg"))
        self.assertIn("keep 0.8/0.5, L2 0: 3 seeds", p.stdout)
        texts = svg_text(self.out("fm_curves.svg"))
        self.assertNoCliText(texts, "fm curves")
        for want in ("keep 0.8/0.5, L2 0", "train cross-entropy (nats)",
                     "test cross-entropy (nats)", "train accuracy", "test accuracy",
                     "generalisation gap: test − train cross-entropy (nats)"):
            self.assertIn(want, texts)
        self.assertFalse([t for t in texts if "MSE" in t])
        p = tool("plot_curves.py", out, "--config", "keep 0.8/0.5, L2 0", "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_curves.png"))
        self.assertIn("keep 0.8/0.5, L2 0: 3 seeds", p.stdout)
        p = tool("plot_dropout_hist.py", out, "-o", self.out("figs"))
        self.assertValidPNG(self.out("figs/fm_tiny_dropout_hist.png"))
        rows = printed_table(p.stdout)[1:]
        self.assertEqual([(r[1], r[3]) for r in rows], [("1", "0"), ("0.8", "0"), ("0.5", "1")])
        # the paired differences of a classifier: gap and gap_acc, as stored
        p = tool("plot_paired_diff.py", out, "-o", self.out("fm_paired.svg"))
        with h5py.File(out, "r") as f:
            jobs = table(f["jobs"])
        self.check_paired_diff(out, p.stdout, jobs, ("gap", "gap_acc"), 3)
        texts = svg_text(self.out("fm_paired.svg"))
        self.assertNoCliText(texts, "fm paired")
        for want in ("keep 0.8/0.5, L2 0", "keep 0.8/0.5, L2 1e-3", "keep 1, L2 1e-3"):
            self.assertIn(want, texts)
        self.assertTrue(any("(train − test accuracy)" in t for t in texts))
        self.assertTrue(any("(test − train cross-entropy (nats))" in t for t in texts))

    # ---- docs/ANALYSIS.md -------------------------------------------------

    def blocks(self, language):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        return [(text[:m.start()].count("\n") + 2, m.group(1))
                for m in re.finditer(r"^```" + language + r"\n(.*?)^```", text, re.M | re.S)]

    def test_docs_python_blocks_run_as_written(self):
        """Every ```python block, in order, in one session, from the folder
        that holds results/ch311_sin.h5."""
        blocks = self.blocks("python")
        self.assertGreaterEqual(len(blocks), 5)
        script = "".join(f"# ---- docs/ANALYSIS.md line {line}\n{code}\n"
                         for line, code in blocks)
        path = self.out("analysis_md.py")
        with open(path, "w") as f:
            f.write(script)
        p = run([sys.executable, path], cwd=self.dir, check=0)
        self.assertIn("regenerated mask equals the stored one", p.stdout)
        self.assertIn("share kept", p.stdout)
        self.assertIn("gap_mean", p.stdout)
        self.assertIn("xarray dims {'job': ", p.stdout)

    def test_docs_r_block_runs_where_r_is_installed(self):
        blocks = self.blocks("r")
        self.assertEqual(len(blocks), 1)
        rscript = shutil.which("Rscript")
        if not rscript or run([rscript, "-e", "library(hdf5r)"]).returncode:
            self.skipTest("Rscript with hdf5r is not installed (apt-get install r-cran-hdf5r)")
        path = self.out("analysis_md.R")
        with open(path, "w") as f:
            f.write(blocks[0][1])
        p = run([rscript, path], cwd=self.dir, check=0)
        self.assertIn("share kept", p.stdout)
        self.assertIn("gap_mean", p.stdout)
        # R's mask share equals numpy's for the same job and record
        m = re.search(r"share kept (\S+) keep_prob (\S+)", p.stdout)
        with h5py.File(self.h5, "r") as f:
            job = self.jobs[(self.jobs.keep_prob_1 < 1) & (self.jobs.status == "done")].iloc[0]
            masks = f["runs"][job.id]["masks"]
            bits = np.unpackbits(masks["layer0"][0, :masks["n_rows"][0]], axis=1,
                                 bitorder="little")[:, :masks["layer0"].attrs["n_units"]]
        self.assertAlmostEqual(float(m.group(1)), bits.mean(), places=5)
        first = re.search(r"first row: ([01]+)", p.stdout).group(1)
        self.assertEqual(first, "".join(map(str, bits[0])))
        self.assertEqual(float(m.group(2)), job.keep_prob_1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
