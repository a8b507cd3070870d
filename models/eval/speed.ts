// Section 4: model step time per face, one ORT thread, batch 1 (the daemon's common case) and batch 4,
// state carried between steps, real preprocessed faces as input. Medians: the machine is shared.
import os from 'node:os';
import { EmotionModel } from '../../src/classify/emotion-model.js';
import { normalizeInto } from '../../src/classify/preprocess.js';
import type { RecurrentState } from '../../src/types.js';
import { summarize, type Summary } from './metrics.js';
import { cropStill } from './stills.js';

export interface SpeedResult {
  threads: number;
  warmup_steps: number;
  /** ms per face per step at batch 1. */
  batch1: Summary;
  /** ms per face per step at batch 4 (step time / 4). */
  batch4: Summary;
  /** ms to crop + resize + normalise one face (cropFace + normalizeInto), for context. */
  preprocess: Summary;
  cpu: string;
  cpus: number;
  loadavg_1m: number;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function timeSteps(model: EmotionModel, inputs: Float32Array[], batch: number, steps: number, warmup: number): Promise<number[]> {
  const per = model.inputSize * model.inputSize;
  const buf = new Float32Array(batch * per);
  let states: Array<RecurrentState | undefined> = new Array(batch).fill(undefined);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    for (let b = 0; b < batch; b++) buf.set(inputs[(i * batch + b) % inputs.length] as Float32Array, b * per);
    const t0 = nowMs();
    const out = await model.step(buf, states);
    const dt = nowMs() - t0;
    states = out.states;
    if (i >= warmup) times.push(dt / batch);
  }
  return times;
}

/** Time `steps` batch-1 steps and steps/4 batch-4 steps of the model at `modelPath`, loaded with one thread. */
export async function measureSpeed(modelPath: string, faces: readonly Uint8Array[], side: number, steps: number): Promise<SpeedResult> {
  const model = await EmotionModel.load(modelPath, { threads: 1 });
  try {
    const spec = model.info.preprocess;
    const per = spec.size * spec.size;
    const pre: number[] = [];
    const inputs = faces.slice(0, 64).map((px) => {
      const out = new Float32Array(per);
      const t0 = nowMs();
      normalizeInto(cropStill(px, side, spec.size), spec, out, 0);
      pre.push(nowMs() - t0);
      return out;
    });
    const warmup = Math.max(50, Math.round(steps / 10));
    const b1 = await timeSteps(model, inputs, 1, steps, warmup);
    const b4 = await timeSteps(model, inputs, 4, Math.max(50, Math.round(steps / 4)), Math.round(warmup / 4));
    return {
      threads: 1,
      warmup_steps: warmup,
      batch1: summarize(b1),
      batch4: summarize(b4),
      preprocess: summarize(pre),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      loadavg_1m: os.loadavg()[0] ?? 0,
    };
  } finally {
    await model.release();
  }
}
