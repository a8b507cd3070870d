"""Two-stage training. Stage 1: CNN + still head on augmented stills (FER2013 Training + CK+48 train subjects).
Stage 2: LSTM + head (+ embedding FC at low LR) on synthetic jittered face streams, CNN trunk frozen,
loss at every step. Usage: train.py --data DIR --work DIR [--epochs N] [--stream-steps N] [--limit ROWS]"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import data  # noqa: E402
import warm_start  # noqa: E402
from common import CLASSES, HIDDEN, SEED, preprocess_u8, save_json, seed_everything  # noqa: E402
from net import EmotionNet, count_macs  # noqa: E402

NC = len(CLASSES)


def log(msg, f=None):
    line = time.strftime("%H:%M:%S ") + msg
    print(line, flush=True)
    if f:
        f.write(line + "\n")
        f.flush()


def targets(y, soft, has_soft, alpha=0.25, smooth=0.05):
    """Soft targets: FER2013 label, mixed with the FER+ vote distribution (alpha) and label smoothing."""
    t = np.eye(NC, dtype=np.float32)[y]
    a = alpha * has_soft.astype(np.float32)[:, None]
    t = (1 - a) * t + a * soft
    return torch.from_numpy((1 - smooth) * t + smooth / NC)


def load_sets(data_dir, limit=None):
    return build_sets(data.read_fer2013(data_dir, limit=limit), data.read_ck48(data_dir))


def build_sets(fer, ck):
    """Training tensors from read_fer2013()'s splits and read_ck48()'s sequences."""
    tr, te = fer["Training"], fer.get("PublicTest")
    sets = {"x": torch.from_numpy(tr["x"]), "y": torch.from_numpy(tr["y"]),
            "t": targets(tr["y"], tr["soft"], tr["has_soft"]), "ck": ck,
            "soft": torch.from_numpy(tr["soft"]), "has_soft": torch.from_numpy(tr["has_soft"])}
    if ck:
        cx = np.concatenate([s["frames"] for s in ck])
        cy = np.concatenate([[s["y"]] * len(s["frames"]) for s in ck])
        sets["ck_x"], sets["ck_y"] = torch.from_numpy(cx), torch.from_numpy(cy)
        sets["ck_t"] = targets(cy, np.zeros((len(cy), NC), np.float32), np.zeros(len(cy), bool))
    if te is not None:
        sets["test_x"], sets["test_y"] = preprocess_u8(te["x"]), torch.from_numpy(te["y"])
    return sets


def soft_ce(logits, t, w=None):
    loss = -(t * F.log_softmax(logits, dim=-1)).sum(-1)
    return loss.mean() if w is None else (loss * w).sum() / w.sum()


def cosine(step, total, warm):
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


@torch.no_grad()
def eval_still(model, x, y, bs=512):
    logits = still_logits(model, x, bs)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


@torch.no_grad()
def still_logits(model, x, bs=512):
    """The still head's logits for preprocessed stills x [N,1,48,48], in eval mode (train mode again after)."""
    model.eval()
    logits = torch.cat([model.still_logits(x[i:i + bs].contiguous(memory_format=torch.channels_last))
                        for i in range(0, len(x), bs)])
    model.train()
    return logits


def stage2_features(model, x, views):
    """The LSTM's input features: mean of the face's and its mirror image's (views 2) or the face's own (1)."""
    xc = x.contiguous(memory_format=torch.channels_last)
    return model.enc.features_flip(xc) if views == 2 else model.enc.features(xc)


@torch.no_grad()
def eval_step1(model, x, y, views=2, bs=512):
    """PublicTest accuracy of the streaming path: one step from zero state (what the daemon does first)."""
    model.eval()
    out = []
    for i in range(0, len(x), bs):
        e = model.enc.embed(stage2_features(model, x[i:i + bs], views))
        out.append(model.run_sequence(e.unsqueeze(1))[:, 0])
    logits = torch.cat(out)
    model.train()
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


