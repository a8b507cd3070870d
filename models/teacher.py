"""Model 2.0 teacher: a wide VGG-style CNN for 48x48 gray faces (5.4 M parameters, 0.55 G multiply-adds per
face, 25x the student), trained on a GPU with bf16 autocast, SGD with Nesterov momentum and a cosine schedule,
heavy augmentation (augment.still_batch with the cross-population part on, and mixup) and FER+ vote targets.
It is never shipped: distill.py teaches the 1 ms student from it. Same data readers as train.py (the public
formats, or explore_stage1.py's packed file).
  teacher.py train (--packed FILE | --data DIR) --out DIR [--device cuda] [--epochs 120] [--deadline S] [--limit N]
writes DIR/teacher.pt (fp16 weights and the config), DIR/teacher.json (history, PublicTest accuracy and
per-class recall, with and without the mirror view)."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stills  # noqa: E402
import train  # noqa: E402
from common import CLASSES, save_json  # noqa: E402

WIDTHS = (64, 128, 256, 512)
DEPTHS = (2, 2, 3, 2)
DEFAULTS = dict(width=1.0, depths=DEPTHS, dropout=0.4, epochs=120, batch=256, lr=0.1, wd=5e-4, momentum=0.9,
                aug=1.0, domain=1.0, mixup=0.2, ferplus=0.5, ck_repeat=3, warmup=3, seed=20261202)


class TeacherNet(nn.Module):
    """Four stages of 3x3 conv + BatchNorm + ReLU (64/128/256/512 channels x width, 2/2/3/2 convs), each closed
    by a 2x2 max-pool (48 -> 3), then global average pooling and a two-layer head."""

    def __init__(self, width=1.0, depths=DEPTHS, dropout=0.4):
        super().__init__()
        layers, cin = [], 1
        for w, d in zip(WIDTHS, depths):
            cout = max(8, int(round(w * width)))
            for _ in range(d):
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
            layers.append(nn.MaxPool2d(2))
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, 256),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout / 2), nn.Linear(256, len(CLASSES)))

    def forward(self, x):
        return self.head(self.trunk(x))


def build(cfg):
    return TeacherNet(cfg["width"], tuple(cfg["depths"]), cfg["dropout"])


def macs(model):
    side, total = 48, 0
    for m in model.trunk:
        if isinstance(m, nn.Conv2d):
            total += side * side * m.in_channels * m.out_channels * 9
        elif isinstance(m, nn.MaxPool2d):
            side //= 2
    return total + sum(m.in_features * m.out_features for m in model.head if isinstance(m, nn.Linear))


def pool(sets, cfg):
    """Training stills and targets: FER2013 labels mixed with the FER+ vote distribution (cfg ferplus, where
    votes exist) plus the CK+48 crops, with train.stage1_pool's zoom ranges."""
    t = train.targets(sets["y"].numpy(), sets["soft"].numpy(), sets["has_soft"].numpy(), alpha=cfg["ferplus"])
    return train.stage1_pool(dict(sets, t=t), cfg["ck_repeat"])


def param_groups(model, wd):
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def mix(x, t, alpha, g):
    """Mixup on half of the batches (alpha 0 = off)."""
    if alpha <= 0 or float(torch.rand(1, generator=g, device=x.device)) < 0.5:
        return x, t
    lam = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=g, device=x.device))).beta(alpha, alpha))
    perm = torch.randperm(len(x), generator=g, device=x.device)
    return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]


def fit(model, sets, cfg, dev, say, t0=None, deadline=None, should_stop=None):
    """stills.fit with SGD (Nesterov), mixup and bf16 autocast; PublicTest accuracy after every epoch."""
    opt = torch.optim.SGD(param_groups(model, cfg["wd"]), lr=cfg["lr"], momentum=cfg["momentum"], nesterov=True)
    hist = []

    def loss_fn(x, t, g):
        x, t = mix(x, t, cfg["mixup"], g)
        with stills.autocast(dev):
            logits = model(x)
        return train.soft_ce(logits.float(), t)

    def on_epoch(ep, loss, seconds):
        rec = {"stage": "teacher", "epoch": ep, "train_loss": loss, "seconds": seconds, "lr": opt.param_groups[0]["lr"]}
        if "test_x" in sets:
            rec["test_acc"] = accuracy(predict(model, sets["test_x"], dev, mirror=False), sets["test_y"])
        hist.append(rec)
        say("teacher ep %d loss %.4f PublicTest %.4f t %.0f" % (ep, loss, rec.get("test_acc", float("nan")), seconds))
        why = should_stop() if should_stop is not None else None
        if why:
            raise RuntimeError("teacher stopped after epoch %d: %s" % (ep, why))
    stills.fit(model, pool(sets, cfg), cfg, dev, opt, loss_fn, on_epoch, say, t0, deadline, warm_epochs=cfg["warmup"])
    return hist


