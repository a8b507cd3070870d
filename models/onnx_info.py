"""Print I/O, metadata, size and op-type counts of ONNX files (e.g. the ORT-optimised graph, to see QDQ fusion).
Usage: onnx_info.py FILE.onnx [...] [--json OUT.json]"""
import collections
import json
import os
import sys

import onnx


def info(path):
    m = onnx.load(path)
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path),
            "opset": [(o.domain or "ai.onnx", o.version) for o in m.opset_import],
            "inputs": {i.name: dims(i) for i in m.graph.input},
            "outputs": {o.name: dims(o) for o in m.graph.output},
            "metadata": {p.key: p.value for p in m.metadata_props},
            "ops": dict(collections.Counter(n.op_type for n in m.graph.node).most_common())}


if __name__ == "__main__":
    args = sys.argv[1:]
    out = None
    if "--json" in args:
        k = args.index("--json")
        out = args[k + 1]
        args = args[:k] + args[k + 2:]
    res = [info(p) for p in args]
    txt = json.dumps(res, indent=1)
    print(txt)
    if out:
        open(out, "w").write(txt + "\n")
