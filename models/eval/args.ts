// Command line of `npm run eval`.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { fromRoot } from '../../src/system/paths.js';

export const USAGE = `usage: npm run eval -- [--model FILE] [--compare FILE|none] [--data DIR] [--out DIR] [--limit N] [--quick]
  --model    ONNX model to evaluate (default models/emotion-cnn-lstm.int8.onnx)
  --compare  second model for the accuracy comparison (default models/emotion-cnn-lstm.fp32.onnx if it exists; "none" = skip)
  --data     folder with fer2013.csv and CK+/{cohn-kanade-images,Emotion} (default: $EMOTIOND_DATA_DIR or ../shared/data, exported once)
  --out      report folder (default reports/eval)
  --limit    at most N FER2013 PublicTest images
  --quick    small subset: 300 PublicTest images, 4 CK+ sequences, 20 streams, 300 speed steps`;

export interface EvalOptions {
  model: string;
  compare: string | null;
  data?: string;
  out: string;
  limit?: number;
  quick: boolean;
  ckSequences?: number;
  streams: number;
  streamFrames: number;
  speedSteps: number;
  seed: number;
}

export const DEFAULT_MODEL = 'models/emotion-cnn-lstm.int8.onnx';
export const DEFAULT_COMPARE = 'models/emotion-cnn-lstm.fp32.onnx';

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Parse argv; throws an Error with a message for bad flags. Returns null for --help. */
export function parseEvalArgs(argv: string[]): EvalOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      compare: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const quick = values.quick ?? false;
  const defaultCompare = fromRoot(DEFAULT_COMPARE);
  let compare: string | null = null;
  if (values.compare === undefined) compare = fs.existsSync(defaultCompare) ? defaultCompare : null;
  else if (values.compare !== 'none') compare = values.compare;
  const limit = positiveInt(values.limit, '--limit') ?? (quick ? 300 : undefined);
  return {
    model: values.model ?? fromRoot(DEFAULT_MODEL),
    compare,
    data: values.data,
    out: values.out ?? fromRoot('reports/eval'),
    limit,
    quick,
    ckSequences: quick ? 4 : undefined,
    streams: quick ? 20 : Math.min(300, limit ?? 300),
    streamFrames: 100,
    speedSteps: quick ? 300 : 2000,
    seed: 20261124,
  };
}
