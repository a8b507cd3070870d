"""Stage-1 exploration (settings compared on a borrowed GPU; not part of the release recipe): trains the CNN +
still head with one config and logs the still-head PublicTest accuracy per epoch, with train.py's own pieces (targets,
augment.still_batch, cosine, eval_still) and bf16 autocast on a GPU. The data travels as one packed file:
  explore_stage1.py pack DATA_DIR PACKED.pkl.xz [--limit N]   (from the public formats; ~55 MB, ~1.5-2.5 min;
      also holds the CK+48 crops of the evaluation subjects, for distill.py's report only)
  explore_stage1.py run NAME --packed PACKED --out DIR [--device cuda] [--deadline S] [--init-onnx RUN_A.onnx]
  explore_stage1.py ensemble ARCH:STAGE1.pt [ARCH:STAGE1.pt ...] --packed PACKED   (still-head PublicTest accuracy of
      each trunk and of the mean of their softmaxes, with and without the mirror view; CPU, ~1 min)
Results of 2026-11-30 (16 runs on an H200): reports/stage1_exploration.json; the table is in MODEL_CARD.md."""
import argparse
import json
import lzma
import os
import pickle
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
T_START = time.time()
import data  # noqa: E402
import net  # noqa: E402
import stills  # noqa: E402
import train  # noqa: E402
import warm_start  # noqa: E402
from common import CK_EVAL_SUBJECTS, HIDDEN, preprocess_u8  # noqa: E402

C6 = net.CONVS  # the shipped trunk (models 1.0-1.3)
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
    # 2026-12-02, on the CPU: the cross-population augmentation (augment.cross_domain) against its control
    "rep_dom":  dict(BASE, init="A", epochs=50, lr=1e-3, domain=1.0),
}


def pack(data_dir, out, limit=None):
    """limit: keep the first `limit` rows of each FER2013 split (a smoke test's small file)."""
    fer = {k: {kk: v[:limit] for kk, v in d.items()} for k, d in data.read_fer2013(data_dir).items()}
    ck = data.read_ck48(data_dir, exclude=())  # read once: training subjects and the evaluation subjects
    d = {"Training": fer["Training"], "PublicTest": fer["PublicTest"],
         "ck": [s for s in ck if s["subject"] not in CK_EVAL_SUBJECTS],
         "ck_eval": [s for s in ck if s["subject"] in CK_EVAL_SUBJECTS]}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with lzma.open(out, "wb", preset=9) as f:
        pickle.dump(d, f, protocol=4)
    print("%s: %d bytes" % (out, os.path.getsize(out)))


def load_packed(path, limit=None):
    """train.build_sets() on a pack() file; `limit` keeps the first rows of each FER2013 split (smoke)."""
    with lzma.open(path, "rb") as f:
        d = pickle.load(f)
    fer = {k: {kk: v[:limit] for kk, v in d[k].items()} for k in ("Training", "PublicTest")}
    sets = train.build_sets(fer, d["ck"])
    sets["test_u8"], sets["ck_eval"] = fer["PublicTest"]["x"], d.get("ck_eval", [])  # distill.py's evaluation
    return sets


def build_model(cfg, sets, init_onnx):
    if cfg["init"] != "A":
        return net.EmotionNet(HIDDEN, ARCHS[cfg["convs"]])
    if cfg["convs"] != "C6":
        raise SystemExit("init A needs the C6 trunk")
    stills = preprocess_u8(sets["x"].numpy())
    model = warm_start.load_from_onnx(init_onnx, HIDDEN, stills[:4096], convs=C6)
    warm_start.fit_still_head(model, stills, sets["t"])
    return model


def fit(model, sets, cfg, dev, deadline, say):
    """The stage-1 loop of train.stage1 on `dev` (stills.fit, bf16 autocast on a GPU); returns the epochs run."""
    tx, ty = sets["test_x"].to(dev), sets["test_y"].to(dev)
    params = [p for n, p in model.named_parameters() if not n.startswith(("lstm", "head"))]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["wd"], **({"fused": True} if dev.type == "cuda" else {}))
    last = {}

    def loss_fn(x, t, g):
        with stills.autocast(dev):
            logits = model.still_logits(x)
        return train.soft_ce(logits.float(), t)

    def on_epoch(ep, loss, seconds):
        last["tl"], last["ta"] = train.eval_still(model, tx, ty)
        say("ep %d loss %.4f test %.4f acc %.4f t %.0f" % (ep, loss, last["tl"], last["ta"], seconds))
    ep = stills.fit(model, train.stage1_pool(sets, 3), cfg, dev, opt, loss_fn, on_epoch, say, T_START, deadline)
    return ep, last["ta"], tx, ty


