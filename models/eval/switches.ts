// Section 3b: expression changes. The price of a steady label is a slower one: a stream shows one
// PublicTest face (jittered as in section 3) for `before` frames, then another image with another label
// for `after` frames, with the LSTM state carried across the switch as the daemon carries it on a track.
// Measured: how many frames after the switch the label takes the new image's class and keeps it, for the
// model and after the daemon's hysteresis, and how often it gets there at all (a state that clings to the
// first face would show here, not in the steady streams).
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import type { EmotionScores } from '../../src/types.js';
import type { HysteresisSettings } from '../../src/events/hysteresis.js';
import { argmax, settleFrame, summarize, type Summary } from './metrics.js';
import { JitteredStream, defaultGate, gatedLabels, rng, sampleIndices, stepStreams } from './streams.js';

export const SWITCH_FRAMES = { before: 30, after: 60 } as const;

export interface SwitchModeResult {
  /** Share of switch streams whose label on the last frame is the second image's class. */
  final_accuracy: number;
  /** Of the streams right on the last frame before the switch and on the last frame: frames after the
   * switch until the label is the second image's class and stays (0 = on the first new frame). */
  latency_frames: Summary;
}

export interface SwitchResult {
  n_streams: number;
  seed: number;
  frames: typeof SWITCH_FRAMES;
  /** The same second images from the zero state, on their own: the accuracy a memory-less model reaches. */
  second_image_zero_state_accuracy: number;
  with_state: SwitchModeResult;
  after_gate: SwitchModeResult;
  gate: HysteresisSettings & { fps: number };
}

/** Seeded pairs (first image, second image with another label); none when every image has the same label. */
export function switchPairs(labels: readonly number[], count: number, seed: number): Array<[number, number]> {
  if (new Set(labels).size < 2) return [];
  const r = rng(seed ^ 0x5eed);
  return sampleIndices(labels.length, count, seed + 1).map((a) => {
    for (;;) {
      const b = Math.floor(r() * labels.length);
      if (labels[b] !== labels[a]) return [a, b] as [number, number];
    }
  });
}

function modeResult(traces: number[][], pairs: Array<[number, number]>, labels: readonly number[]): SwitchModeResult {
  const latencies: number[] = [];
  let right = 0;
  traces.forEach((t, i) => {
    const [a, b] = pairs[i] as [number, number];
    const after = t.slice(SWITCH_FRAMES.before);
    if (after[after.length - 1] === labels[b]) right++;
    if (t[SWITCH_FRAMES.before - 1] !== labels[a]) return;
    const k = settleFrame(after, labels[b] as number);
    if (k !== null) latencies.push(k);
  });
  return { final_accuracy: right / Math.max(1, traces.length), latency_frames: summarize(latencies) };
}

/** Run `count` switch streams; `batch` streams share each model call (after the switch, the call also runs
 * the second images from the zero state, for the memory-less reference). */
export async function evalSwitches(
  model: EmotionModel,
  images: readonly Uint8Array[],
  labels: readonly number[],
  side: number,
  opts: { count: number; seed: number; batch?: number },
): Promise<SwitchResult> {
  const size = model.info.preprocess.size;
  const pairs = switchPairs(labels, Math.min(opts.count, images.length), opts.seed);
  const gate = defaultGate();
  const withState: number[][] = [];
  const gated: number[][] = [];
  let zeroRight = 0;
  const batch = opts.batch ?? 32;
  const switched = (t: number): boolean => t >= SWITCH_FRAMES.before;
  for (let start = 0; start < pairs.length; start += batch) {
    const chunk = pairs.slice(start, start + batch);
    const first = chunk.map(([a], i) => new JitteredStream(images[a] as Uint8Array, side, rng(opts.seed * 7919 + start + i)));
    const second = chunk.map(([, s], i) => new JitteredStream(images[s] as Uint8Array, side, rng(opts.seed * 7907 + start + i)));
    let scores: EmotionScores[][];
    try {
      const crop = (i: number, t: number): Uint8Array => ((switched(t) ? second : first)[i] as JitteredStream).nextCrop(size);
      const onZero = (i: number, sc: EmotionScores): void => {
        if (argmax(sc) === labels[(chunk[i] as [number, number])[1]]) zeroRight++;
      };
      scores = await stepStreams(model, chunk.length, SWITCH_FRAMES.before + SWITCH_FRAMES.after, crop, switched, onZero);
    } finally {
      for (const s of [...first, ...second]) s.release();
    }
    withState.push(...scores.map((sc) => sc.map(argmax)));
    gated.push(...scores.map((sc) => gatedLabels(sc, gate)));
  }
  return {
    n_streams: pairs.length,
    seed: opts.seed,
    frames: SWITCH_FRAMES,
    second_image_zero_state_accuracy: zeroRight / Math.max(1, pairs.length * SWITCH_FRAMES.after),
    with_state: modeResult(withState, pairs, labels),
    after_gate: modeResult(gated, pairs, labels),
    gate,
  };
}
