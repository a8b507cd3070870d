// How the bench starts its per-clip workers. "dist" compiles the project with tsc into reports/bench/dist
// and runs the worker with plain node, as the daemon is deployed (tsx's loader alone adds ~40 MB of RSS);
// "tsx" runs the sources directly. A failed compile falls back to tsx and says so.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fromRoot } from '../../src/system/paths.js';

export type Runtime = 'dist' | 'tsx';

export interface WorkerCommand {
  runtime: Runtime;
  script: string;
  execArgv: string[];
  note?: string;
}

const OUT_DIR = fromRoot('reports/bench/dist');

function tsxCommand(note?: string): WorkerCommand {
  return { runtime: 'tsx', script: fromRoot('test/bench/worker.ts'), execArgv: ['--import', 'tsx'], note };
}

export async function workerCommand(runtime: Runtime): Promise<WorkerCommand> {
  if (runtime === 'tsx') return tsxCommand();
  const tsc = fromRoot('node_modules/typescript/bin/tsc');
  const script = path.join(OUT_DIR, 'test/bench/worker.js');
  const args = [
    tsc,
    '-p',
    fromRoot('tsconfig.json'),
    '--outDir',
    OUT_DIR,
    '--incremental',
    '--tsBuildInfoFile',
    path.join(OUT_DIR, '.tsbuildinfo'),
    '--noEmit',
    'false',
  ];
  process.stdout.write('bench: compiling to reports/bench/dist ... ');
  try {
    await promisify(execFile)(process.execPath, args, { cwd: fromRoot('.'), maxBuffer: 16 * 2 ** 20 });
    console.log('done');
  } catch (err) {
    // tsc still writes JavaScript when some file elsewhere has a type error; only a missing worker is fatal.
    const out = String((err as { stdout?: string }).stdout ?? '')
      .split('\n')
      .filter(Boolean);
    console.log(`done with ${out.length} type error(s) elsewhere`);
  }
  if (!fs.existsSync(script)) return tsxCommand(`compiling to ${OUT_DIR} failed: running the sources with tsx (RSS includes ~40 MB of tsx loader)`);
  return { runtime: 'dist', script, execArgv: [] };
}
