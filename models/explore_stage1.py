"""Stage-1 exploration (settings compared on a borrowed GPU; not part of the release recipe): trains the CNN +
still head with one config and logs the still-head PublicTest accuracy per epoch, with train.py's own pieces (targets,
augment.still_batch, cosine, eval_still) and bf16 autocast on a GPU. The data travels as one packed file:
  explore_stage1.py pack DATA_DIR PACKED.pkl.xz            (from the public formats; ~55 MB, ~2.5 min)
  explore_stage1.py run NAME --packed PACKED --out DIR [--device cuda] [--deadline S] [--init-onnx RUN_A.onnx]
Results of 2026-11-30 (16 runs on an H200): reports/stage1_exploration.json; the table is in MODEL_CARD.md."""
import argparse
import json
import lzma
import os
import pickle
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
T_START = time.time()
import augment  # noqa: E402
import data  # noqa: E402
import net  # noqa: E402
import train  # noqa: E402
import warm_start  # noqa: E402
from common import HIDDEN, preprocess_u8  # noqa: E402

C6 = [(1, 32, 5, 2, False), (32, 32, 3, 1, True), (32, 64, 3, 1, False), (64, 64, 3, 1, True),
      (64, 128, 3, 1, False), (128, 128, 3, 1, False)]  # models 1.0-1.3
C7 = C6[:-1] + [(128, 128, 3, 1, True), (128, 256, 3, 1, False)]  # the 7-conv candidate of 2026-11-30
C8 = C7 + [(256, 256, 3, 1, False)]
C7W = C6[:-1] + [(128, 128, 3, 1, True), (128, 320, 3, 1, False)]
CW = C6[:4] + [(64, 192, 3, 1, False), (192, 192, 3, 1, False)]
ARCHS = {"C6": C6, "C7": C7, "CW": CW, "C8": C8, "C7W": C7W}

BASE = dict(init=None, epochs=106, lr=2e-3, wd=0.05, aug=1.0, drop=0.3, convs="C6", seed=20261124)
CONFIGS = {
    "rep":      dict(BASE, init="A", epochs=50, lr=1e-3),
    "lowreg":   dict(BASE, init="A", epochs=50, lr=1e-3, wd=0.01, aug=0.7, drop=0.1),
    "lowaug":   dict(BASE, init="A", epochs=50, lr=1e-3, aug=0.7),
    "s106":     dict(BASE),
    "s106c7":   dict(BASE, convs="C7"),
    "s106w":    dict(BASE, convs="CW"),
    "s106c7lr": dict(BASE, convs="C7", wd=0.01, aug=0.7, drop=0.1),
    "s200":     dict(BASE, epochs=200),
    # batch 2: all from scratch, low regularisation unless said
    "c7lr":     dict(BASE, convs="C7", wd=0.01, aug=0.7, drop=0.1),
    "c7a5":     dict(BASE, convs="C7", wd=0.01, aug=0.5, drop=0.1),
    "c7wd0":    dict(BASE, convs="C7", wd=0.001, aug=0.7, drop=0.1),
    "c7d0":     dict(BASE, convs="C7", wd=0.01, aug=0.7, drop=0.0),
    "c8lr":     dict(BASE, convs="C8", wd=0.01, aug=0.7, drop=0.1),
    "c7wlr":    dict(BASE, convs="C7W", wd=0.01, aug=0.7, drop=0.1),
    "c6lr":     dict(BASE, wd=0.01, aug=0.7, drop=0.1),
    "c7lr3":    dict(BASE, convs="C7", wd=0.01, aug=0.7, drop=0.1, lr=3e-3),
}


