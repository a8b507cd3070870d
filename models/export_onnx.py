"""Export the streaming step (face, h, c) -> (probs, h_out, c_out) as one fp32 ONNX graph with BatchNorm folded,
dynamic batch, opset 13, and the emotiond.* metadata the daemon reads.
Usage: export_onnx.py --model WORK/model.pt --out FILE.onnx"""
import argparse
import inspect
import json
import os
import sys
import time

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CLASSES, HIDDEN, PREPROCESS, STEP_HZ, VERSION  # noqa: E402
from net import EmotionNet, deploy_step  # noqa: E402

DATA_NOTE = ("FER2013 Training (Kaggle fer2013.csv, Disgust dropped) + FER+ votes as soft-label regulariser; "
             "CK+48 apex crops of CK+ subjects other than S052,S055,S074,S106,S113,S130,S132 "
             "(Contempt/Disgust dropped). Research-only data.")


def load_model(path):
    model = EmotionNet(HIDDEN)
    model.load_state_dict(torch.load(path, map_location="cpu"))
    return model.eval()


def set_metadata(m, quantization, trained=None):
    meta = {
        "emotiond.classes": json.dumps(CLASSES, separators=(",", ":")),
        "emotiond.hidden": str(HIDDEN),
        "emotiond.preprocess": json.dumps(PREPROCESS, separators=(",", ":")),
        "emotiond.step_hz": str(STEP_HZ),
        "emotiond.version": VERSION,
        "emotiond.trained": trained or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "emotiond.quantization": quantization,
        "emotiond.data": DATA_NOTE,
    }
    keep = [p for p in m.metadata_props if p.key not in meta]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    m.producer_name = "emotiond-models"
    return m


def export(model, out, trained=None, mirror=False):
    step = deploy_step(model, mirror)
    face = torch.randn(2, 1, 48, 48)
    h = torch.zeros(2, HIDDEN)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    dyn = {n: {0: "batch"} for n in ("face", "h", "c", "probs", "h_out", "c_out")}
    # The TorchScript exporter, as for every release: torch >= 2.9 defaults to the dynamo one, whose graph
    # (names, MatMul for Gemm) quantize.py does not expect.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(step, (face, h, h.clone()), out, input_names=["face", "h", "c"],
                      output_names=["probs", "h_out", "c_out"], dynamic_axes=dyn, opset_version=13,
                      do_constant_folding=True, **legacy)
    m = onnx.load(out)
    for o in m.graph.output:  # static feature dims for the daemon (batch stays dynamic)
        dims = o.type.tensor_type.shape.dim
        dims[1].Clear()
        dims[1].dim_value = HIDDEN if o.name != "probs" else len(CLASSES)
    m = set_metadata(m, "none (fp32)", trained)
    onnx.checker.check_model(m)
    onnx.save(m, out)
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mirror", action="store_true", help="two-view graph: mean features of the face and its mirror")
    a = ap.parse_args()
    export(load_model(a.model), a.out, mirror=a.mirror)
    print("wrote %s (%d bytes)" % (a.out, os.path.getsize(a.out)))


if __name__ == "__main__":
    main()
