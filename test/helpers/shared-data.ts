// Locating ../shared/data: tests that need it skip, saying why, when it is absent.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/system/paths.js';

export const SHARED_DATA = process.env.EMOTIOND_SHARED_DATA ?? path.resolve(projectRoot(), '..', 'shared', 'data');

export function sharedDataPath(...parts: string[]): string | null {
  const p = path.join(SHARED_DATA, ...parts);
  return fs.existsSync(p) ? p : null;
}

export const MISSING_DATA = `../shared/data not found at ${SHARED_DATA}: skipped (set EMOTIOND_SHARED_DATA to run it)`;

/** The shipped model, or null (with the reason) when it is not there yet. */
export function shippedModel(): string | null {
  const p = path.join(projectRoot(), 'models', 'emotion-cnn-lstm.int8.onnx');
  return fs.existsSync(p) ? p : null;
}
