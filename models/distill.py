"""Model 2.0: a GPU-trained teacher (teacher.py) distilled into the 1 ms student, in ONE device run.
  distill.py run --packed PACKED --out DIR [--deadline 240] [--students C6@0,C7@0,C7@1]   teacher, then students in
      parallel; each: stage 1 with knowledge distillation, train.py's stage 2 (1.3's run-B settings), fp32 ONNX,
      int8 QDQ, and its evaluation. DIR gets at most 6 files: results.json (everything measured),
      curves.png, teacher.pt (fp16), teacher_probs.npy (its mirror-averaged probabilities on the Training
      stills, for a later distillation on the CPU), students.tar (per student: model.pt, int8 ONNX, json, log).
  distill.py student ...        one student (run starts these)
  distill.py robustness --onnx FP32.onnx --packed PACKED    per-class recall of a shipped fp32 export on
      PublicTest, clean and degraded (JPEG, blur, gamma, small faces), and on the CK+ apex crops of the
      evaluation subjects: the 'before' of the cross-population augmentation.
  distill.py finish --bundle OUT/students.tar --student C7-d0 --data DIR --out DIR    a returned student exported
      and quantised on this machine (as every release), ready for `npm run eval -- --model DIR/...int8.onnx`
  distill.py selftest           properties of the augmentation, the loss and the teacher (the CI test runs it)
Knowledge distillation: loss = (1 - alpha) * soft CE(labels) + alpha * tau^2 * KL(teacher_tau || student_tau)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import explore_stage1  # noqa: E402
import stills  # noqa: E402
import teacher as teacher_mod  # noqa: E402
import train  # noqa: E402
from common import HIDDEN, SEED, save_json, standardize  # noqa: E402
from net import EmotionNet, count_macs, deploy_step  # noqa: E402

# Stage 1 as 1.3 (AdamW, cosine, wd 0.05, augmentation 1.0, dropout 0.3) plus the teacher and the cross-population
# augmentation; stage 2 as 1.3's run B (make_model.sh --release).
STUDENT = dict(epochs=120, batch=256, lr=3e-3, wd=0.05, aug=1.0, domain=1.0, drop=0.3, alpha=0.7, tau=3.0,
               stream_steps=500, stream_batch=20, stream_len=30, smooth=250.0, smooth_from=6, switch_p=0.5,
               switch_free=6, calib=1024, seed=SEED)
SMOKE = dict(epochs=1, stream_steps=6, stream_batch=8, calib=128)


def say_to(path):
    f = open(path, "a")

    def say(s):
        line = time.strftime("%H:%M:%S ") + s
        print(line, flush=True)
        f.write(line + "\n")
        f.flush()
    return say


def use_device(name):
    dev = torch.device(name)
    if hasattr(torch, "set_default_device"):  # augment.py draws its random tensors on the default device
        torch.set_default_device(dev)
    return dev


def json_safe(o):
    """NaN and infinities (a diverged loss) as null: results.json is read by JavaScript too."""
    if isinstance(o, float):
        return o if np.isfinite(o) else None
    if isinstance(o, dict):
        return {k: json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    return o


def kd_loss(student_logits, teacher_logits, target, alpha, tau):
    hard = train.soft_ce(student_logits, target)
    soft = F.kl_div(F.log_softmax(student_logits / tau, -1), F.softmax(teacher_logits / tau, -1),
                    reduction="batchmean") * tau * tau
    return (1 - alpha) * hard + alpha * soft


def fit_student(model, teacher, sets, cfg, dev, say, t0, deadline):
    """train.stage1 (stills.fit) with the teacher's logits on the same augmented batch (bf16 autocast on a GPU)."""
    params = [p for n, p in model.named_parameters() if not n.startswith(("lstm", "head"))]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["wd"])
    hist = []

    def loss_fn(x, t, g):
        with torch.no_grad(), stills.autocast(dev):
            tl = teacher(x).float()
        with stills.autocast(dev):
            logits = model.still_logits(x)
        return kd_loss(logits.float(), tl, t, cfg["alpha"], cfg["tau"])

    def on_epoch(ep, loss, seconds):
        rec = {"stage": 1, "epoch": ep, "train_loss": loss, "seconds": seconds}
        rec["test_loss"], rec["test_acc"] = train.eval_still(model, sets["test_x"], sets["test_y"])
        hist.append(rec)
        say("student ep %d loss %.4f PublicTest still %.4f t %.0f" % (ep, loss, rec["test_acc"], seconds))
    stills.fit(model, train.stage1_pool(sets, 3), cfg, dev, opt, loss_fn, on_epoch, say, t0, deadline)
    return hist