class ThreadPicker:
    """On a shared 2-core box, 2 OpenMP threads can be 3x slower than 1 when another process is busy:
    every `every` steps time one step with each thread count and keep the faster (results do not depend on it)."""

    def __init__(self, max_threads, every=100):
        self.max, self.every, self.n, self.times = max_threads, every, 0, {}
        self.cur = max_threads

    def before(self):
        k = self.n % self.every
        if self.max > 1 and k < 2:
            self.cur = 1 if k == 0 else self.max
        torch.set_num_threads(self.cur)
        self.t0 = time.time()

    def after(self):
        k = self.n % self.every
        if self.max > 1 and k < 2:
            self.times[self.cur] = time.time() - self.t0
            if k == 1:
                self.cur = min(self.times, key=self.times.get)
        self.n += 1


def stage1_pool(sets, ck_repeat):
    """Stage-1 stills: FER2013 Training, then the CK+48 crops `ck_repeat` times, with their zoom ranges."""
    X, T = sets["x"], sets["t"]
    zoom_lo, zoom_hi = torch.full((len(X),), 0.85), torch.full((len(X),), 1.2)
    if "ck_x" in sets:  # CK+48 crops are tighter than Haar boxes: mostly zoom out
        n = len(sets["ck_x"]) * ck_repeat
        X = torch.cat([X] + [sets["ck_x"]] * ck_repeat)
        T = torch.cat([T] + [sets["ck_t"]] * ck_repeat)
        zoom_lo = torch.cat([zoom_lo, torch.full((n,), 0.68)])
        zoom_hi = torch.cat([zoom_hi, torch.full((n,), 1.0)])
    return X, T, zoom_lo, zoom_hi


