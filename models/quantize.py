"""Our own static int8 QDQ quantisation of the fp32 streaming graph (onnx python API only).

* weights of Conv / Gemm / MatMul: int8 storage with a 7-bit range [-63, 63] (see WEIGHT_QMAX), symmetric, per
  output channel (DequantizeLinear with axis);
  biases: int32 with scale = input_scale * weight_scale[c];
* activations: int8 per tensor (asymmetric, zero point), ranges calibrated in torch on augmented Training
  streams (99.99th percentile of the top / bottom values) at every Conv/Gemm/MatMul input and every Relu output
  that follows a Conv; a MaxPool between a Relu and a Conv shares the Relu's parameters (ORT then runs it in int8).
Usage: quantize.py --model WORK/model.pt --fp32 IN.onnx --out OUT.onnx --data DIR [--n 2048]"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import data  # noqa: E402
from common import HIDDEN, SEED  # noqa: E402
from export_onnx import load_model, set_metadata  # noqa: E402
from net import deploy_step  # noqa: E402

QUANT_OPS = ("Conv", "Gemm", "MatMul")
PCT = 99.99
# Weights use 7 bits ([-63, 63]) by default. x86 CPUs without VNNI (AVX2, AVX-512F) multiply u8 activations by
# s8 weights with vpmaddubsw, which adds pairs of products into saturating int16: 2 x 255 x 127 overflows and
# costs ~5 points of accuracy, 2 x 255 x 63 does not. ARM and VNNI CPUs lose nothing measurable with 7 bits.
WEIGHT_QMAX = 63


class RangeObserver:
    """Per-module ranges of the input (and, for convs, the ReLU'd output) over calibration batches."""

    def __init__(self):
        self.stats = {}
        self.g = torch.Generator().manual_seed(SEED + 8)  # the same subsample every run: a reproducible file

    def _lohi(self, t):
        v = t.detach().flatten()
        if v.numel() > 200_000:  # random subsample keeps the percentile cheap
            v = v[torch.randint(0, v.numel(), (200_000,), generator=self.g)]
        q = torch.quantile(v.float(), torch.tensor([1 - PCT / 100, PCT / 100]))
        return float(q[0]), float(q[1])

    def add(self, key, t):
        lo, hi = self._lohi(t)
        s = self.stats.setdefault(key, [0.0, 0.0, 0])
        s[0] += lo
        s[1] += hi
        s[2] += 1

    def range(self, key):
        lo, hi, n = self.stats[key]
        return lo / n, hi / n


def calibrate(step, frames_u8, seq_len=6, bs=64):
    """Run the fp32 torch deploy model over augmented streams; hooks record input/output ranges."""
    obs, hooks = RangeObserver(), []
    mods = [m for m in step.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for m in mods:
        hooks.append(m.register_forward_pre_hook(lambda mod, inp: obs.add((id(mod), "in"), inp[0])))
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda mod, inp, out: obs.add((id(mod), "relu"), torch.relu(out))))
    g = torch.Generator().manual_seed(SEED + 7)
    with torch.no_grad():
        for i in range(0, len(frames_u8) - bs + 1, bs):
            src = frames_u8[i:i + bs].unsqueeze(1).expand(-1, seq_len, -1, -1)
            x = augment.stream_batch(src, g)
            h = torch.zeros(bs, HIDDEN)
            c = torch.zeros(bs, HIDDEN)
            for t in range(seq_len):
                _, h, c = step(x[:, t], h, c)
    for hk in hooks:
        hk.remove()
    return obs, mods


def qparams(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 1e-8)
    scale = (hi - lo) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return np.float32(scale), np.int8(zp)


class Builder:
    def __init__(self, model):
        self.g = model.graph
        self.inits = {i.name: i for i in self.g.initializer}
        self.new_nodes, self.qdq = [], {}

    def const(self, name, arr):
        self.g.initializer.append(numpy_helper.from_array(arr, name))
        return name

    def qdq_act(self, tensor, scale, zp):
        """Insert tensor -> Q -> DQ once; return the dequantised name."""
        if tensor in self.qdq:
            return self.qdq[tensor]
        s = self.const(tensor + "_scale", np.array(scale, np.float32))
        z = self.const(tensor + "_zp", np.array(zp, np.int8))
        self.new_nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [tensor + "_q"], name=tensor + "_Q"))
        self.new_nodes.append(helper.make_node("DequantizeLinear", [tensor + "_q", s, z], [tensor + "_dq"],
                                               name=tensor + "_DQ"))
        self.qdq[tensor] = (tensor + "_dq", float(scale))
        return self.qdq[tensor]

    def quant_weight(self, name, axis, qmax=WEIGHT_QMAX):
        w = numpy_helper.to_array(self.inits[name]).astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        scale = (np.abs(w).max(axis=red) / float(qmax)).astype(np.float32)
        scale = np.maximum(scale, 1e-12)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -qmax, qmax).astype(np.int8)
        qn = self.const(name + "_int8", q)
        s = self.const(name + "_wscale", scale)
        z = self.const(name + "_wzp", np.zeros_like(scale, dtype=np.int8))
        self.new_nodes.append(helper.make_node("DequantizeLinear", [qn, s, z], [name + "_dq"], name=name + "_DQ",
                                               axis=axis))
        return name + "_dq", scale

    def quant_bias(self, name, in_scale, w_scale):
        b = numpy_helper.to_array(self.inits[name]).astype(np.float64)
        scale = (in_scale * w_scale).astype(np.float32)
        q = np.round(b / scale).astype(np.int32)
        qn = self.const(name + "_int32", q)
        s = self.const(name + "_bscale", scale)
        z = self.const(name + "_bzp", np.zeros_like(q))
        self.new_nodes.append(helper.make_node("DequantizeLinear", [qn, s, z], [name + "_dq"], name=name + "_DQ",
                                               axis=0))
        return name + "_dq"