# ---- evaluation on the CPU or the GPU: PublicTest clean and degraded, CK+ apex crops of the evaluation subjects
def degraded(u8):
    """uint8 [N,48,48] -> {name: preprocessed [N,1,48,48]}: what a camera unlike FER2013's does to a face."""
    p = torch.as_tensor(u8).float().unsqueeze(1).cpu() / 255
    n = len(p)
    views = {"clean": p, "jpeg_q25": augment.jpeg(p, torch.full((n,), 25.0, device=p.device)),
             "blur_1.2": augment.gaussian_blur(p, torch.full((n,), 1.2, device=p.device)),
             "gamma_0.5": p ** 0.5, "gamma_2.0": p ** 2.0,
             "small_20px": F.interpolate(F.interpolate(p, size=(20, 20), mode="area"), size=(48, 48),
                                         mode="bilinear", align_corners=False)}
    return {k: standardize(torch.round(v.clamp(0, 1) * 255) / 255) for k, v in views.items()}


def robustness(probs_fn, sets):
    """probs_fn(preprocessed [N,1,48,48] on the CPU) -> probabilities [N,6]; returns teacher.recall() per view."""
    out = {k: teacher_mod.recall(probs_fn(x), sets["test_y"]) for k, x in degraded(sets["test_u8"]).items()}
    if sets.get("ck_eval_x") is not None:
        out["ckplus_apex_eval_subjects"] = teacher_mod.recall(probs_fn(sets["ck_eval_x"]), sets["ck_eval_y"])
    return out


def eval_sets(packed, limit):
    """explore_stage1.load_packed() with the CK+ evaluation subjects' apex crops preprocessed."""
    sets = explore_stage1.load_packed(packed, limit)
    ck = sets["ck_eval"]
    if ck:
        sets["ck_eval_x"] = train.preprocess_u8(np.concatenate([s["frames"] for s in ck])).cpu()
        sets["ck_eval_y"] = torch.tensor([s["y"] for s in ck for _ in s["frames"]], device="cpu")
    return sets


@torch.no_grad()
def step1_probs(model, dev):
    """The streaming path's first step from zero state (what the daemon publishes first for a face)."""
    def fn(x):
        model.eval()
        out = []
        for i in range(0, len(x), 1024):
            e = model.enc(x[i:i + 1024].to(dev).contiguous(memory_format=torch.channels_last))
            out.append(model.run_sequence(e.unsqueeze(1))[:, 0].softmax(-1).cpu())
        return torch.cat(out)
    return fn


