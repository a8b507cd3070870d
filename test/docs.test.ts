import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { exampleConfig, readmeWithReference } from '../config/config-docs.js';
import { loadConfig } from '../src/config/load.js';
import { projectRoot } from '../src/system/paths.js';

test('the annotated example config is generated from the schema and is valid', (t) => {
  const file = path.join(projectRoot(), 'config', 'emotiond.example.json');
  t.is(fs.readFileSync(file, 'utf8'), exampleConfig(), 'run: npx tsx config/config-docs.ts');
  t.notThrows(() => loadConfig({ file, env: {} }));
});

test('the README configuration reference matches the schema', (t) => {
  const readme = fs.readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
  t.is(readme, readmeWithReference(readme), 'run: npx tsx config/config-docs.ts');
  t.regex(readme, /EMOTIOND_MQTT_URL/);
});

test('the demo config is valid', (t) => {
  t.notThrows(() => loadConfig({ file: path.join(projectRoot(), 'config', 'demo.json'), env: {} }));
});