def stage1(model, sets, epochs, bs, lr, g, logf, hist, tp, ck_repeat=3, ep_offset=0, wd=0.05, aug=1.0):  # noqa: C901
    X, T, zoom_lo, zoom_hi = stage1_pool(sets, ck_repeat)
    params = [p for n, p in model.named_parameters() if not n.startswith(("lstm", "head"))]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    steps = epochs * (len(X) // bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine(s, steps, min(500, steps // 10 + 1)))
    model.train()
    for ep in range(epochs):
        t0, perm = time.time(), torch.randperm(len(X), generator=g)
        tot, correct, seen = 0.0, 0, 0
        for b in range(len(X) // bs):
            tp.before()
            idx = perm[b * bs:(b + 1) * bs]
            x = augment.still_batch(X[idx], g, strength=aug, zoom_lo=zoom_lo[idx], zoom_hi=zoom_hi[idx])
            logits = model.still_logits(x.contiguous(memory_format=torch.channels_last))
            loss = soft_ce(logits, T[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tp.after()
            tot += loss.item() * len(idx)
            correct += (logits.argmax(1) == T[idx].argmax(1)).sum().item()
            seen += len(idx)
        rec = {"stage": 1, "epoch": ep_offset + ep + 1, "train_loss": tot / seen, "train_acc": correct / seen,
               "seconds": time.time() - t0, "lr": opt.param_groups[0]["lr"], "threads": tp.cur}
        if "test_x" in sets:
            rec["test_loss"], rec["test_acc"] = eval_still(model, sets["test_x"], sets["test_y"])
        hist.append(rec)
        log("stage1 ep %d/%d loss %.4f acc %.4f | PublicTest loss %.4f acc %.4f | %.0fs" % (
            ep_offset + ep + 1, ep_offset + epochs, rec["train_loss"], rec["train_acc"], rec.get("test_loss", float("nan")),
            rec.get("test_acc", float("nan")), rec["seconds"]), logf)


def sample_streams(sets, S, T, g, p_switch=0.3, p_ck=0.15, switch_free=2):
    """Frame sources [S,T,48,48], targets [S,T,6], loss weights [S,T], and which frame pairs are steady
    (same source image, and more than `switch_free` frames after a switch: the smoothing penalty leaves the
    frames right after a change free, as it leaves the first frames of a stream)."""
    X, Tt, Y = sets["x"], sets["t"], sets["y"]
    n = len(X)
    a = torch.randint(0, n, (S,), generator=g)
    b = torch.randint(0, n, (S,), generator=g)
    k = torch.randint(3, T - 2, (S,), generator=g)
    kind = torch.rand(S, generator=g)
    switch = (kind < p_switch) & (Y[a] != Y[b])
    t = torch.arange(T).view(1, T)
    use_b = switch.view(S, 1) & (t >= k.view(S, 1))
    src = torch.where(use_b, b.view(S, 1), a.view(S, 1))
    frames, tg = X[src], Tt[src]
    w = torch.ones(S, T)
    w[:, 0] = 2.0  # the first step from zero state matters (single stills, new faces)
    after = t - k.view(S, 1)
    w = torch.where(switch.view(S, 1) & (after == 0), torch.full_like(w, 0.2), w)
    w = torch.where(switch.view(S, 1) & (after == 1), torch.full_like(w, 0.5), w)
    ck = sets["ck"]
    zoom_lo, zoom_hi = 0.85, 1.15
    if ck:
        is_ck = kind > 1 - p_ck
        zoom_lo = torch.where(is_ck, 0.68, 0.85)
        zoom_hi = torch.where(is_ck, 0.95, 1.15)
        for s in torch.nonzero(is_ck).flatten().tolist():
            seq = ck[int(torch.randint(0, len(ck), (1,), generator=g))]
            j = torch.sort(torch.randint(0, len(seq["frames"]), (T,), generator=g)).values
            frames[s] = torch.from_numpy(seq["frames"][j.cpu().numpy()]).to(frames.device)
            tg[s] = torch.from_numpy(np.eye(NC, dtype=np.float32)[seq["y"]] * 0.95 + 0.05 / NC).to(tg.device)
    steady = ((after[:, 1:] < 0) | (after[:, 1:] > switch_free) | ~switch.view(S, 1)).float()  # [S,T-1] pairs
    return frames, tg, w, zoom_lo, zoom_hi, steady


def consistency(logits, steady, margin, start=0):
    """Hinge on the log-probability lead of each steady stream's own majority class (detached) over the
    runner-up, at frames >= start: pushes near-ties apart so that jitter cannot flip the label. The first
    `start` frames are left free, so the LSTM can gather evidence before it commits."""
    whole = steady.min(1).values > 0  # streams with no switch
    if not whole.any():
        return logits.sum() * 0
    logp = torch.log_softmax(logits[whole][:, start:], -1)
    with torch.no_grad():
        maj = logp.exp().mean(1).argmax(-1)
    own = logp.gather(-1, maj.view(-1, 1, 1).expand(-1, logp.shape[1], 1)).squeeze(-1)
    other = logp.scatter(-1, maj.view(-1, 1, 1).expand(-1, logp.shape[1], 1), float("-inf")).max(-1).values
    return torch.relu(margin - (own - other)).mean()


def stage2(model, sets, steps, S, T, lr, g, logf, hist, tp, smooth=3.0, consist=0.0, margin=1.0, consist_from=0, smooth_from=0,
           switch_p=0.3, switch_free=2, views=2):
    """Loss = soft CE at every step (weights from sample_streams) + smooth * mean squared change of the
    softmax between consecutive frames of the same source image (steady segments only) [+ consist *
    the margin hinge of consistency()]."""
    torch.manual_seed(SEED + 1)  # same stage-2 randomness whether stage 1 was just run or resumed
    for p in model.enc.trunk.parameters():
        p.requires_grad_(False)
    model.enc.drop.p = 0.1
    opt = torch.optim.AdamW([{"params": model.enc.fc.parameters(), "lr": lr * 0.1},
                             {"params": list(model.lstm.parameters()) + list(model.head.parameters()), "lr": lr}],
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine(s, steps, max(1, steps // 20)))
    model.train()
    model.enc.trunk.eval()
    t0, tot = time.time(), 0.0
    every = max(1, steps // 10)
    for step in range(steps):
        tp.before()
        frames, tg, w, zl, zh, steady = sample_streams(sets, S, T, g, p_switch=switch_p, switch_free=switch_free)
        x = augment.stream_batch(frames, g, zl, zh).reshape(S * T, 1, 48, 48)
        with torch.no_grad():
            f = stage2_features(model, x, views)
        logits = model.run_sequence(model.enc.embed(f).view(S, T, -1))
        loss = soft_ce(logits.reshape(S * T, NC), tg.reshape(S * T, NC), w.reshape(-1))
        p = torch.softmax(logits, -1)
        jump = ((p[:, 1:] - p[:, :-1]) ** 2).sum(-1)
        steady_s = steady.clone()
        steady_s[:, :smooth_from] = 0  # the first frames may move freely while evidence is gathered
        loss = loss + smooth * (jump * steady_s).sum() / steady_s.sum().clamp(min=1)
        if consist > 0:
            loss = loss + consist * consistency(logits, steady, margin, consist_from)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        tp.after()
        tot += loss.item()
        if (step + 1) % every == 0 or step + 1 == steps:
            rec = {"stage": 2, "step": step + 1, "train_loss": tot / every, "seconds": time.time() - t0}
            if "test_x" in sets:
                rec["test_loss"], rec["test_acc"] = eval_step1(model, sets["test_x"], sets["test_y"], views)
            hist.append(rec)
            log("stage2 step %d/%d loss %.4f | PublicTest step-1 loss %.4f acc %.4f | %.0fs" % (
                step + 1, steps, rec["train_loss"], rec.get("test_loss", float("nan")),
                rec.get("test_acc", float("nan")), rec["seconds"]), logf)
            tot = 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05, help="stage-1 AdamW weight decay")
    ap.add_argument("--aug", type=float, default=1.0, help="stage-1 augmentation strength (augment.still_batch)")
    ap.add_argument("--dropout", type=float, default=0.3, help="stage-1 dropout before the embedding layer")
    ap.add_argument("--extra-epochs", type=int, default=12, help="stage 1b: warm-restart epochs")
    ap.add_argument("--extra-lr", type=float, default=1e-3)
    ap.add_argument("--stream-steps", type=int, default=500)
    ap.add_argument("--smooth", type=float, default=10.0, help="weight of the frame-to-frame softmax change penalty")
    ap.add_argument("--smooth-from", type=int, default=0,
                    help="the smoothing penalty applies from this frame pair on (earlier frames move freely)")
    ap.add_argument("--consist", type=float, default=0.0,
                    help="weight of the steady-stream margin hinge (0 = off)")
    ap.add_argument("--consist-margin", type=float, default=1.0, help="log-probability lead the hinge asks for")
    ap.add_argument("--consist-from", type=int, default=6, help="first stream frame the hinge applies to")
    ap.add_argument("--switch-p", type=float, default=0.3, help="share of stage-2 streams that switch to another face")
    ap.add_argument("--switch-free", type=int, default=2,
                    help="frame pairs after a switch that the smoothing penalty leaves free")
    ap.add_argument("--stream-len", type=int, default=20)
    ap.add_argument("--stage2-views", type=int, choices=[1, 2], default=2,
                    help="stage-2 LSTM input: mean features of the face and its mirror (2) or the face alone (1)")
    ap.add_argument("--stream-batch", type=int, default=20)
    ap.add_argument("--limit", type=int, default=None, help="read only the first ROWS csv rows (smoke)")
    ap.add_argument("--threads", type=int, default=2, help="at most this many threads")
    ap.add_argument("--ck-repeat", type=int, default=3, help="CK+48 crops are repeated this often per epoch")
    ap.add_argument("--resume-stage1", action="store_true", help="reuse WORK/stage1.pt if present")
    ap.add_argument("--init-onnx", default=None,
                    help="continue from an exported fp32 graph (warm_start.py) instead of random weights")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seed_everything(SEED)
    g = torch.Generator().manual_seed(SEED)
    os.makedirs(a.work, exist_ok=True)
    logf = open(os.path.join(a.work, "train.log"), "a")
    t_start = time.time()
    sets = load_sets(a.data, a.limit)
    log("data: %d FER2013 Training stills, %d CK+48 train sequences, %d PublicTest" % (
        len(sets["x"]), len(sets["ck"]), len(sets.get("test_y", []))), logf)
    model = EmotionNet(HIDDEN)
    if a.init_onnx:
        stills = preprocess_u8(sets["x"].numpy())
        model = warm_start.load_from_onnx(a.init_onnx, HIDDEN, stills[:4096])
        loss = warm_start.fit_still_head(model, stills, sets["t"])
        log("warm start from %s (still head refitted, loss %.4f)" % (a.init_onnx, loss), logf)
    model.enc.drop.p = a.dropout
    model = model.to(memory_format=torch.channels_last)
    hist = []
    t1 = time.time()
    s1 = os.path.join(a.work, "stage1.pt")
    if a.resume_stage1 and os.path.isfile(s1):
        st = torch.load(s1)
        model.load_state_dict(st["model"])
        hist, g = st["hist"], torch.Generator().manual_seed(SEED + 1)
        log("resumed stage 1 from " + s1, logf)
    else:
        stage1(model, sets, a.epochs, a.batch, a.lr, g, logf, hist, ThreadPicker(a.threads), a.ck_repeat,
               wd=a.wd, aug=a.aug)
        torch.save({"model": model.state_dict(), "hist": hist}, s1)
        g = torch.Generator().manual_seed(SEED + 1)
    s1b = os.path.join(a.work, "stage1b.pt")
    if a.extra_epochs > 0:  # second cosine cycle (warm restart) of stage 1 at a lower peak LR
        if a.resume_stage1 and os.path.isfile(s1b):
            st = torch.load(s1b)
            model.load_state_dict(st["model"])
            hist = st["hist"]
            log("resumed stage 1b from " + s1b, logf)
        else:
            g1b = torch.Generator().manual_seed(SEED + 2)
            torch.manual_seed(SEED + 2)
            stage1(model, sets, a.extra_epochs, a.batch, a.extra_lr, g1b, logf, hist, ThreadPicker(a.threads),
                   a.ck_repeat, ep_offset=a.epochs, wd=a.wd, aug=a.aug)
            torch.save({"model": model.state_dict(), "hist": hist}, s1b)
        g = torch.Generator().manual_seed(SEED + 1)
    t2 = time.time()
    stage2(model, sets, a.stream_steps, a.stream_batch, a.stream_len, 3e-3, g, logf, hist, ThreadPicker(a.threads, 50),
           smooth=a.smooth, consist=a.consist, margin=a.consist_margin, consist_from=a.consist_from,
           smooth_from=a.smooth_from, switch_p=a.switch_p, switch_free=a.switch_free, views=a.stage2_views)
    t3 = time.time()
    torch.save(model.state_dict(), os.path.join(a.work, "model.pt"))
    n_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("still_head"))
    report = {"seed": SEED, "args": vars(a), "classes": CLASSES, "hidden": HIDDEN, "params": n_params,
              "macs": count_macs(), "mflops": 2 * count_macs() / 1e6, "mmacs": count_macs() / 1e6,
              "wall_seconds": {"load": t1 - t_start, "stage1": t2 - t1, "stage2": t3 - t2, "total": t3 - t_start},
              "history": hist, "threads": a.threads}
    save_json(os.path.join(a.work, "train_report.json"), report)
    log("done: stage1 %.0fs stage2 %.0fs total %.0fs" % (t2 - t1, t3 - t2, t3 - t_start), logf)


if __name__ == "__main__":
    main()
