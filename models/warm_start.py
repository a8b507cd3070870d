"""Warm start: rebuild a trainable EmotionNet from an exported fp32 streaming graph (BatchNorm folded).

Each folded conv y = W x + b becomes conv W (no bias) -> BatchNorm with running statistics of W x measured on
Training stills, gamma = sqrt(var + eps) and beta = mean + b, so that the network computes exactly the exported
function in eval mode and nearly the same in train mode. The stage-1 still head (not exported) is refitted on
the recovered embeddings. Used by train.py --init-onnx to continue training a shipped model."""
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from net import CONVS, EmotionNet


def _inits(path):
    m = onnx.load(path)
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}


def _named_tensors(w, model):
    """Map the exported names (encoder.trunk.K = K-th fused layer) to our modules, in conv order."""
    convs = [m for m in model.enc.trunk if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in model.enc.trunk if isinstance(m, torch.nn.BatchNorm2d)]
    keys = sorted({k.rsplit(".", 1)[0] for k in w if k.startswith("encoder.trunk.")}, key=lambda k: int(k.split(".")[2]))
    if len(keys) != len(convs):
        raise ValueError("fp32 graph has %d convs, the net %d" % (len(keys), len(convs)))
    return [(convs[i], bns[i], w[k + ".weight"], w[k + ".bias"]) for i, k in enumerate(keys)]


@torch.no_grad()
def load_from_onnx(path, hidden, calib_x, bs=512, convs=CONVS):
    """calib_x: preprocessed stills [N,1,48,48] for the BatchNorm statistics; convs: the trunk the export has."""
    w = _inits(path)
    model = EmotionNet(hidden, convs).eval()
    layers = _named_tensors(w, model)
    # identity BatchNorms that add the folded bias back (beta = b): each layer sees the exported input
    for conv, bn, cw, cb in layers:
        conv.weight.copy_(cw)
        bn.weight.fill_(1.0), bn.bias.copy_(cb), bn.running_mean.zero_(), bn.running_var.fill_(1.0 - bn.eps)
    sums = {id(c): [0.0, 0.0, 0] for c, _, _, _ in layers}

    def hook(mod, inp, out):
        s = sums[id(mod)]
        s[0] = s[0] + out.sum((0, 2, 3))
        s[1] = s[1] + (out ** 2).sum((0, 2, 3))
        s[2] += out.numel() // out.shape[1]
    hooks = [c.register_forward_hook(hook) for c, _, _, _ in layers]
    for i in range(0, len(calib_x), bs):
        model.enc.features(calib_x[i:i + bs])
    for h in hooks:
        h.remove()
    for conv, bn, cw, cb in layers:
        s0, s1, n = sums[id(conv)]
        mean = s0 / n
        var = (s1 / n - mean ** 2).clamp(min=1e-6)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean + cb)
    model.enc.fc.weight.copy_(w["encoder.fc.weight"]), model.enc.fc.bias.copy_(w["encoder.fc.bias"])
    model.lstm.wx.weight.copy_(w["lstm.wx.weight"]), model.lstm.wx.bias.copy_(w["lstm.wx.bias"])
    wh = [v for k, v in w.items() if v.shape == (hidden, 4 * hidden)]
    if len(wh) != 1:
        raise ValueError("cannot identify the recurrent weight in %s" % path)
    model.lstm.wh.weight.copy_(wh[0].T)
    model.head.weight.copy_(w["head.weight"]), model.head.bias.copy_(w["head.bias"])
    return model


def fit_still_head(model, x, t, steps=300, bs=1024):
    """Refit the (not exported) stage-1 still head on the embeddings of unaugmented stills; x [N,1,48,48], t soft."""
    model.eval()
    with torch.no_grad():
        e = torch.cat([model.enc(x[i:i + bs]) for i in range(0, len(x), bs)])
    head = model.still_head
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = -(t * F.log_softmax(head(e), -1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.train()
    return loss.item()
