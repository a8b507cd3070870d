// Where the project's reference data lives ($EMOTIOND_DATA_DIR, else ../shared/data beside the checkout).
// The one locator of that data: the evaluation, the bench, the clip helpers and the tests ask `dataRoot()` or
// `missingData()` and skip, saying why, when it is absent.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/system/paths.js';

/** The one environment variable that moves the shared data, for tests, bench, clips and eval alike. */
export const DATA_DIR_ENV = 'EMOTIOND_DATA_DIR';

/** Where the shared data is expected ($EMOTIOND_DATA_DIR, else ../shared/data beside the checkout), present or not. */
export function dataRoot(env: NodeJS.ProcessEnv = process.env): string {
  const set = env[DATA_DIR_ENV];
  return set ? path.resolve(set) : path.resolve(projectRoot(), '..', 'shared', 'data');
}

/** Why work that needs these files (relative to the data root) cannot run, or undefined when all are there. */
export function missingData(files: readonly string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = dataRoot(env);
  const absent = files.filter((f) => !fs.existsSync(path.join(root, f)));
  if (absent.length === 0) return undefined;
  return `shared data not found: ${absent.join(', ')} missing in ${root} (set ${DATA_DIR_ENV} to the data folder)`;
}

/** A file or folder of the shared data, or undefined when it is not there. */
export function dataFile(rel: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return missingData([rel], env) ? undefined : path.join(dataRoot(env), rel);
}