def match_module(w, mods):
    """Find the torch module whose weight equals this ONNX initializer; return (module, weight_axis)."""
    for m in mods:
        mw = m.weight.detach().numpy()
        if mw.shape == w.shape and np.allclose(mw, w, atol=1e-6):
            return m, 0
        if mw.T.shape == w.shape and np.allclose(mw.T, w, atol=1e-6):
            return m, 1
    raise RuntimeError("no torch module matches ONNX weight of shape %s" % (w.shape,))


def calibration_index(n_train, n):
    """Which Training stills calibrate the int8 ranges: the first n of a fixed (seeded) permutation."""
    return np.random.default_rng(SEED).permutation(n_train)[:n]


def quantize(fp32_path, out_path, step, calib_u8):
    obs, mods = calibrate(step, calib_u8)
    model = onnx.load(fp32_path)
    b = Builder(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    relu_q = {}  # relu output tensor -> (scale, zp), for Conv -> Relu chains
    for node in list(model.graph.node):
        if node.op_type not in QUANT_OPS:
            continue
        wname = node.input[1]
        if wname not in b.inits:
            continue
        w = numpy_helper.to_array(b.inits[wname])
        mod, axis = match_module(w, mods)
        if node.op_type == "Gemm":
            tb = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if tb else 1
        elif node.op_type == "MatMul":
            axis = 1
        x = node.input[0]
        scale, zp = qparams(*obs.range((id(mod), "in")))
        prod = producers.get(x)
        if prod is not None and prod.op_type == "MaxPool" and prod.input[0] in relu_q:
            scale, zp = relu_q[prod.input[0]]  # same params on both sides of the MaxPool
            b.qdq_act(prod.input[0], scale, zp)
        xdq, in_scale = b.qdq_act(x, scale, zp)
        wdq, wscale = b.quant_weight(wname, axis)
        inputs = [xdq, wdq]
        if len(node.input) > 2 and node.input[2] in b.inits:
            inputs.append(b.quant_bias(node.input[2], in_scale, wscale))
        del node.input[:]
        node.input.extend(inputs)
        if node.op_type == "Conv":
            cons = consumers.get(node.output[0], [])
            if len(cons) == 1 and cons[0].op_type == "Relu":
                rs, rz = qparams(*obs.range((id(mod), "relu")))
                relu_q[cons[0].output[0]] = (rs, rz)
    # Relu outputs that feed MaxPool / GlobalAveragePool and were not handled above
    for t, (s, z) in relu_q.items():
        if any(c.op_type in ("MaxPool", "GlobalAveragePool") for c in consumers.get(t, [])):
            b.qdq_act(t, s, z)
    # consumers of quantised Relu outputs (MaxPool, GlobalAveragePool, Conv) read the dequantised tensor
    for n in model.graph.node:
        for k, i in enumerate(n.input):
            if i in relu_q and i in b.qdq:
                n.input[k] = b.qdq[i][0]
    # drop the now unused fp32 weights, then topologically insert new nodes
    used = {i for n in list(model.graph.node) + b.new_nodes for i in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    nodes = b.new_nodes + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(toposort(nodes, [i.name for i in model.graph.input] + [i.name for i in keep]))
    trained = next((p.value for p in model.metadata_props if p.key == "emotiond.trained"), None)
    set_metadata(model, "int8-qdq-per-channel-w7", trained)  # same training timestamp as the fp32 export
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    return model


def toposort(nodes, available):
    have, out, pending = set(available) | {""}, [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(i in have for i in n.input):
                out.append(n)
                have.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise RuntimeError("graph has unresolved inputs: %s" % [n.name for n in rest][:5])
        pending = rest
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=1024, help="calibration images (Training split)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--mirror", action="store_true", help="the fp32 graph was exported with --mirror")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tr = data.read_fer2013(a.data, limit=a.limit)["Training"]["x"]
    idx = calibration_index(len(tr), a.n)
    step = deploy_step(load_model(a.model), a.mirror)
    quantize(a.fp32, a.out, step, torch.from_numpy(tr[idx]))
    print("wrote %s (%d bytes)" % (a.out, os.path.getsize(a.out)))


if __name__ == "__main__":
    main()