def ort_probs(path):
    """The exported graph's first step in onnxruntime (python), or None where it is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 4
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def fn(x):
        h = np.zeros((len(x), HIDDEN), np.float32)
        return torch.from_numpy(sess.run(["probs"], {"face": x.cpu().numpy(), "h": h, "c": h.copy()})[0])
    return fn


def student_main(a):
    t0 = time.time()
    cfg = dict(STUDENT, **(SMOKE if a.smoke else {}), arch=a.arch)
    if a.domain is not None:
        cfg["domain"] = a.domain
    if a.epochs:
        cfg["epochs"] = a.epochs
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    say = say_to(os.path.join(a.out, "train.log"))
    dev = use_device(a.device)
    torch.backends.cudnn.benchmark = True
    sets = eval_sets(a.packed, a.limit)
    for k in ("x", "y", "t", "soft", "has_soft", "ck_x", "ck_y", "ck_t", "test_x", "test_y"):
        if k in sets:
            sets[k] = sets[k].to(dev)
    teacher, _ = teacher_mod.load(a.teacher, dev)
    torch.manual_seed(cfg["seed"])
    model = EmotionNet(HIDDEN, explore_stage1.ARCHS[a.arch])
    model.enc.drop.p = cfg["drop"]
    model = model.to(dev).to(memory_format=torch.channels_last)
    hist = fit_student(model, teacher, sets, cfg, dev, say, t0, a.deadline)
    t1 = time.time()
    logf = open(os.path.join(a.out, "train.log"), "a")
    train.stage2(model, sets, cfg["stream_steps"], cfg["stream_batch"], cfg["stream_len"], 3e-3,
                 torch.Generator(device=dev).manual_seed(SEED + 1), logf, hist, train.ThreadPicker(1, 50),
                 smooth=cfg["smooth"], smooth_from=cfg["smooth_from"], switch_p=cfg["switch_p"],
                 switch_free=cfg["switch_free"], views=2)
    t2 = time.time()
    torch.set_num_threads(a.threads)  # stage 2's ThreadPicker left one
    convs = explore_stage1.ARCHS[a.arch]
    torch.save({"convs": convs, "state": {k: v.cpu() for k, v in model.state_dict().items()}}, os.path.join(a.out, "model.pt"))
    res = {"arch": a.arch, "cfg": cfg, "convs": convs, "macs": count_macs(convs=convs),
           "epochs_run": sum(1 for r in hist if r["stage"] == 1), "history": hist,
           "seconds": {"stage1": round(t1 - t0, 1), "stage2": round(t2 - t1, 1)}}
    try:  # model.pt is saved: what fails from here on is recorded, and `finish` can redo the export here
        evaluate_student(model, sets, dev, res)
        export_and_quantize(model.cpu().eval(), sets, cfg, a.out, res)
    except Exception as e:  # noqa: BLE001
        res["error"] = repr(e)
        say("evaluation or export failed on this machine (model.pt is kept): %r" % e)
    res["seconds"]["total"] = round(time.time() - t0, 1)
    save_json(os.path.join(a.out, "student.json"), json_safe(res))
    say("student %s done in %.0f s: %s" % (a.arch, time.time() - t0, summary({"students": {os.path.basename(a.out): res}})))
    return 3 if "error" in res else 0


@torch.no_grad()
def evaluate_student(model, sets, dev, res):
    res["still_head"] = teacher_mod.recall(still_probs(model)(sets["test_x"]), sets["test_y"])
    res["step1_fp32_torch"] = robustness(step1_probs(model, dev), sets)


def export_and_quantize(model, sets, cfg, out, res):
    """fp32 ONNX and int8 QDQ (the release's own export_onnx / quantize), then both through onnxruntime."""
    import export_onnx
    import quantize
    if hasattr(torch, "set_default_device"):
        torch.set_default_device("cpu")
    fp32, int8 = os.path.join(out, "emotion-cnn-lstm.fp32.onnx"), os.path.join(out, "emotion-cnn-lstm.int8.onnx")
    export_onnx.export(model, fp32)
    idx = quantize.calibration_index(len(sets["x"]), cfg["calib"])
    quantize.quantize(fp32, int8, deploy_step(model), sets["x"].cpu()[torch.from_numpy(idx)])
    sets = dict(sets, test_y=sets["test_y"].cpu())
    for name, path in (("step1_fp32_ort", fp32), ("step1_int8_ort", int8)):
        fn = ort_probs(path)
        if fn is not None:
            res[name] = robustness(fn, sets)
    res["bytes"] = {"fp32": os.path.getsize(fp32), "int8": os.path.getsize(int8)}


def student_specs(spec):
    """'C6@0,C7@1' -> {'C6-d0': ('C6', 0.0), 'C7-d1': ('C7', 1.0)}: trunk and cross-population strength."""
    out = {}
    for item in spec.split(","):
        arch, _, dom = item.strip().partition("@")
        if arch not in explore_stage1.ARCHS:
            raise SystemExit("--students: %r: the trunk must be one of %s" % (item, ", ".join(explore_stage1.ARCHS)))
        domain = float(dom) if dom else STUDENT["domain"]
        out["%s-d%g" % (arch, domain)] = (arch, domain)
    return out


def start_student(a, spec, teacher_pt, out, deadline, preflight=False):
    arch, domain = spec
    cmd = [sys.executable, os.path.abspath(__file__), "student", "--arch", arch, "--domain", str(domain), "--teacher", teacher_pt,
           "--packed", a.packed, "--out", out, "--device", a.device, "--deadline", "%.0f" % deadline,
           "--threads", str(a.threads)]
    limit = 512 if preflight else a.limit
    cmd += ["--limit", str(limit)] if limit else []
    cmd += ["--smoke"] if a.smoke or preflight else []
    cmd += ["--epochs", str(a.student_epochs)] if a.student_epochs and not preflight else []
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL if preflight else None)


