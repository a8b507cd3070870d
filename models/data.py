"""Readers for the public data formats: Kaggle fer2013.csv (+ FER+ fer2013new.csv), CK+48/<label>/*.png,
CK+/cohn-kanade-images + CK+/Emotion. Everything is returned as numpy uint8 48x48 images + our 6-class labels."""
import csv
import glob
import os
import re
import sys

import numpy as np

from common import (CK_CODE_TO_OURS, CK_EVAL_SUBJECTS, CK_NAME_TO_OURS, FER2013_TO_OURS,
                    FERPLUS_COLS_FOR_OURS, SIZE)
from pngread import read_png_gray


def fail(msg):
    sys.exit("emotiond models: ERROR: " + msg)


def read_fer2013(data_dir, limit=None):
    """Return {usage: dict(x uint8 [N,48,48], y int64 [N] (ours), soft float32 [N,6] or None)}.

    Disgust rows are dropped. FER+ votes (fer2013new.csv, row-aligned) give `soft` when present."""
    path = os.path.join(data_dir, "fer2013.csv")
    if not os.path.isfile(path):
        fail("missing %s (Kaggle FER2013 CSV with columns emotion,pixels,Usage)" % path)
    plus_path = os.path.join(data_dir, "fer2013new.csv")
    plus_rows = None
    if os.path.isfile(plus_path):
        with open(plus_path, newline="") as f:
            rd = csv.reader(f)
            head = next(rd)
            if len(head) < 12 or head[2].strip().lower() != "neutral":
                fail("%s: expected FER+ header 'Usage,Image name,neutral,...,NF'" % plus_path)
            plus_rows = [r for r in rd]
    out = {}
    with open(path, newline="") as f:
        rd = csv.reader(f)
        head = [h.strip() for h in next(rd)]
        if head[:3] != ["emotion", "pixels", "Usage"]:
            fail("%s: expected header emotion,pixels,Usage, got %s" % (path, head))
        for i, row in enumerate(rd):
            if limit and i >= limit:
                break
            ours = FER2013_TO_OURS.get(int(row[0]), -1)
            if ours < 0:
                continue
            px = np.array(row[1].split(), dtype=np.uint8)
            if px.size != SIZE * SIZE:
                fail("%s row %d: %d pixels, expected 2304" % (path, i + 2, px.size))
            soft = None
            if plus_rows is not None and i < len(plus_rows):
                votes = np.array([float(v or 0) for v in plus_rows[i][2:12]])
                six = votes[FERPLUS_COLS_FOR_OURS]
                if six.sum() > 0:
                    soft = six / six.sum()
            d = out.setdefault(row[2].strip(), {"x": [], "y": [], "soft": [], "has_soft": []})
            d["x"].append(px.reshape(SIZE, SIZE))
            d["y"].append(ours)
            d["soft"].append(soft if soft is not None else np.zeros(6))
            d["has_soft"].append(soft is not None)
    for k, d in out.items():
        out[k] = {"x": np.stack(d["x"]), "y": np.array(d["y"], dtype=np.int64),
                  "soft": np.array(d["soft"], dtype=np.float32), "has_soft": np.array(d["has_soft"])}
    if "Training" not in out:
        fail("%s: no Training rows" % path)
    return out


_CK48_NAME = re.compile(r"(S\d+)_(\d+)_(\d+)\.png$")


def read_ck48(data_dir, exclude=CK_EVAL_SUBJECTS):
    """CK+48 layout: CK+48/<label>/SXXX_YYY_NNNNNNNN.png. Returns list of sequences
    {subject, sequence, y, frames uint8 [k,48,48]} (frames in time order), dropped classes and
    excluded subjects removed. Missing folder -> []."""
    root = os.path.join(data_dir, "CK+48")
    if not os.path.isdir(root):
        return []
    seqs = {}
    for label in sorted(os.listdir(root)):
        ours = CK_NAME_TO_OURS.get(label.lower())
        if ours is None:
            fail("%s: unknown CK+48 label folder '%s'" % (root, label))
        if ours < 0:
            continue
        for p in sorted(glob.glob(os.path.join(root, label, "*.png"))):
            m = _CK48_NAME.search(os.path.basename(p))
            if not m:
                fail("%s: expected file names SXXX_YYY_NNNNNNNN.png" % p)
            if m.group(1) in exclude:
                continue
            img = read_png_gray(p)
            if img.shape != (SIZE, SIZE):
                img = resize_area(img, SIZE)
            key = (m.group(1), m.group(2))
            seqs.setdefault(key, {"subject": key[0], "sequence": key[1], "y": ours, "items": []})
            seqs[key]["items"].append((int(m.group(3)), img))
    out = []
    for key in sorted(seqs):
        s = seqs[key]
        s["frames"] = np.stack([im for _, im in sorted(s.pop("items"), key=lambda t: t[0])])
        out.append(s)
    return out


def resize_area(img, size):
    import cv2
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _imread_gray(path):
    try:
        import cv2
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is not None:
            return img
    except ImportError:
        pass
    return read_png_gray(path)


def haar_crops(frames, min_frac=0.15):
    """Daemon-like face crops: OpenCV haarcascade_frontalface_default, largest box, box reused from the
    nearest detected frame when a frame has no detection; crop resized to 48x48 with INTER_AREA."""
    import cv2
    xml = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml") \
        if hasattr(cv2, "data") else "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
    casc = cv2.CascadeClassifier(xml)
    if casc.empty():
        fail("cannot load Haar cascade %s (apt-get install opencv-data)" % xml)
    boxes = []
    for g in frames:
        ms = int(min(g.shape) * min_frac)
        det = casc.detectMultiScale(g, scaleFactor=1.1, minNeighbors=5, minSize=(ms, ms))
        boxes.append(max(det, key=lambda b: b[2] * b[3]) if len(det) else None)
    idx = [i for i, b in enumerate(boxes) if b is not None]
    if not idx:
        return None
    crops = []
    for i, g in enumerate(frames):
        j = min(idx, key=lambda k: abs(k - i))
        x, y, w, h = boxes[j]
        crops.append(cv2.resize(g[y:y + h, x:x + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA))
    return np.stack(crops)


def read_ck_sequences(data_dir, subjects=CK_EVAL_SUBJECTS, max_seqs=None):
    """CK+ layout: CK+/cohn-kanade-images/SXXX/YYY/*.png + CK+/Emotion/SXXX/YYY/*_emotion.txt.
    Returns labelled sequences (only `subjects`) with Haar crops of every frame (needs python3-opencv)."""
    root = os.path.join(data_dir, "CK+")
    img_root, emo_root = os.path.join(root, "cohn-kanade-images"), os.path.join(root, "Emotion")
    if not os.path.isdir(img_root) or not os.path.isdir(emo_root):
        return []
    out = []
    for emo in sorted(glob.glob(os.path.join(emo_root, "S*", "*", "*_emotion.txt"))):
        subj, seq = emo.split(os.sep)[-3:-1]
        if subjects and subj not in subjects:
            continue
        if max_seqs is not None and len(out) >= max_seqs:
            break
        code = int(round(float(open(emo).read().split()[0])))
        ours = CK_CODE_TO_OURS.get(code, -1)
        if ours < 0:
            continue
        files = sorted(glob.glob(os.path.join(img_root, subj, seq, "*.png")))
        if not files:
            fail("%s: label file without images in %s" % (emo, os.path.join(img_root, subj, seq)))
        crops = haar_crops([_imread_gray(f) for f in files])
        if crops is not None:
            out.append({"subject": subj, "sequence": seq, "y": ours, "frames": crops})
    return out
