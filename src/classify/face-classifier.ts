// Steps the LSTM of each confirmed face at the rate the model was trained for (its metadata
// emotiond.step_hz), in one batched model call per frame, and keeps each face's state in its model part.
// A faster camera does not step faces faster; when more faces are due than one batch takes
// (classifier.max_faces), those that waited longest go first and the others on the next frames.
import type cv from '../system/opencv.js';
import type { ClassifiedFace, ClassifyStats, TrackedFace } from '../types.js';
import type { Logger } from '../system/logger.js';
import type { EmotionModel } from './emotion-model.js';
import { preprocessFace } from './preprocess.js';
import { RateKeeper } from '../system/rate-keeper.js';
import { nearestRank } from '../system/quantile.js';

export class FaceClassifier {
  private readonly rate: RateKeeper;

  constructor(
    private readonly model: EmotionModel,
    private readonly maxFaces: number,
    private readonly logger: Logger,
  ) {
    this.rate = new RateKeeper(model.stepHz);
  }

  /** Step the faces that are due at `nowMs` (at most maxFaces, longest waiting first); returns them. */
  async classify<F extends ClassifiedFace>(gray: cv.Mat, faces: readonly F[], nowMs: number): Promise<F[]> {
    this.rate.tick(nowMs);
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
      face.model.scores = scores[i];
      face.model.state = states[i];
      this.stepped(face, nowMs);
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
    return faces
      .map((f) => ({ f, late: this.rate.lateness(f.model.steps?.nextMs, nowMs) }))
      .filter((x) => x.late >= 0)
      .sort((a, b) => b.late - a.late || a.f.id - b.f.id)
      .map((x) => x.f);
  }

  private stepped({ model }: ClassifiedFace, nowMs: number): void {
    const s = model.steps;
    if (!s) {
      model.steps = { nextMs: this.rate.next(undefined, nowMs), count: 1, firstMs: nowMs, lastMs: nowMs };
      return;
    }
    s.nextMs = this.rate.next(s.nextMs, nowMs);
    s.count += 1;
    s.lastMs = nowMs;
  }
}