def pack(data_dir, out):
    fer = data.read_fer2013(data_dir)
    d = {k: {kk: np.asarray(vv) for kk, vv in fer[k].items()} for k in ("Training", "PublicTest")}
    d["ck"] = data.read_ck48(data_dir)
    with lzma.open(out, "wb", preset=9) as f:
        pickle.dump(d, f, protocol=4)
    print("%s: %d bytes" % (out, os.path.getsize(out)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "pack"])
    ap.add_argument("name", help="run: a config name; pack: the data directory")
    ap.add_argument("packed", nargs="?", help="pack: the output file")
    ap.add_argument("--packed", dest="packed_in", default="stage1-data.pkl.xz")
    ap.add_argument("--init-onnx", default=None, help="the run-A fp32 export, for the configs with init A")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--deadline", type=float, default=None, help="seconds after start by which to finish")
    a = ap.parse_args()
    if a.cmd == "pack":
        return pack(a.name, a.packed)
    cfg = dict(CONFIGS[a.name])
    if a.epochs:
        cfg["epochs"] = a.epochs
    torch.set_num_threads(2)
    torch.manual_seed(cfg["seed"])
    log = open(os.path.join(a.out, a.name + ".log"), "w")

    def say(s):
        log.write(s + "\n"), log.flush()
    say("cfg " + json.dumps(cfg))
    with lzma.open(a.packed_in, "rb") as f:
        d = pickle.load(f)
    tr, te, ck = d["Training"], d["PublicTest"], d["ck"]
    if a.limit:
        tr = {k: v[:a.limit] for k, v in tr.items()}
        te = {k: v[:a.limit] for k, v in te.items()}
    t = train.targets(tr["y"], tr["soft"], tr["has_soft"])
    cx = np.concatenate([s["frames"] for s in ck]); cy = np.concatenate([[s["y"]] * len(s["frames"]) for s in ck])
    ct = train.targets(cy, np.zeros((len(cy), 6), np.float32), np.zeros(len(cy), bool))
    convs = ARCHS[cfg["convs"]]
    if cfg["init"] == "A":
        model = warm_start.load_from_onnx(a.init_onnx, HIDDEN, preprocess_u8(tr["x"][:4096]), convs=C6)
        warm_start.fit_still_head(model, preprocess_u8(tr["x"]), t)
    else:
        model = net.EmotionNet(HIDDEN)
        model.enc = net.Encoder(convs)
    if cfg["init"] == "A" and cfg["convs"] != "C6":
        raise SystemExit("init A needs the C6 trunk")
    model.enc.drop.p = cfg["drop"]
    dev = torch.device(a.device)
    model = model.to(dev).to(memory_format=torch.channels_last)
    if hasattr(torch, "set_default_device"):
        torch.set_default_device(dev)
    net.MIRROR_INDEX = net.MIRROR_INDEX.to(dev)
    g = torch.Generator(device=dev).manual_seed(cfg["seed"])
    X = torch.cat([torch.from_numpy(tr["x"])] + [torch.from_numpy(cx)] * 3).to(dev)
    T = torch.cat([t] + [ct] * 3).to(dev)
    n_ck = len(cx) * 3
    zl = torch.cat([torch.full((len(tr["x"]),), 0.85), torch.full((n_ck,), 0.68)])
    zh = torch.cat([torch.full((len(tr["x"]),), 1.2), torch.full((n_ck,), 1.0)])
    tx, ty = preprocess_u8(te["x"]).to(dev), torch.from_numpy(te["y"]).to(dev)
    params = [p for n, p in model.named_parameters() if not n.startswith(("lstm", "head"))]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["wd"], **({"fused": True} if dev.type == "cuda" else {}))
    bs = 128
    nb = len(X) // bs
    steps = [cfg["epochs"] * nb]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: train.cosine(s, steps[0], min(500, cfg["epochs"] * nb // 10 + 1)))
    say("params %d macs %.2fM" % (sum(p.numel() for n, p in model.named_parameters() if not n.startswith("still")),
                                  net.count_macs(convs=convs) / 1e6))
    t0 = time.time()
    best = 0
    ep_total = cfg["epochs"]
    ep = 0
    while ep < ep_total:
        model.train()
        perm = torch.randperm(len(X), generator=g, device=dev)
        tot = torch.zeros(())
        for b in range(len(X) // bs):
            idx = perm[b * bs:(b + 1) * bs]
            x = augment.still_batch(X[idx], g, strength=cfg["aug"], zoom_lo=zl[idx], zoom_hi=zh[idx])
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                logits = model.still_logits(x.contiguous(memory_format=torch.channels_last))
            loss = train.soft_ce(logits.float(), T[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.detach()
        tl, ta = train.eval_still(model, tx, ty)
        best = max(best, ta)
        el = time.time() - t0
        if ep in (1, 4, 9) and a.deadline:  # shrink the schedule (never grow it) to end before the deadline
            fit = ep + 1 + int((a.deadline - (time.time() - T_START)) / (el / (ep + 1)))
            if fit < ep_total:
                ep_total = max(ep + 2, fit)
                steps[0] = ep_total * nb
                say("schedule shortened to %d epochs" % ep_total)
        ep += 1
        say("ep %d loss %.4f test %.4f acc %.4f t %.0f" % (ep, tot.item() / (len(X) // bs), tl, ta, time.time() - t0))
    model.eval()
    with torch.no_grad():
        lg = torch.cat([model.still_logits(tx[i:i + 512]) for i in range(0, len(tx), 512)])
        lf = torch.cat([model.still_logits(tx[i:i + 512].flip(3)) for i in range(0, len(tx), 512)])
    tta = ((lg.softmax(1) + lf.softmax(1)).argmax(1) == ty).float().mean().item()
    res = dict(name=a.name, cfg=cfg, epochs_run=ep, final=ta, best=best, tta=tta, seconds=time.time() - t0)
    say("RESULT " + json.dumps(res))
    torch.save(model.state_dict(), os.path.join("/tmp", a.name + ".pt"))


if __name__ == "__main__":
    main()
