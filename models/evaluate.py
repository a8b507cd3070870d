"""Python-side evaluation of the trained fp32 torch model + plots + tensors for the ORT check.
* FER2013 PublicTest six-class accuracy, one step from zero LSTM state (what the exported graph does first)
* steady jittered streams built from PublicTest stills: flips per 100 frames, accuracy over the stream
* CK+ held-out subjects (full sequences, Haar crops like the daemon): apex accuracy after running the whole
  sequence from zero state; first-frame Neutral accuracy
Usage: evaluate.py --data DIR --work WORK --reports DIR"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import augment  # noqa: E402
import data  # noqa: E402
from common import CLASSES, HIDDEN, SEED, preprocess_u8, save_json  # noqa: E402
from export_onnx import load_model  # noqa: E402
from net import deploy_step  # noqa: E402


@torch.no_grad()
def run_stream(step, x):
    """x [S,T,1,48,48] -> probs [S,T,6] from zero state."""
    S, T = x.shape[:2]
    h, c = torch.zeros(S, HIDDEN), torch.zeros(S, HIDDEN)
    out = []
    for t in range(T):
        p, h, c = step(x[:, t].contiguous(), h, c)
        out.append(p)
    return torch.stack(out, 1)


def confusion(y, pred):
    cm = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def plot_confusion(cm, title, path):
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=100)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            ax.text(j, i, "%d\n%.0f%%" % (cm[i, j], 100 * norm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(hist, path):
    s1 = [r for r in hist if r["stage"] == 1]
    s2 = [r for r in hist if r["stage"] == 2]
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.6), dpi=90)
    ep = [r["epoch"] for r in s1]
    axs[0].plot(ep, [r["train_loss"] for r in s1], label="train (soft targets, augmented)")
    axs[0].plot(ep, [r.get("test_loss", np.nan) for r in s1], label="PublicTest")
    axs[0].set_title("stage 1 loss (CNN + still head)")
    axs[1].plot(ep, [r["train_acc"] for r in s1], label="train (augmented)")
    axs[1].plot(ep, [r.get("test_acc", np.nan) for r in s1], label="PublicTest")
    axs[1].set_title("stage 1 accuracy")
    for a in axs[:2]:
        a.set_xlabel("epoch")
        a.legend()
        a.grid(alpha=.3)
    st = [r["step"] for r in s2]
    axs[2].plot(st, [r["train_loss"] for r in s2], label="stream train loss")
    axs[2].plot(st, [r.get("test_acc", np.nan) for r in s2], label="PublicTest acc (step 1, zero state)")
    axs[2].set_title("stage 2 (LSTM on streams)")
    axs[2].set_xlabel("step")
    axs[2].legend()
    axs[2].grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def flips_per_100(pred):
    """pred [S,T] argmax labels -> label changes per 100 frames."""
    changes = (pred[:, 1:] != pred[:, :-1]).sum()
    return 100.0 * float(changes) / (pred.shape[0] * (pred.shape[1] - 1))


def eval_publictest(step, te, reports):
    x = preprocess_u8(te["x"])
    y = te["y"]
    probs = torch.cat([run_stream(step, x[i:i + 512].unsqueeze(1))[:, 0] for i in range(0, len(x), 512)])
    pred = probs.argmax(1).numpy()
    cm = confusion(y, pred)
    acc = float((pred == y).mean())
    plot_confusion(cm, "FER2013 PublicTest, fp32, one step from zero state\nacc %.2f %%" % (100 * acc),
                   os.path.join(reports, "confusion_publictest.png"))
    per = {c: float(cm[i, i] / max(cm[i].sum(), 1)) for i, c in enumerate(CLASSES)}
    return {"acc": acc, "n": int(len(y)), "per_class_recall": per, "confusion": cm.tolist()}, x


def eval_streams(step, te, n=600, T=30):
    g = torch.Generator().manual_seed(SEED + 11)
    idx = np.random.default_rng(SEED).permutation(len(te["y"]))[:n]
    src = torch.from_numpy(te["x"][idx]).unsqueeze(1).expand(-1, T, -1, -1)
    probs = torch.cat([run_stream(step, augment.stream_batch(src[i:i + 100], g)) for i in range(0, len(src), 100)])
    pred = probs.argmax(2).numpy()
    y = te["y"][idx][:, None]
    return {"n_streams": n, "frames": T, "flips_per_100_frames": flips_per_100(pred),
            "acc_all_frames": float((pred == y).mean()), "acc_last_frame": float((pred[:, -1] == y[:, 0]).mean()),
            "acc_first_frame": float((pred[:, 0] == y[:, 0]).mean())}


def eval_ck(step, seqs, reports):
    if not seqs:
        return None
    apex, first, ys, preds = [], [], [], []
    for s in seqs:
        p = run_stream(step, preprocess_u8(s["frames"]).unsqueeze(0))[0].argmax(1).numpy()
        apex.append(p[-1] == s["y"])
        first.append(p[0] == CLASSES.index("Neutral"))
        ys.append(s["y"])
        preds.append(int(p[-1]))
    cm = confusion(np.array(ys), np.array(preds))
    plot_confusion(cm, "CK+ held-out subjects, apex frame (fp32)\nacc %.1f %%" % (100 * np.mean(apex)),
                   os.path.join(reports, "confusion_ckplus.png"))
    return {"sequences": len(seqs), "subjects": sorted({s["subject"] for s in seqs}),
            "apex_acc": float(np.mean(apex)), "first_frame_neutral_acc": float(np.mean(first)),
            "per_sequence": [{"subject": s["subject"], "sequence": s["sequence"], "label": CLASSES[s["y"]],
                              "apex_pred": CLASSES[p]} for s, p in zip(seqs, preds)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--reports", required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--streams", type=int, default=600, help="steady streams for the flip-rate check")
    ap.add_argument("--ck-max", type=int, default=None, help="evaluate at most this many CK+ sequences (smoke)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.reports, exist_ok=True)
    step = deploy_step(load_model(os.path.join(a.work, "model.pt")))
    report = json.load(open(os.path.join(a.work, "train_report.json")))
    plot_curves(report["history"], os.path.join(a.reports, "training_curves.png"))
    fer = data.read_fer2013(a.data, limit=a.limit)
    te = fer.get("PublicTest") or fer["Training"]
    ev = {}
    ev["publictest_fp32_step1"], x = eval_publictest(step, te, a.reports)
    ev["steady_streams_fp32"] = eval_streams(step, te, n=min(a.streams, len(te["y"])))
    if importlib.util.find_spec("cv2") is not None:  # Haar crops of the CK+ full frames
        ev["ckplus_heldout_fp32"] = eval_ck(step, data.read_ck_sequences(a.data, max_seqs=a.ck_max), a.reports)
    else:
        print("evaluate.py: python3-opencv missing: CK+ full-sequence evaluation skipped", file=sys.stderr)
        ev["ckplus_heldout_fp32"] = None
    x.numpy().astype("<f4").tofile(os.path.join(a.work, "publictest.f32"))
    te["y"].astype(np.uint8).tofile(os.path.join(a.work, "publictest.labels.u8"))
    report["evaluation_python"] = ev
    save_json(os.path.join(a.reports, "train_report.json"), report)
    print(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk not in ("confusion", "per_sequence")}
                          if v else v) for k, v in ev.items()}, indent=1))


if __name__ == "__main__":
    main()
