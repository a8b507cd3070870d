"""Rewrite the emotiond.* metadata of exported ONNX files from common.py (e.g. a key added after the model was
trained), keeping the weights, the graph, the training time and the quantization note as they are.
Usage: stamp_metadata.py FILE.onnx [...]"""
import os
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import set_metadata  # noqa: E402


def stamp(path):
    m = onnx.load(path)
    old = {p.key: p.value for p in m.metadata_props}
    for key in ("emotiond.trained", "emotiond.quantization"):
        if key not in old:
            sys.exit(f"{path}: no {key} in its metadata: not an emotiond export")
    before = [(n.name, n.op_type) for n in m.graph.node], [i.name for i in m.graph.initializer]
    set_metadata(m, old["emotiond.quantization"], old["emotiond.trained"])
    assert before == ([(n.name, n.op_type) for n in m.graph.node], [i.name for i in m.graph.initializer])
    onnx.save(m, path)
    new = {p.key: p.value for p in m.metadata_props}
    changed = {k: new[k] for k in new if old.get(k) != new[k]}
    print(f"{path}: {changed or 'unchanged'}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for f in sys.argv[1:]:
        stamp(f)
