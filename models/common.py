"""Shared constants and THE preprocessing function (training, export metadata and preprocess_check.py use it)."""
import json
import os
import random

import numpy as np
import torch

CLASSES = ["Angry", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
SIZE = 48
SCALE = 1.0 / 255.0
EPS = 1e-6
HIDDEN = 64
SEED = 20261124
VERSION = "1.3.0"
# LSTM steps per second the model is made for (metadata emotiond.step_hz; the daemon steps every face at this
# rate, whatever the camera's). Stage 2 trains on 30-step streams that stand for 2 s of a 15 fps camera: its
# smoothing and switch-free windows are counted in steps (6 steps = 0.4 s), and the eval's gated rows and the
# camera default (source.fps) are 15 fps.
STEP_HZ = 15

# CK+ subjects with full frame sequences: the CK+ evaluation set, never used for training.
CK_EVAL_SUBJECTS = ("S052", "S055", "S074", "S106", "S113", "S130", "S132")

# Maps from public label spaces to our 6 classes (-1 = dropped).
FER2013_TO_OURS = {0: 0, 1: -1, 2: 1, 3: 2, 4: 4, 5: 5, 6: 3}          # Disgust dropped
CK_NAME_TO_OURS = {"anger": 0, "fear": 1, "happy": 2, "neutral": 3, "sadness": 4,
                   "surprise": 5, "contempt": -1, "disgust": -1}
CK_CODE_TO_OURS = {0: 3, 1: 0, 2: -1, 3: -1, 4: 1, 5: 2, 6: 4, 7: 5}   # CK+ Emotion codes
# FER+ vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
FERPLUS_COLS_FOR_OURS = [4, 6, 1, 0, 3, 2]

PREPROCESS = {"size": SIZE, "resize": "area", "scale": SCALE, "norm": "per_image", "mean": 0.0, "std": 1.0}


def standardize(p):
    """x = (p - mean(p)) / (std(p) + 1e-6) per image, p = pixel * SCALE, std = population std (ddof 0).

    p: float tensor [..., 48, 48]. This is the one preprocessing formula of the model.
    """
    p = p.float()
    mean = p.mean(dim=(-2, -1), keepdim=True)
    std = ((p - mean) ** 2).mean(dim=(-2, -1), keepdim=True).sqrt()
    return (p - mean) / (std + EPS)


def preprocess_u8(u8):
    """uint8 array/tensor [N, 48, 48] -> float32 tensor [N, 1, 48, 48] model input."""
    t = torch.as_tensor(np.asarray(u8, dtype=np.uint8)).float() * SCALE
    return standardize(t).unsqueeze(1)


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