class Preflight:
    """Every student step on the real device, a few batches, beside the teacher's first epochs (an untrained
    narrow teacher): a device-only failure in the students' path stops the run within a minute, not after the
    teacher's minutes."""

    def __init__(self, a, work, say):
        d = os.path.join(work, "preflight")
        os.makedirs(d, exist_ok=True)
        narrow = dict(teacher_mod.DEFAULTS, width=0.25)
        teacher_mod.save(teacher_mod.build(narrow), narrow, os.path.join(d, "teacher.pt"))
        self.dir, self.say = d, say
        self.proc = start_student(a, list(student_specs(a.students).values())[-1], os.path.join(d, "teacher.pt"), d, 30,
                                  preflight=True)

    def failed(self):
        rc = self.proc.poll()
        if rc not in (None, 0):
            log = open(os.path.join(self.dir, "train.log")).read()[-1500:] if os.path.isfile(os.path.join(self.dir, "train.log")) else ""
            return "the students' preflight exited with %d (its log: %s)" % (rc, log)
        return None

    def result(self):
        rc = self.proc.wait()
        self.say("preflight of the students' path: exit %d" % rc)
        return rc


def run_main(a):
    """Teacher, then the students in parallel processes, then one results.json and the bundle under --out."""
    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    work = a.work or tempfile.mkdtemp(prefix="emotiond-distill-")  # only the bundle goes into --out
    os.makedirs(work, exist_ok=True)
    say = say_to(os.path.join(work, "run.log"))
    torch.set_num_threads(a.threads)
    dev = use_device(a.device)
    torch.backends.cudnn.benchmark = True
    say("device %s (%s), torch %s" % (dev, torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", torch.__version__))
    sets = eval_sets(a.packed, a.limit)
    cfg = dict(teacher_mod.DEFAULTS, **({"epochs": a.teacher_epochs} if a.teacher_epochs else {}),
               **({"width": a.teacher_width} if a.teacher_width else {}))
    tdir = os.path.join(work, "teacher")
    os.makedirs(tdir, exist_ok=True)
    pre = Preflight(a, work, say) if a.preflight else None
    try:
        teacher, trep = teacher_mod.train_teacher(sets, cfg, dev, tdir, say, t0, a.deadline * a.teacher_share,
                                                  pre.failed if pre else None)
    except RuntimeError as e:  # the preflight failed: the students' path would fail after the teacher too
        say("stopping: %s" % e)
        return 1
    if pre and pre.result() != 0:
        say("stopping: " + (pre.failed() or "preflight failed"))
        return 1
    t1 = time.time()
    teacher_pt = os.path.join(a.out, "teacher.pt")  # in the bundle from now on, whatever fails later
    shutil.copyfile(os.path.join(tdir, "teacher.pt"), teacher_pt)
    probs = teacher_mod.predict(teacher, train.preprocess_u8(sets["x"].numpy()), dev)
    np.save(os.path.join(a.out, "teacher_probs.npy"), probs.numpy().astype(np.float16))
    trep["robustness_mirror"] = robustness(lambda x: teacher_mod.predict(teacher, x, dev), sets)
    del teacher
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    left = a.deadline - (time.time() - t0) - a.reserve
    say("teacher done in %.0f s (PublicTest %.4f, mirror %.4f); students %s get %.0f s for stage 1" % (
        t1 - t0, trep["publictest"]["acc"], trep["publictest_mirror"]["acc"], a.students, left))
    procs = {name: start_student(a, spec, teacher_pt, os.path.join(work, name), max(left, 1))
             for name, spec in student_specs(a.students).items()}
    codes = {arch: p.wait() for arch, p in procs.items()}
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "device": str(dev),
               "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None, "torch": torch.__version__,
               "deadline": a.deadline, "teacher": trep, "students": {}, "exit_codes": codes,
               "seconds": {"teacher": round(t1 - t0, 1)}}
    for arch in procs:
        p = os.path.join(work, arch, "student.json")
        if os.path.isfile(p):
            results["students"][arch] = json.load(open(p))
    results["seconds"]["total"] = round(time.time() - t0, 1)
    save_json(os.path.join(a.out, "results.json"), json_safe(results))
    bundle(a.out, work, list(procs))
    plot(results, os.path.join(a.out, "curves.png"))
    say("run done in %.0f s: %s" % (time.time() - t0, summary(results)))
    return 0 if all(c == 0 for c in codes.values()) else 1


def bundle(out, work, archs):
    with tarfile.open(os.path.join(out, "students.tar"), "w") as tar:
        tar.add(os.path.join(work, "run.log"), "run.log")
        for arch in archs:
            for f in ("model.pt", "emotion-cnn-lstm.int8.onnx", "student.json", "train.log"):  # fp32: `finish` remakes it
                if os.path.isfile(os.path.join(work, arch, f)):
                    tar.add(os.path.join(work, arch, f), "%s/%s" % (arch, f))


def summary(results):
    parts = ["teacher %.4f" % results["teacher"]["publictest"]["acc"]] if "teacher" in results else []
    for arch, s in results["students"].items():
        def acc(*keys):
            v = s
            for k in keys:
                v = v.get(k, {}) if isinstance(v, dict) else {}
            return "%.4f" % v if isinstance(v, float) else "n/a"
        parts.append("%s still %s step-1 fp32 %s int8 %s%s" % (
            arch, acc("still_head", "acc"), acc("step1_fp32_torch", "clean", "acc"), acc("step1_int8_ort", "clean", "acc"),
            " ERROR " + s["error"] if "error" in s else ""))
    return "; ".join(parts)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(1, 1, figsize=(7, 4), dpi=90)
    th = results["teacher"]["history"]
    ax.plot([r["epoch"] for r in th], [r.get("test_acc", np.nan) for r in th], label="teacher (one view)")
    for arch, s in results["students"].items():
        h = [r for r in s["history"] if r["stage"] == 1]
        ax.plot([r["epoch"] for r in h], [r["test_acc"] for r in h], label="student %s still head" % arch)
    ax.set_xlabel("epoch")
    ax.set_ylabel("PublicTest accuracy")
    ax.grid(alpha=.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def finish_main(a):
    """A student of a device run's bundle through THIS machine's export and int8 steps (the torch and
    calibration every release used), into --out; then `npm run eval` on it."""
    import export_onnx
    import quantize
    import data
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    with tarfile.open(a.bundle) as tar:
        model = load_student(tar.extractfile("%s/model.pt" % a.student)).eval()
    fp32, int8 = os.path.join(a.out, "emotion-cnn-lstm.fp32.onnx"), os.path.join(a.out, "emotion-cnn-lstm.int8.onnx")
    export_onnx.export(model, fp32)
    tr = data.read_fer2013(a.data)["Training"]["x"]
    quantize.quantize(fp32, int8, deploy_step(model), torch.from_numpy(tr[quantize.calibration_index(len(tr), 1024)]))
    print("wrote %s and %s; next: npm run eval -- --model %s --compare %s" % (fp32, int8, int8, fp32))


def load_student(f):
    """A model.pt of `student` or `explore_stage1.py run --save`: {convs, state}."""
    st = torch.load(f, map_location="cpu")
    model = EmotionNet(HIDDEN, [tuple(c) for c in st["convs"]])
    model.load_state_dict(st["state"])
    return model


def still_probs(model):
    return lambda x: train.still_logits(model, x).softmax(1).cpu()


def robustness_main(a):
    """An fp32 export's first streaming step (--onnx), or a stage-1 state's still head (--still)."""
    import warm_start
    torch.set_num_threads(a.threads)
    sets = eval_sets(a.packed, a.limit)
    if a.still:
        res, key = robustness(still_probs(load_student(a.still)), sets), "still_head"
    else:
        model = warm_start.load_from_onnx(a.onnx, HIDDEN, sets["test_x"][:2048], convs=explore_stage1.ARCHS[a.arch])
        res, key = robustness(step1_probs(model.eval(), torch.device("cpu")), sets), "step1_fp32_torch"
    print(json.dumps(res, indent=1))
    if a.json:
        save_json(a.json, {"model": a.still or a.onnx, key: res})


def selftest():
    """Properties of the pieces that a few-step smoke run cannot show (the CI test runs this)."""
    g = torch.Generator().manual_seed(1)
    u8 = (torch.rand(32, 48, 48, generator=g) * 255).round().to(torch.uint8)
    u8[:, 12:36, 12:36] = 40  # a flat patch: JPEG keeps it, blur keeps its inside
    p = u8.float().unsqueeze(1) / 255
    n = len(p)
    checks = {}
    err = lambda a, b: float((a - b).abs().mean() * 255)  # noqa: E731
    checks["jpeg_q100_err"] = err(augment.jpeg(p, torch.full((n,), 100.0)), p)
    checks["jpeg_q20_err"] = err(augment.jpeg(p, torch.full((n,), 20.0)), p)
    checks["blur_sigma0_err"] = err(augment.gaussian_blur(p, torch.zeros(n)), p)
    checks["blur_sigma1.5_err"] = err(augment.gaussian_blur(p, torch.full((n,), 1.5)), p)
    checks["flat_patch_after_jpeg20"] = float(augment.jpeg(p, torch.full((n,), 20.0))[:, 0, 16:32, 16:32].mul(255).sub(40).abs().max())
    cd = augment.cross_domain(p, g, 1.0)
    checks["cross_domain_changed_share"] = float(((cd - p).abs().flatten(1).max(1).values > 1e-6).float().mean())
    a = augment.still_batch(u8, torch.Generator().manual_seed(2))
    c = augment.still_batch(u8, torch.Generator().manual_seed(2), domain=1.0)
    checks["domain1_differs"] = not torch.equal(a, c)
    s, t, y = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g), torch.eye(6)[torch.arange(8) % 6]
    checks["kd_alpha0_is_ce"] = abs(float(kd_loss(s, t, y, 0.0, 3.0) - train.soft_ce(s, y))) < 1e-6
    checks["kd_self_is_0"] = abs(float(kd_loss(t, t, y, 1.0, 3.0))) < 1e-5
    checks["kd_other_gt_0"] = float(kd_loss(s, t, y, 1.0, 3.0)) > 0.01
    tm = teacher_mod.TeacherNet()
    checks["teacher_params_M"] = round(sum(q.numel() for q in tm.parameters()) / 1e6, 2)
    checks["teacher_out_shape"] = list(tm.eval()(torch.zeros(2, 1, 48, 48)).shape)
    ok = (checks["jpeg_q100_err"] < 1.0 and checks["jpeg_q20_err"] > 3 and checks["blur_sigma0_err"] < 1e-3
          and checks["blur_sigma1.5_err"] > 10 and checks["flat_patch_after_jpeg20"] < 4
          and 0.3 < checks["cross_domain_changed_share"] < 1 and checks["domain1_differs"] and checks["kd_alpha0_is_ce"] and checks["kd_self_is_0"]
          and checks["kd_other_gt_0"] and 5 <= checks["teacher_params_M"] <= 20 and checks["teacher_out_shape"] == [2, 6])
    print(json.dumps(dict(checks, ok=ok)))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "student", "robustness", "selftest", "finish"])
    ap.add_argument("--packed", help="explore_stage1.py pack output")
    ap.add_argument("--out", help="run / student: output folder")
    ap.add_argument("--work", help="run: where the parts are made (default: a new folder in /tmp)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--deadline", type=float, default=240.0, help="run: seconds until the students' stage 1 ends")
    ap.add_argument("--teacher-share", type=float, default=0.55, help="run: share of the deadline the teacher may use")
    ap.add_argument("--reserve", type=float, default=45.0, help="run: seconds kept for stage 2, export and evaluation")
    ap.add_argument("--students", default="C6@0,C7@0,C7@1",
                    help="run: students trained at once, TRUNK@DOMAIN (explore_stage1.ARCHS; cross-population strength)")
    ap.add_argument("--teacher-epochs", type=int, default=None)
    ap.add_argument("--teacher-width", type=float, default=None)
    ap.add_argument("--student-epochs", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None, help="student: stage-1 epochs")
    ap.add_argument("--arch", default="C6", help="student / robustness: the trunk")
    ap.add_argument("--domain", type=float, default=None, help="student: cross-population augmentation strength")
    ap.add_argument("--student", help="finish: the student's folder in the bundle (C6-d0, C7-d1, ...)")
    ap.add_argument("--teacher", help="student: teacher.pt")
    ap.add_argument("--onnx", help="robustness: an fp32 export")
    ap.add_argument("--still", help="robustness: a stage-1 state (explore_stage1.py run --save): its still head")
    ap.add_argument("--json", help="robustness: also write the result here")
    ap.add_argument("--bundle", help="finish: a run's students.tar")
    ap.add_argument("--data", help="finish: the public formats (calibration stills from fer2013.csv)")
    ap.add_argument("--limit", type=int, default=None, help="first rows of each FER2013 split (smoke)")
    ap.add_argument("--smoke", action="store_true", help="a few steps of everything (CPU check of the device run)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-preflight", dest="preflight", action="store_false",
                    help="run: skip the students' few-batch check beside the teacher's first epochs")
    a = ap.parse_args()
    if a.cmd == "selftest":
        sys.exit(selftest())
    if a.cmd == "finish":
        if not (a.bundle and a.data and a.out):
            ap.error("finish needs --bundle students.tar --student NAME --data DIR --out DIR")
        return finish_main(a)
    if not a.packed:
        ap.error("%s needs --packed" % a.cmd)
    if a.cmd in ("run", "student") and not a.out:
        ap.error("%s needs --out" % a.cmd)
    if a.cmd == "run":
        sys.exit(run_main(a))
    if a.cmd == "student":
        if not a.teacher:
            ap.error("student needs --teacher")
        sys.exit(student_main(a))
    if not (a.onnx or a.still):
        ap.error("robustness needs --onnx FP32.onnx or --still STAGE1.pt")
    return robustness_main(a)


if __name__ == "__main__":
    main()
