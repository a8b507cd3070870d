"""The stage-1 loop on augmented stills that explore_stage1.py (CNN + still head), teacher.py (the teacher) and
distill.py (students learning from it) share: batches of train.stage1_pool() drawn on `dev`, augment.still_batch,
the caller's loss, and a cosine schedule that a deadline can shorten."""
import time

import torch

import augment
import train


class Deadline:
    """Cosine schedule (train.cosine) over `epochs`, shrunk (never grown) after epochs 2, 5 and 10 so that
    training ends by `deadline` seconds after `t0` (None = no deadline)."""

    def __init__(self, opt, epochs, nb, warm, t0, deadline):
        self.epochs, self.t0, self.deadline = epochs, t0, deadline
        self.sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: train.cosine(s, self.epochs * nb, warm))

    def after_epoch(self, ep, started, say):
        if self.deadline is None or ep not in (2, 5, 10):
            return
        per = (time.time() - started) / ep
        fit = ep + int((self.deadline - (time.time() - self.t0)) / per)
        if fit < self.epochs:
            self.epochs = max(ep + 1, fit)
            say("schedule shortened to %d epochs (%.1f s per epoch)" % (self.epochs, per))


def fit(model, pool, cfg, dev, opt, loss_fn, on_epoch, say, t0=None, deadline=None, warm_epochs=None):
    """pool: train.stage1_pool()'s (X, T, zoom_lo, zoom_hi); cfg: epochs, aug, seed [, batch (128), domain (0)];
    loss_fn(x channels-last, targets, generator) -> loss; on_epoch(epoch, mean loss, seconds) after each epoch
    (it may raise to stop). Warm-up: `warm_epochs` epochs, else a tenth of the steps up to 500. Returns the
    epochs run."""
    X, T, zl, zh = (v.to(dev) for v in pool)
    g = torch.Generator(device=dev).manual_seed(cfg["seed"])
    bs = min(cfg.get("batch", 128), len(X))
    nb = len(X) // bs
    warm = warm_epochs * nb if warm_epochs is not None else min(500, cfg["epochs"] * nb // 10 + 1)
    sched = Deadline(opt, cfg["epochs"], nb, warm, t0 or time.time(), deadline)
    started, ep = time.time(), 0
    while ep < sched.epochs:
        model.train()
        perm = torch.randperm(len(X), generator=g, device=dev)
        tot = torch.zeros((), device=dev)
        for b in range(nb):
            idx = perm[b * bs:(b + 1) * bs]
            x = augment.still_batch(X[idx], g, strength=cfg["aug"], zoom_lo=zl[idx], zoom_hi=zh[idx],
                                    domain=cfg.get("domain", 0.0))
            loss = loss_fn(x.contiguous(memory_format=torch.channels_last), T[idx], g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.sched.step()
            tot += loss.detach()
        ep += 1
        on_epoch(ep, tot.item() / nb, time.time() - started)
        sched.after_epoch(ep, started, say)
    return ep


def autocast(dev):
    """bf16 autocast on a GPU, nothing on the CPU."""
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")
