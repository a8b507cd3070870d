// deploy/grafana/emotiond.json: valid JSON for import, and every metric its panels query is one GET /metrics
// exposes (read from a real registry with the MQTT publisher's metrics on).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/config/load.js';
import { DaemonMetrics } from '../src/dashboard/metrics.js';
import { zeroScores } from '../src/types.js';
import { HostHealth } from '../src/system/host-health.js';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { createLogger } from '../src/system/logger.js';
import { projectRoot } from '../src/system/paths.js';
import { PipelineStats } from '../src/system/stats.js';
import { parsePrometheusText } from './helpers/prom-text.js';

interface Panel {
  title: string;
  datasource: { uid: string };
  targets: Array<{ expr: string }>;
}

test('the Grafana dashboard imports with a Prometheus input and queries only metrics that /metrics exposes', async (t) => {
  const file = path.join(projectRoot(), 'deploy', 'grafana', 'emotiond.json');
  const dash = JSON.parse(fs.readFileSync(file, 'utf8')) as { __inputs: Array<{ name: string; pluginId: string }>; panels: Panel[]; uid: string };
  t.deepEqual(
    dash.__inputs.map((i) => [i.name, i.pluginId]),
    [['DS_PROMETHEUS', 'prometheus']],
  );
  t.is(dash.uid, 'emotiond');

  const { config } = loadConfig({ env: {}, flags: { 'log.level': 'silent' } });
  const logger = createLogger({ level: 'silent', pretty: 'no' });
  const publisher = new MqttPublisher({ config, logger, version: 'test', env: {} });
  const host = new HostHealth();
  const metrics = new DaemonMetrics({
    stats: new PipelineStats(),
    host,
    emotionSeconds: zeroScores,
    mqtt: () => publisher.health(),
    device: 'test',
    version: 'test',
  });
  try {
    const families = parsePrometheusText(await metrics.text());
    const exposed = new Set<string>();
    for (const fam of families.values()) for (const s of fam.samples) exposed.add(s.name);
    for (const fam of families.keys()) exposed.add(fam);
    const queried = new Set<string>();
    for (const p of dash.panels) {
      t.is(p.datasource.uid, '${DS_PROMETHEUS}', p.title);
      t.true(p.targets.length > 0, p.title);
      for (const target of p.targets) for (const m of target.expr.matchAll(/\b(?:emotiond|process)_[a-z_]+\b/g)) queried.add(m[0]);
    }
    t.true(queried.size >= 10, [...queried].join(' '));
    for (const name of queried) {
      if (name === 'emotiond_temperature_celsius' && host.temperatureC() === null) continue; // absent without a thermal zone
      t.true(exposed.has(name), `${name} (queried by the dashboard) is exposed`);
    }
  } finally {
    metrics.close();
  }
});
