// The int8 CNN-LSTM: one ONNX Runtime call steps a batch of faces one frame forward.
// Class order, hidden size and preprocessing come from the model's metadata, never from code.
import fs from 'node:fs';
import ort from 'onnxruntime-node';
import { EMOTIONS, type Emotion, type EmotionScores, type RecurrentState } from '../types.js';
import { EmotiondError, fileReason } from '../errors.js';
import { readOnnxMetadata } from './onnx-metadata.js';
import { parsePreprocessSpec, type PreprocessSpec } from './preprocess.js';

export interface ModelInfo {
  classes: Emotion[];
  hidden: number;
  /** LSTM steps per second the model was trained for (metadata emotiond.step_hz). */
  stepHz: number;
  /** True when the metadata does not say, and DEFAULT_STEP_HZ is assumed. */
  stepHzAssumed: boolean;
  preprocess: PreprocessSpec;
  metadata: Record<string, string>;
}

interface StepResult {
  scores: EmotionScores[];
  states: RecurrentState[];
}

/** The step rate of models whose metadata predates emotiond.step_hz (1.3.0 and older were trained for 15). */
const DEFAULT_STEP_HZ = 15;

function meta(m: Map<string, string>, key: string, where: string): string {
  const v = m.get(key);
  if (v === undefined) throw new EmotiondError('EMD_MODEL_METADATA', `${where}: metadata_props has no "${key}"`);
  return v;
}

/** Parse and check what the daemon needs from the model's metadata. */
export function modelInfo(bytes: Uint8Array, where: string): ModelInfo {
  const m = readOnnxMetadata(bytes, where);
  let classes: unknown;
  try {
    classes = JSON.parse(meta(m, 'emotiond.classes', where));
  } catch (err) {
    if (err instanceof EmotiondError) throw err;
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.classes is not JSON`);
  }
  if (!Array.isArray(classes) || classes.length !== EMOTIONS.length || classes.some((c) => !(EMOTIONS as readonly unknown[]).includes(c))) {
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.classes must list ${EMOTIONS.join(', ')}; got ${JSON.stringify(classes)}`);
  }
  const hidden = Number(meta(m, 'emotiond.hidden', where));
  if (!Number.isInteger(hidden) || hidden <= 0 || hidden > 4096)
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.hidden must be a positive integer`);
  const rawHz = m.get('emotiond.step_hz');
  const stepHz = rawHz === undefined ? DEFAULT_STEP_HZ : Number(rawHz);
  if (!Number.isFinite(stepHz) || stepHz <= 0 || stepHz > 240)
    throw new EmotiondError(
      'EMD_MODEL_METADATA',
      `${where}: emotiond.step_hz must be a number of steps per second from 0 to 240, got ${JSON.stringify(rawHz)}`,
    );
  return {
    classes: classes as Emotion[],
    hidden,
    stepHz,
    stepHzAssumed: rawHz === undefined,
    preprocess: parsePreprocessSpec(meta(m, 'emotiond.preprocess', where), where),
    metadata: Object.fromEntries(m),
  };
}

export class EmotionModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: ModelInfo,
    readonly path: string,
  ) {}

  static async load(path: string, opts: { threads: number }): Promise<EmotionModel> {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(path);
    } catch (err) {
      throw new EmotiondError('EMD_MODEL_LOAD', `${path}: ${fileReason(err)}`);
    }
    const info = modelInfo(bytes, path);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: opts.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        enableCpuMemArena: false,
      });
    } catch (err) {
      // ONNX Runtime's messages can run over several lines; the fatal log line is one.
      throw new EmotiondError('EMD_MODEL_LOAD', `${path}: not a model ONNX Runtime can load: ${(err as Error).message.replace(/\s+/g, ' ').trim()}`);
    }
    for (const name of ['face', 'h', 'c']) {
      if (!session.inputNames.includes(name))
        throw new EmotiondError('EMD_MODEL_METADATA', `${path}: model has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
    for (const name of ['probs', 'h_out', 'c_out']) {
      if (!session.outputNames.includes(name))
        throw new EmotiondError('EMD_MODEL_METADATA', `${path}: model has no output "${name}" (outputs: ${session.outputNames.join(', ')})`);
    }
    return new EmotionModel(session, info, path);
  }

  /** LSTM steps per second each face gets. */
  get stepHz(): number {
    return this.info.stepHz;
  }

  get inputSize(): number {
    return this.info.preprocess.size;
  }

  /**
   * One LSTM step for B faces. `faces` holds B preprocessed inputs (B*size*size floats); `states[i]` is face
   * i's memory (missing = new face). Every tensor made here is disposed before returning.
   */
  async step(faces: Float32Array, states: Array<RecurrentState | undefined>): Promise<StepResult> {
    const b = states.length;
    const size = this.inputSize;
    const hd = this.info.hidden;
    if (faces.length !== b * size * size) throw new EmotiondError('EMD_MODEL_RUN', `batch holds ${faces.length} values, expected ${b}x${size}x${size}`);
    const h = new Float32Array(b * hd);
    const c = new Float32Array(b * hd);
    states.forEach((s, i) => {
      if (s) {
        h.set(s.h, i * hd);
        c.set(s.c, i * hd);
      }
    });
    const feeds = {
      face: new ort.Tensor('float32', faces, [b, 1, size, size]),
      h: new ort.Tensor('float32', h, [b, hd]),
      c: new ort.Tensor('float32', c, [b, hd]),
    };
    let out: ort.InferenceSession.OnnxValueMapType | undefined;
    try {
      out = await this.session.run(feeds);
      const probs = out.probs?.data as Float32Array;
      const hOut = out.h_out?.data as Float32Array;
      const cOut = out.c_out?.data as Float32Array;
      const scores: EmotionScores[] = [];
      const next: RecurrentState[] = [];
      for (let i = 0; i < b; i++) {
        const s = {} as EmotionScores;
        this.info.classes.forEach((cls, k) => (s[cls] = probs[i * this.info.classes.length + k] ?? 0));
        scores.push(s);
        next.push({ h: hOut.slice(i * hd, (i + 1) * hd), c: cOut.slice(i * hd, (i + 1) * hd) });
      }
      return { scores, states: next };
    } catch (err) {
      if (err instanceof EmotiondError) throw err;
      throw new EmotiondError('EMD_MODEL_RUN', `${this.path}: ${(err as Error).message}`);
    } finally {
      for (const t of Object.values(feeds)) t.dispose();
      for (const t of Object.values(out ?? {})) t.dispose();
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
