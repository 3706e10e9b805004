#!/usr/bin/python3
"""Writes the hostile IDX data corpus: tests/hostile/data/good/ (four small
valid IDX files: 12 training and 6 test images of 4 x 4 pixels, 3 classes)
and tests/hostile/data/bad/ (one damaged file each), plus
data/MANIFEST.tsv: file, the dataset key it replaces, and a fragment the
error message must contain.  The files are committed; rerun this script
only to change the corpus (the output is deterministic).

IDX (LeCun's MNIST format): big-endian magic 0x0000 08 <n_dims>, then
n_dims big-endian u32 dimensions, then the unsigned bytes."""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "data", "good")
BAD = os.path.join(HERE, "data", "bad")


def idx(dims, data, type_code=0x08, magic=None):
    head = magic if magic is not None else bytes([0, 0, type_code, len(dims)])
    return head + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def images(n, rows=4, cols=4, salt=0):
    return idx([n, rows, cols], [(i * 37 + salt) % 256 for i in range(n * rows * cols)])


def labels(n, classes=3):
    return idx([n], [i % classes for i in range(n)])


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def main():
    os.makedirs(GOOD, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    good = {"train-images-idx3-ubyte": images(12), "train-labels-idx1-ubyte": labels(12),
            "t10k-images-idx3-ubyte": images(6, salt=5), "t10k-labels-idx1-ubyte": labels(6)}
    for name, b in good.items():
        with open(os.path.join(GOOD, name), "wb") as f:
            f.write(b)
    ti = images(12)
    cases = [
        # name, key it replaces, bytes, message fragment
        ("empty.idx", "train_images", b"", "empty file"),
        ("header_cut.idx", "train_images", ti[:6], "truncated"),
        ("dims_cut.idx", "train_images", ti[:10], "truncated"),
        ("data_cut.idx", "train_images", ti[:16 + 100], "truncated"),
        ("labels_cut.idx", "train_labels", labels(12)[:8 + 7], "truncated"),
        ("magic_gif.idx", "train_images", b"GIF89a" + ti[6:], "not an IDX file"),
        ("magic_png.idx", "test_images", b"\x89PNG\r\n\x1a\n" + bytes(40), "not an IDX file"),
        ("magic_labels_for_images.idx", "train_images", labels(12), "dimensions"),
        ("magic_images_for_labels.idx", "train_labels", ti, "dimensions"),
        ("magic_2d.idx", "train_images", idx([12, 16], bytes(192)), "dimensions"),
        ("type_float.idx", "train_images", idx([12, 4, 4], bytes(192 * 4), type_code=0x0D), "data type 0x0d"),
        ("type_int.idx", "train_labels", idx([12], bytes(48), type_code=0x0C), "data type 0x0c"),
        ("dim_zero.idx", "train_images", idx([12, 0, 4], b""), "is 0"),
        ("count_zero.idx", "test_labels", idx([0], b""), "is 0"),
        # lying headers come with label files that lie the same way, so the
        # counts agree and the loader has to find the shortfall by reading
        ("lying_60000.idx", "train_images", idx([60000, 28, 28], bytes(64)), "truncated",
         {"train_labels": "lying_labels_60000.idx", "test_images": "images_1x28x28.idx",
          "test_labels": "labels_1.idx"}),
        ("lying_2gib.idx", "train_images", idx([2048, 1024, 1024], bytes(64)), "truncated",
         {"train_labels": "lying_labels_2048.idx", "test_images": "images_1x1024x1024_short.idx",
          "test_labels": "labels_1.idx"}),
        ("lying_labels_60000.idx", None, idx([60000], [0] * 12), None),
        ("lying_labels_2048.idx", None, idx([2048], [0] * 12), None),
        ("lying_labels_100000.idx", None, idx([100000], [0] * 12), None),
        ("images_1x28x28.idx", None, idx([1, 28, 28], bytes(784)), None),
        ("images_1x1024x1024_short.idx", None, idx([1, 1024, 1024], bytes(10)), None),
        ("labels_1.idx", None, idx([1], [0]), None),
        ("huge_over_limit.idx", "train_images", idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""), "more than the limit"),
        ("huge_labels.idx", "train_labels", idx([0xFFFFFFFF], b""), "more than the limit"),
        ("just_over_limit.idx", "test_images", idx([2049, 1024, 1024], b""), "more than the limit"),
        ("trailing_bytes.idx", "train_images", ti + b"extra", "trailing data"),
        ("label_out_of_range.idx", "train_labels", idx([12], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 7]), "out of range"),
        ("label_count_mismatch.idx", "train_labels", labels(11), "labels, but"),
        ("test_size_mismatch.idx", "test_images", images(6, rows=5, cols=4), "but the training images"),
        ("gz_truncated.idx.gz", "train_images", gz(ti)[:-12], "truncated gzip"),
        ("gz_no_trailer.idx.gz", "train_images", gz(ti)[:-8], "truncated gzip"),
        ("gz_bad_crc.idx.gz", "train_images", gz(ti)[:-8] + b"\0\0\0\0" + gz(ti)[-4:], "gzip"),
        ("gz_corrupt_stream.idx.gz", "train_images", gz(ti)[:12] + b"\xff" * 20 + gz(ti)[32:], "corrupt gzip"),
        ("gz_lying_header.idx.gz", "test_images", gz(idx([100000, 4, 4], bytes(50))), "truncated",
         {"test_labels": "lying_labels_100000.idx"}),
        ("gz_header_only_magic.idx.gz", "train_labels", b"\x1f\x8b", "truncated"),
        ("text_file.idx", "test_labels", b"this is not an idx file\n", "not an IDX file"),
    ]
    with open(os.path.join(HERE, "data", "MANIFEST.tsv"), "w") as m:
        m.write("# file (named in the message)\tdataset key it replaces\t"
                "fragment the message must contain\tother key=file replacements\n")
        for name, key, b, frag, *extra in cases:
            with open(os.path.join(BAD, name), "wb") as f:
                f.write(b)
            if key is None:      # a companion file, used by another case
                continue
            more = ",".join(f"{k}={v}" for k, v in (extra[0] if extra else {}).items())
            m.write(f"{name}\t{key}\t{frag}\t{more or '-'}\n")


if __name__ == "__main__":
    main()
