// A camera that wedges (issue #33 item 5). A TCP camera in its own process either answers nobody (it accepts
// connections and never sends: GStreamer's open never prerolls and blocks for ever) or sends raw frames at
// 10 fps. The real daemon, in this process with its embedded MQTT broker and its HTTP server, reads it through a
// GStreamer pipeline in its source process. It starts against the silent camera: start() returns, every open is
// ended after source.open_timeout_s and reported; then the camera sends and frames flow; then the camera falls
// silent mid-stream (a wedged read) and comes back. Throughout, /healthz, an MQTT request and /metrics (both
// answered by the daemon's main thread) are timed, and so is the main thread's event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import test from 'ava';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { MemorySink } from '../src/sinks/memory-sink.js';
import { quantile } from '../src/system/quantile.js';
import { freePort } from './helpers/ports.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { sleep, waitUntil } from './helpers/wait.js';
import { subscribe } from './publish-helpers.js';
import { missingGstreamer } from './helpers/media-tools.js';

const W = 160;
const H = 120;

// The camera: prints its port, then "conn" per connection. stdin "silent": new connections get nothing and
// connections being fed stop (kept open); "send": silent connections are closed (a camera that rebooted) and
// new ones get a frame every 100 ms.
const CAMERA = `
const net = require('node:net');
const frame = Buffer.alloc(${W * H * 3}, 0);
for (let i = 0; i < frame.length; i++) frame[i] = (i * 7) % 251;
let mode = process.argv[1];
const socks = new Set();
const server = net.createServer((sock) => { console.log('conn'); sock.on('error', () => {}); sock.on('close', () => socks.delete(sock)); socks.add(sock); });
setInterval(() => { if (mode === 'send') for (const s of socks) s.write(frame); }, 100);
process.stdin.on('data', (d) => {
  const next = d.toString().trim();
  if (next === 'send' && mode === 'silent') for (const s of socks) s.destroy();
  mode = next;
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

testUnless(firstMissing(missingModel(), missingGstreamer()), { serial: true })(
  'a wedged camera open and a wedged read: reported and retried, /readyz 503 while lost, the daemon answers throughout, frames flow again within 5 s',
  async (t) => {
    t.timeout(120_000);
    const camera = spawn(process.execPath, ['-e', CAMERA, 'silent'], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.teardown(() => kill(camera));
    const cameraPort = await new Promise<number>((resolve) => camera.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().split('\n')[0]))));
    const setCamera = (mode: 'silent' | 'send'): void => void camera.stdin?.write(`${mode}\n`);

    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const pipeline = `gst:tcpclientsrc host=127.0.0.1 port=${cameraPort} ! rawvideoparse width=${W} height=${H} format=bgr framerate=10/1 ! videoconvert ! appsink`;
    const loaded = loadConfig({
      env: {},
      flags: {
        'classifier.model': testModel() ?? '',
        'device.id': 'wedge',
        'source.uri': pipeline,
        'source.open_timeout_s': '3',
        'source.stall_timeout_s': '2',
        'source.reopen_min_s': '0.5',
        'source.reopen_max_s': '1',
        'mqtt.embedded': true,
        'mqtt.embedded_port': String(mqttPort),
        'mqtt.url': `mqtt://127.0.0.1:${mqttPort}`,
        'mqtt.discovery': false,
        'http.enabled': true,
        'http.port': String(httpPort),
        'log.level': 'warn',
        'log.pretty': 'no',
      },
    });
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      level: 'warn',
      pretty: 'no',
      destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    });
    const sink = new MemorySink();
    const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted, sinks: [sink] });

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const started = performance.now();
    await daemon.start();
    const startS = (performance.now() - started) / 1000;
    loop.reset(); // from here on: the model is loaded, only the source is opened and read
    t.teardown(() => daemon.stop());
    const client = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['emotiond/wedge/response/health_check'], { protocolVersion: 4 });
    t.teardown(() => client.end());

    // Probes every 250 ms: /healthz, an MQTT health_check round trip, /metrics.
    const timings = { healthz: [] as number[], mqtt: [] as number[], metrics: [] as number[] };
    const codes = new Set<number>();
    let probing = true;
    const probe = async (): Promise<void> => {
      let n = 0;
      while (probing) {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
        codes.add(res.status);
        await res.text();
        timings.healthz.push(performance.now() - t0);
        const before = client.messages.length;
        const t1 = performance.now();
        await client.client.publishAsync('emotiond/wedge/request/health_check', JSON.stringify({ transaction: n++ }), { qos: 1 });
        await waitUntil(() => client.messages.length > before, 10_000, 'an MQTT response');
        timings.mqtt.push(performance.now() - t1);
        const t2 = performance.now();
        await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
        timings.metrics.push(performance.now() - t2);
        await sleep(250);
      }
    };
    const probing$ = probe();

    const wedgedOpens = (): number => sink.cameras.filter((c) => c.state === 'offline' && /did not finish within 3 s/.test(c.error ?? '')).length;
    await waitUntil(
      () => wedgedOpens() >= 2,
      30_000,
      'two wedged opens reported',
      () => JSON.stringify(sink.cameras.slice(-3)),
    );
    t.is(daemon.stats.framesIn, 0);
    t.true(daemon.makingProgress(), 'opening and reopening the source counts as progress');
    // /readyz: 503 while the camera has given no frame, 200 once frames flow, 503 (degraded) while it is lost again.
    const readyz = async (): Promise<{ code: number; status: string }> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      return { code: res.status, status: ((await res.json()) as { status: string }).status };
    };
    const readyzUntil = async (code: number, what: string): Promise<{ code: number; status: string }> => {
      let r = await readyz();
      for (const end = performance.now() + 5000; r.code !== code && performance.now() < end; ) r = (await sleep(100), await readyz());
      t.is(r.code, code, what);
      return r;
    };
    t.like(await readyz(), { code: 503, status: 'starting' }, '/readyz: not ready before the first frame');

    // The camera comes back: frames within 5 s.
    setCamera('send');
    const back = performance.now();
    await waitUntil(() => daemon.stats.framesProcessed > 0, 20_000, 'frames after the camera came back');
    const backS = (performance.now() - back) / 1000;
    t.like(await readyzUntil(200, '/readyz ready once frames flow'), { status: 'ok' });

    // The camera falls silent mid-stream: the read stalls (2 s), its process is ended, the open wedges; then back.
    await sleep(2000);
    setCamera('silent');
    const frames = daemon.stats.framesIn;
    await waitUntil(() => wedgedOpens() >= 3, 30_000, 'a wedged read, then a wedged open, reported');
    t.like(await readyzUntil(503, '/readyz not ready while the camera is lost'), { status: 'degraded' });
    setCamera('send');
    const back2 = performance.now();
    await waitUntil(() => daemon.stats.framesIn > frames + 5, 20_000, 'frames after the camera came back again');
    const back2S = (performance.now() - back2) / 1000;
    await sleep(1000);
    probing = false;
    await probing$;
    loop.disable();

    const summary = (xs: number[]): string => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${quantile(s, 0.5).toFixed(1)} ms, max ${(s.at(-1) ?? NaN).toFixed(1)} ms (${s.length})`;
    };
    t.log(`start() took ${startS.toFixed(2)} s against the silent camera`);
    t.log(`frames again ${backS.toFixed(2)} s and ${back2S.toFixed(2)} s after the camera came back`);
    t.log(`/healthz ${summary(timings.healthz)}; MQTT health_check ${summary(timings.mqtt)}; /metrics ${summary(timings.metrics)}`);
    t.log(`main thread event loop delay after start(): max ${(loop.max / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms`);
    t.log(`camera states: ${sink.cameras.map((c) => `${c.state}${c.error ? ` (${c.error.replace(/^.*\): /, '')})` : ''}`).join(' → ')}`);
    t.true(startS < 5, 'start() does not wait for the source');
    t.true(Math.max(...timings.healthz) < 1000, '/healthz answered within 1 s throughout');
    t.true(Math.max(...timings.mqtt) < 2000 && Math.max(...timings.metrics) < 2000, 'MQTT and /metrics answered throughout');
    t.true(loop.max / 1e6 < 1000, `the main thread never blocked for a second (max ${loop.max / 1e6} ms)`);
    t.true(backS < 10 && back2S < 10, `frames again within ${backS.toFixed(1)} and ${back2S.toFixed(1)} s (target 5 s)`);
    t.deepEqual([...codes].sort(), [200], '/healthz live throughout (opening and reopening are progress)');
    t.true(daemon.stuckReads === 0, 'no read left stuck in the daemon');
    t.true(
      sink.cameras.some((c) => /did not finish within 3 s/.test(c.error ?? '')),
      'the wedge is reported with the camera state',
    );
  },
);
