// The layering of src/ (test/layering.cjs, dependency-cruiser): no circles, the base imports no stage, stages import
// only the base (and their helper room), the pipeline only stages and the base, outputs never the pipeline, the
// root or the CLI, the root never the CLI. A second test cruises a small tree that breaks each kind of rule, so that
// a config that no longer catches anything fails too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { projectRoot } from '../src/system/paths.js';

const ROOT = projectRoot();
const CONFIG = path.join(ROOT, 'test', 'layering.cjs');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string): { status: number | null; output: string } {
  const r = spawnSync(DEPCRUISE, ['--config', CONFIG, '--output-type', 'err', 'src'], { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('src/ keeps its layering (npx depcruise --config test/layering.cjs src)', (t) => {
  const r = cruise(ROOT);
  t.is(r.status, 0, r.output);
  t.regex(r.output, /no dependency violations found/);
});

test('the layering rules catch a stage importing another stage, an output importing the root, the base importing a stage, and a circle', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-layering-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'src/types.ts': 'export type Id = number;\n',
    'src/system/clock.ts': "import { track } from '../track/tracker.js';\nexport const now = (): number => track;\n",
    'src/track/tracker.ts': "import type { Id } from '../types.js';\nexport const track: Id = 1;\n",
    'src/detect/detector.ts': "import { track } from '../track/tracker.js';\nexport const detect = track;\n",
    'src/motion/mask.ts': "import type { Id } from '../types.js';\nexport const mask: Id = 2;\n",
    'src/detect/gate.ts': "import { mask } from '../motion/mask.js';\nexport const gate = mask;\n",
    'src/mqtt/publisher.ts': "import { root } from '../app/root.js';\nexport const publisher = root;\n",
    'src/app/root.ts': "import { detect } from '../detect/detector.js';\nexport const root = detect;\n",
    'src/events/a.ts': "import { b } from './b.js';\nexport const a = (): number => b();\n",
    'src/events/b.ts': "import { a } from './a.js';\nexport const b = (): number => a();\n",
  };
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  fs.copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  const r = cruise(dir);
  t.not(r.status, 0, r.output);
  t.regex(r.output, /stage-detect-imports-no-other-stage: src\/detect\/detector\.ts → src\/track\/tracker\.ts/);
  t.regex(r.output, /outputs-import-no-pipeline-root-or-cli: src\/mqtt\/publisher\.ts → src\/app\/root\.ts/);
  t.regex(r.output, /base-imports-only-base: src\/system\/clock\.ts → src\/track\/tracker\.ts/);
  t.regex(r.output, /no-circular: src\/events\/a\.ts → /);
  t.false(/src\/detect\/gate\.ts/.test(r.output), 'the detector may use its helper room, the motion gate');
});
