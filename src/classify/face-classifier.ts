// Classifies the confirmed faces of a frame in one batched model call and keeps each face's LSTM
// state on its track, so every face carries its own memory across frames.
import type cv from '../system/opencv.js';
import type { TrackedFace } from '../types.js';
import type { Logger } from '../system/logger.js';
import { area } from '../track/geometry.js';
import type { EmotionModel } from './emotion-model.js';
import { preprocessFace } from './preprocess.js';

export class FaceClassifier {
  constructor(
    private readonly model: EmotionModel,
    private readonly maxFaces: number,
    private readonly logger: Logger,
  ) {}

  /** Step the model once for up to `maxFaces` faces (largest first); returns the faces classified. */
  async classify(gray: cv.Mat, faces: readonly TrackedFace[]): Promise<TrackedFace[]> {
    const spec = this.model.info.preprocess;
    const per = spec.size * spec.size;
    const chosen = [...faces].sort((a, b) => area(b.box) - area(a.box)).slice(0, this.maxFaces);
    const batch = new Float32Array(chosen.length * per);
    const ok: TrackedFace[] = [];
    for (const face of chosen) {
      try {
        preprocessFace(gray, face.box, spec, batch, ok.length * per);
        ok.push(face);
      } catch (err) {
        this.logger.debug({ track: face.id, err }, 'face skipped: crop failed');
      }
    }
    if (ok.length === 0) return [];
    const input = ok.length === chosen.length ? batch : batch.subarray(0, ok.length * per);
    const { scores, states } = await this.model.step(input, ok.map((f) => f.state));
    ok.forEach((face, i) => {
      face.scores = scores[i];
      face.state = states[i];
    });
    return ok;
  }
}
