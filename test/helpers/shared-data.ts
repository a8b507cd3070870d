// What data-dependent tests need, and why they skip when it is absent. The shared data is found by the one
// locator of the project (models/eval/data-root.ts: $EMOTIOND_DATA_DIR, else ../shared/data).
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/system/paths.js';

export { dataFile, dataRoot, missingData } from '../../models/eval/data-root.js';
export { missingDataMessage, sharedDataDir } from './clips/data.js';

const SHIPPED_MODEL = path.join(projectRoot(), 'models', 'emotion-cnn-lstm.int8.onnx');

/** The shipped model, or null when it is not there yet. */
export function shippedModel(): string | null {
  return fs.existsSync(SHIPPED_MODEL) ? SHIPPED_MODEL : null;
}

/** Why a test of the shipped model itself cannot run, or undefined. */
export function missingShippedModel(): string | undefined {
  return shippedModel() ? undefined : `shipped model ${SHIPPED_MODEL} not found`;
}

/** The model the daemon tests run: the shipped one, else $EMOTIOND_TEST_MODEL. */
export function testModel(): string | undefined {
  return shippedModel() ?? (process.env.EMOTIOND_TEST_MODEL || undefined);
}

/** Why a test that needs a model cannot run, or undefined. */
export function missingModel(): string | undefined {
  return testModel() ? undefined : `no model: ${SHIPPED_MODEL} not found and EMOTIOND_TEST_MODEL unset`;
}

/** Why a test that needs this file cannot run, or undefined. */
export function missingFile(file: string, hint = ''): string | undefined {
  return fs.existsSync(file) ? undefined : `${file} not found${hint ? ` (${hint})` : ''}`;
}