def accuracy(scores, y):
    return (scores.argmax(1) == y).float().mean().item()


@torch.no_grad()
def still_probs(model, x, bs=512):
    """Softmax of the still head for x and for its mirror image."""
    return [train.still_logits(model, v, bs).softmax(1) for v in (x, x.flip(3))]


def ensemble(specs, packed, limit):
    """How far averaging trained trunks gets (an upper bound for distilling them into one model of this size)."""
    trunks = [spec.partition(":")[::2] for spec in specs]
    for spec, (arch, path) in zip(specs, trunks):
        if arch not in ARCHS or not os.path.isfile(path):
            raise SystemExit("ensemble: %r is not ARCH:STAGE1.pt with ARCH in %s and an existing file" % (spec, ", ".join(ARCHS)))
    sets = load_packed(packed, limit)
    x, y = sets["test_x"], sets["test_y"]
    acc = lambda p: round(100 * accuracy(p, y), 2)  # noqa: E731
    probs = []
    for spec, (arch, path) in zip(specs, trunks):
        model = net.EmotionNet(HIDDEN, ARCHS[arch])
        st = torch.load(path, map_location="cpu")
        model.load_state_dict(st.get("model", st.get("state", st)))  # stage1.pt or run --save
        probs.append(still_probs(model, x))
        print(json.dumps(dict(trunk=spec, one_view=acc(probs[-1][0]), mirror=acc(sum(probs[-1])))))
    print(json.dumps(dict(trunks=len(specs), one_view=acc(sum(p[0] for p in probs)),
                          mirror=acc(sum(p[0] + p[1] for p in probs)), n=len(y))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "pack", "ensemble"])
    ap.add_argument("name", help="run: a config name; pack: the data directory; ensemble: ARCH:STAGE1.pt")
    ap.add_argument("packed", nargs="*", help="pack: the output file; ensemble: more ARCH:STAGE1.pt")
    ap.add_argument("--packed", dest="packed_in", default="stage1-data.pkl.xz")
    ap.add_argument("--init-onnx", default=None, help="the run-A fp32 export, for the configs with init A")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--deadline", type=float, default=None, help="seconds after start by which to finish")
    ap.add_argument("--save", default=None, help="run: write the trained model's state here (distill.py robustness --still)")
    a = ap.parse_args()
    if a.cmd == "pack":
        if len(a.packed) != 1:
            ap.error("pack DATA_DIR OUT: one output file")
        return pack(a.name, a.packed[0], a.limit)
    if a.cmd == "ensemble":
        torch.set_num_threads(2)
        return ensemble([a.name] + a.packed, a.packed_in, a.limit)
    cfg = dict(CONFIGS[a.name], **({"epochs": a.epochs} if a.epochs else {}))
    torch.set_num_threads(2)
    torch.manual_seed(cfg["seed"])
    log = open(os.path.join(a.out, a.name + ".log"), "w")

    def say(s):
        log.write(s + "\n"), log.flush()
    say("cfg " + json.dumps(cfg))
    sets = load_packed(a.packed_in, a.limit)
    model = build_model(cfg, sets, a.init_onnx)
    model.enc.drop.p = cfg["drop"]
    dev = torch.device(a.device)
    model = model.to(dev).to(memory_format=torch.channels_last)
    if hasattr(torch, "set_default_device"):  # augment.py makes its random tensors with the default device
        torch.set_default_device(dev)
    say("params %d macs %.2fM" % (sum(p.numel() for n, p in model.named_parameters() if not n.startswith("still")),
                                  net.count_macs(convs=ARCHS[cfg["convs"]]) / 1e6))
    t0 = time.time()
    ep, acc, tx, ty = fit(model, sets, cfg, dev, a.deadline, say)
    tta = accuracy(sum(still_probs(model, tx)), ty)  # mirror test-time augmentation, for reference
    if a.save:
        torch.save({"convs": ARCHS[cfg["convs"]], "state": model.cpu().state_dict()}, a.save)
    say("RESULT " + json.dumps(dict(name=a.name, cfg=cfg, epochs_run=ep, final=acc, tta=tta, seconds=time.time() - t0)))


if __name__ == "__main__":
    main()
