// Steps the LSTM of each confirmed face at the rate the model was trained for (its metadata
// emotiond.step_hz), in one batched model call per frame, and keeps each face's state in its model part.
// A faster camera does not step faces faster; when more faces are due than one batch takes
// (classifier.max_faces), those that waited longest go first and the others on the next frames.
// Behind the motion gate, a settled face (its picture did not move since its last step, its last SETTLE_STEPS
// steps changed no probability by SETTLE_DP or more, and its committed label leads with none pending) is stepped at
// classifier.still_hz instead: fed the same picture, its LSTM sits at a fixed point, and a step would change
// nothing. The first motion in its box makes it due at once, at the model's rate again.
// Faces at one rate come due on the same frames (the ticks of that rate on the frame clock, RateKeeper.tickAfter),
// whenever each was first seen, so that one model call steps them together: ONNX Runtime costs less per face in one
// batch than in several small ones (on the 720p classroom clip, 27 settled faces at 5 Hz: in batches of 27 every
// sixth frame rather than 3-8 on every frame: 380 ms of model time over the 360 frames instead of 540, one run each,
// for the same steps).
import type cv from '../system/opencv.js';
import { argmax, type ClassifiedFace, type ClassifyStats, type EmotionScores, type MovedIn, type TrackedFace } from '../types.js';
import type { Logger } from '../system/logger.js';
import type { EmotionModel } from './emotion-model.js';
import { preprocessFace } from './preprocess.js';
import { RateKeeper } from '../system/rate-keeper.js';
import { nearestRank } from '../system/quantile.js';

/** Steps in a row a still face's output must hold steady before it is stepped at still_hz. */
const SETTLE_STEPS = 4;
/** Largest change of any class probability between two steps that counts as steady. */
const SETTLE_DP = 0.02;

export class FaceClassifier {
  private readonly rate: RateKeeper;
  /** The rate of settled faces (classifier.still_hz); null when off. */
  private readonly stillRate: RateKeeper | null;

  /** `stillHz`: classifier.still_hz (0 = every face at the model's rate). */
  constructor(
    private readonly model: EmotionModel,
    private readonly maxFaces: number,
    private readonly logger: Logger,
    stillHz = 0,
  ) {
    this.rate = new RateKeeper(model.stepHz);
    this.stillRate = stillHz > 0 && stillHz < model.stepHz ? new RateKeeper(stillHz) : null;
  }

  /** Step the faces that are due at `nowMs` (at most maxFaces, longest waiting first); returns them.
   * `movedIn`: the motion gate's answer for this frame (null without the gate: no face settles). */
  async classify<F extends ClassifiedFace>(gray: cv.Mat, faces: readonly F[], nowMs: number, movedIn: MovedIn = null): Promise<F[]> {
    this.rate.tick(nowMs);
    this.stillRate?.tick(nowMs);
    for (const f of faces) {
      const s = f.model.steps;
      if (s && !s.moved && (movedIn === null || movedIn(f.geometry.box))) s.moved = true;
    }
    const chosen = this.due(faces, nowMs).slice(0, this.maxFaces);
    if (chosen.length === 0) return [];
    const spec = this.model.info.preprocess;
    const per = spec.size * spec.size;
    const batch = new Float32Array(chosen.length * per);
    const ok: F[] = [];
    for (const face of chosen) {
      try {
        preprocessFace(gray, face.geometry.box, spec, batch, ok.length * per);
        ok.push(face);
      } catch (err) {
        this.logger.debug({ track: face.id, err }, 'face skipped: crop failed');
      }
    }
    if (ok.length === 0) return [];
    const input = ok.length === chosen.length ? batch : batch.subarray(0, ok.length * per);
    const { scores, states } = await this.model.step(
      input,
      ok.map((f) => f.model.state),
    );
    ok.forEach((face, i) => {
      const before = face.model.scores;
      face.model.scores = scores[i];
      face.model.state = states[i];
      this.stepped(face, nowMs, before);
    });
    return ok;
  }

  /** Per-face step rates of the live faces, for stats. */
  rates(faces: readonly TrackedFace[]): ClassifyStats {
    const hz = faces
      .map((f) => f.model.steps)
      .filter((s) => s !== undefined && s.count >= 2 && s.lastMs > s.firstMs)
      .map((s) => ((s!.count - 1) * 1000) / (s!.lastMs - s!.firstMs));
    const round = (x: number | undefined): number | null => (x === undefined ? null : Math.round(x * 10) / 10);
    return { min_hz: round(nearestRank(hz, 0)), median_hz: round(nearestRank(hz, 0.5)), faces: hz.length };
  }

  /** Faces due for a step, the longest waiting (or never stepped) first. */
  private due<F extends TrackedFace>(faces: readonly F[], nowMs: number): F[] {
    const lateness = (f: F): number => {
      const s = f.model.steps;
      if (this.stillRate && s && settled(f)) return this.stillRate.lateness(this.stillRate.tickAfter(s.lastMs), nowMs);
      return this.rate.lateness(s?.nextMs, nowMs);
    };
    return faces
      .map((f) => ({ f, late: lateness(f) }))
      .filter((x) => x.late >= 0)
      .sort((a, b) => b.late - a.late || a.f.id - b.f.id)
      .map((x) => x.f);
  }

  private stepped({ model }: ClassifiedFace, nowMs: number, before: EmotionScores | undefined): void {
    const s = model.steps;
    if (!s) {
      model.steps = { nextMs: this.rate.tickAfter(nowMs), count: 1, firstMs: nowMs, lastMs: nowMs, moved: false, quiet: 0 };
      return;
    }
    s.nextMs = this.rate.tickAfter(nowMs);
    s.count += 1;
    s.lastMs = nowMs;
    s.quiet = !s.moved && before !== undefined && model.scores !== undefined && steady(before, model.scores) ? s.quiet + 1 : 0;
    s.moved = false;
  }
}

/** No class probability changed by SETTLE_DP or more. */
function steady(a: EmotionScores, b: EmotionScores): boolean {
  return (Object.keys(b) as Array<keyof EmotionScores>).every((k) => Math.abs(b[k] - a[k]) < SETTLE_DP);
}

/** Still since its last step, its output steady for SETTLE_STEPS steps, and its committed label the leader with
 * no other pending: stepping it again would change nothing the events show. */
function settled(f: TrackedFace): boolean {
  const { steps, scores } = f.model;
  const { committed, pending } = f.label;
  return (
    steps !== undefined &&
    !steps.moved &&
    steps.quiet >= SETTLE_STEPS &&
    scores !== undefined &&
    committed !== undefined &&
    pending === undefined &&
    argmax(scores) === committed
  );
}