@torch.no_grad()
def logits_of(model, x, dev, mirror=True, bs=1024):
    """Logits of preprocessed stills [N,1,48,48] (float32, on the CPU); mirror: mean of face and mirror logits."""
    model.eval()
    out = []
    for i in range(0, len(x), bs):
        v = x[i:i + bs].to(dev).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            z = model(v).float()
            if mirror:
                z = (z + model(v.flip(3)).float()) / 2
        out.append(z.cpu())
    return torch.cat(out)


def predict(model, x, dev, mirror=True):
    return logits_of(model, x, dev, mirror).softmax(1)


def accuracy(probs, y):
    return float((probs.argmax(1).cpu() == y.cpu()).float().mean())


def recall(probs, y):
    """Accuracy, per-class recall and macro-F1 of class probabilities [N,6] against labels [N]."""
    pred, y = probs.argmax(1).cpu().numpy(), y.cpu().numpy()
    cm = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    np.add.at(cm, (y, pred), 1)
    present = cm.sum(1) > 0  # a class with no sample has no recall (CK+ has no Neutral apex)
    rec = cm.diagonal() / np.maximum(cm.sum(1), 1)
    prec = cm.diagonal() / np.maximum(cm.sum(0), 1)
    f1 = 2 * rec * prec / np.maximum(rec + prec, 1e-9)
    return {"acc": round(float((pred == y).mean()), 4), "macro_f1": round(float(f1[present].mean()), 4),
            "n": int(len(y)), "per_class_n": {c: int(k) for c, k in zip(CLASSES, cm.sum(1))},
            "recall": {c: round(float(r), 4) if ok else None for c, r, ok in zip(CLASSES, rec, present)}}


def save(model, cfg, path):
    torch.save({"cfg": cfg, "state": {k: v.half() if v.is_floating_point() else v
                                      for k, v in model.state_dict().items()}}, path)


def load(path, dev="cpu"):
    st = torch.load(path, map_location="cpu")
    model = build(st["cfg"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in st["state"].items()})
    return model.to(dev).to(memory_format=torch.channels_last).eval(), st["cfg"]


def load_sets(a):
    if a.packed:
        import explore_stage1
        return explore_stage1.load_packed(a.packed, a.limit)
    return train.load_sets(a.data, a.limit)


def train_teacher(sets, cfg, dev, out, say, t0=None, deadline=None, should_stop=None):
    """Train, save DIR/teacher.pt and return the teacher and its report (also written to DIR/teacher.json)."""
    torch.manual_seed(cfg["seed"])
    model = build(cfg).to(dev).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    say("teacher: %.2f M parameters, %.0f M MACs per face, %d stills" % (n_params / 1e6, macs(model) / 1e6, len(sets["x"])))
    started = time.time()
    hist = fit(model, sets, cfg, dev, say, t0, deadline, should_stop)
    report = {"cfg": cfg, "params": n_params, "macs": macs(model), "epochs_run": len(hist),
              "seconds": round(time.time() - started, 1), "device": str(dev), "history": hist}
    if "test_x" in sets:
        report["publictest"] = recall(predict(model, sets["test_x"], dev, mirror=False), sets["test_y"])
        report["publictest_mirror"] = recall(predict(model, sets["test_x"], dev), sets["test_y"])
    save(model, cfg, os.path.join(out, "teacher.pt"))
    save_json(os.path.join(out, "teacher.json"), report)
    return model.eval(), report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["train"])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--packed", help="explore_stage1.py pack output")
    src.add_argument("--data", help="a folder in the public formats (fer2013.csv [+ fer2013new.csv, CK+48/])")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--limit", type=int, default=None, help="first rows of each FER2013 split (smoke)")
    ap.add_argument("--deadline", type=float, default=None, help="seconds from start by which training ends")
    ap.add_argument("--threads", type=int, default=2)
    for k, v in DEFAULTS.items():
        if not isinstance(v, tuple):
            ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(a.threads)
    cfg = {k: getattr(a, k) if not isinstance(v, tuple) else v for k, v in DEFAULTS.items()}
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device(a.device)
    _, rep = train_teacher(load_sets(a), cfg, dev, a.out, lambda s: print(time.strftime("%H:%M:%S ") + s, flush=True),
                           t0, a.deadline)
    print(json.dumps({k: rep[k] for k in ("params", "epochs_run", "seconds") if k in rep} |
                     {"publictest": rep.get("publictest", {}).get("acc")}))


if __name__ == "__main__":
    main()
