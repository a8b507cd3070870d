// The HTTP server's targets (#19), measured on the three-face clip with a real dashboard open in chromium:
//   - CPU per frame with the HTTP server and one dashboard against without it (target: <= 3 % more);
//   - GET /metrics and GET /healthz response time while the pipeline runs (target: p95 <= 20 ms);
//   - the page's first mood after the first classified face (target: <= 2 s).
// Each daemon runs in a child process of its own (CPU is the child's alone; chromium and the scraper are
// other processes), the two configurations alternate, and medians are reported.
//   npx tsx test/bench/http-overhead.ts [--clip FILE] [--repeat N] [--model FILE]
import { ascending, median, quantile } from '../../src/system/quantile.js';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Daemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/system/logger.js';
import { fromRoot } from '../../src/system/paths.js';
import { launchBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/ports.js';

interface ChildRequest {
  clip: string;
  model: string;
  pace: 'none' | 'realtime';
  http: boolean;
  port: number;
  /** Start paused; the parent sends 'go' once the page is open. */
  paused: boolean;
}

interface ChildResult {
  frames: number;
  /** Main-thread time in the HTTP part's own work (its event sink, the live messages, the timer), ms. */
  httpMs: number;
  /** CPU ms of the child between consecutive frames, counted only while a dashboard was connected (http) or always. */
  cpuPerFrameMs: number[];
  firstClassifiedMs: number | null;
}

const SELF = fileURLToPath(import.meta.url);

async function child(req: ChildRequest): Promise<void> {
  const flags: Record<string, string | boolean> = {
    'device.id': 'bench',
    'source.uri': req.clip,
    'source.pace': req.pace,
    'classifier.model': req.model,
    'mqtt.enabled': false,
    'http.enabled': req.http,
    'http.port': String(req.port),
    'log.level': 'warn',
    'log.pretty': 'no',
  };
  // An empty config file: a developer's /etc/emotiond/config.json must not change what is measured.
  const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-http-bench-')), 'config.json');
  fs.writeFileSync(empty, '{}\n');
  const loaded = loadConfig({ file: empty, env: {}, flags });
  const logger = createLogger({ level: 'warn', pretty: 'no' });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted });
  const http = daemon.http;
  // The HTTP part's own time: its event sink (called in the frame), and each live message it builds and
  // writes (a timer): wrapped here, for the bench only.
  let httpMs = 0;
  const timed = (obj: object, name: string): void => {
    const o = obj as Record<string, (...a: unknown[]) => unknown>;
    const fn = o[name] as (...a: unknown[]) => unknown;
    o[name] = (...a: unknown[]) => {
      const t0 = performance.now();
      try {
        return fn.apply(obj, a);
      } finally {
        httpMs += performance.now() - t0;
      }
    };
  };
  if (http) for (const m of ['event', 'room', 'face', 'faceCleared', 'camera']) timed(http.live, m);
  const cpuPerFrameMs: number[] = [];
  let last: NodeJS.CpuUsage | null = null;
  daemon.stats.addSampleListener((stage) => {
    if (stage !== 'frame') return;
    const now = process.cpuUsage();
    const counting = !req.http || (http?.dashboards ?? 0) > 0;
    if (last && counting) cpuPerFrameMs.push((now.user - last.user + now.system - last.system) / 1000);
    last = now;
  });
  if (req.paused) daemon.setPaused(true);
  const go = new Promise<void>((resolve) => process.on('message', (m) => m === 'go' && resolve()));
  await daemon.start();
  const server = (http as unknown as { server?: object } | undefined)?.server;
  if (server) timed(server, 'broadcast');
  process.send?.({ ready: true });
  await go;
  daemon.setPaused(false);
  await daemon.sourceEnded;
  const result: ChildResult = { frames: daemon.stats.framesProcessed, httpMs, cpuPerFrameMs, firstClassifiedMs: http?.live.firstClassifiedMs ?? null };
  await daemon.stop();
  process.send?.({ result });
  process.disconnect?.();
}

interface Run {
  result: ChildResult;
  firstMoodAt?: number;
  latencies: { metrics: number[]; healthz: number[] };
}

/** One daemon run; with `page`, a dashboard is opened first; with `scrape`, /metrics and /healthz are fetched every 100 ms. */
async function run(opts: { clip: string; model: string; pace: 'none' | 'realtime'; http: boolean; page: boolean; scrape: boolean }): Promise<Run> {
  const port = await freePort();
  const req: ChildRequest = { clip: opts.clip, model: opts.model, pace: opts.pace, http: opts.http, port, paused: opts.pace === 'realtime' };
  const proc = fork(SELF, ['--child', JSON.stringify(req)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: Array<Record<string, unknown>> = [];
  const waitFor = (key: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const found = messages.find((m) => key in m);
      if (found) return resolve(found);
      const onMessage = (m: Record<string, unknown>) => {
        if (key in m) {
          proc.off('message', onMessage);
          resolve(m);
        }
      };
      proc.on('message', onMessage);
      proc.once('exit', (code) => reject(new Error(`child exited (${code}) before ${key}`)));
    });
  proc.on('message', (m: Record<string, unknown>) => messages.push(m));
  const browser = opts.page ? await launchBrowser({ width: 1920, height: 1080 }) : undefined;
  const latencies = { metrics: [] as number[], healthz: [] as number[] };
  let scraping = false;
  try {
    await waitFor('ready');
    const url = `http://127.0.0.1:${port}`;
    const page = browser ? await browser.context.newPage() : undefined;
    if (page) {
      await page.addInitScript(() => {
        const w = globalThis as unknown as { firstMoodAt?: number; document: { getElementById(id: string): { dataset: Record<string, string> } | null } };
        const MO = (globalThis as unknown as { MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void } }).MutationObserver;
        new MO(() => {
          if (w.firstMoodAt === undefined && w.document.getElementById('mood')?.dataset['emotion']) w.firstMoodAt = performance.timeOrigin + performance.now();
        }).observe(w.document, { subtree: true, childList: true, attributes: true, characterData: true });
      });
      await page.goto(`${url}/`);
    }
    proc.send('go');
    if (opts.scrape) {
      scraping = true;
      void (async () => {
        while (scraping) {
          for (const p of ['metrics', 'healthz'] as const) {
            const t0 = performance.now();
            try {
              const res = await fetch(`${url}/${p}`);
              await res.text();
              if (scraping) latencies[p].push(performance.now() - t0);
            } catch {
              // the daemon stopped at the end of the clip
            }
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
    }
    const { result } = (await waitFor('result')) as unknown as { result: ChildResult };
    scraping = false;
    const firstMoodAt = page ? ((await page.evaluate(() => (globalThis as unknown as { firstMoodAt?: number }).firstMoodAt)) as number | undefined) : undefined;
    return { result, firstMoodAt, latencies };
  } finally {
    scraping = false;
    await browser?.close();
    if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
  }
}

function p95(xs: number[]): number {
  return quantile(ascending(xs), 0.95);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clip: { type: 'string' }, repeat: { type: 'string' }, model: { type: 'string' } } });
  const clip = values.clip ?? fromRoot('reports/clips/ck3faces-640x480.avi');
  if (!fs.existsSync(clip)) throw new Error(`${clip} not found: npm run bench composes it from the shared data (or give --clip)`);
  const model = values.model ?? fromRoot('models/emotion-cnn-lstm.int8.onnx');
  const repeat = Number(values.repeat ?? 5);
  console.log(`clip ${clip}, model ${model}, ${repeat} pairs, every frame (source.pace none)`);
  const off: number[] = [];
  const on: number[] = [];
  const ons: Run[] = [];
  for (let i = 0; i < repeat; i++) {
    const a = await run({ clip, model, pace: 'none', http: false, page: false, scrape: false });
    const b = await run({ clip, model, pace: 'none', http: true, page: true, scrape: false });
    ons.push(b);
    const ma = median(a.result.cpuPerFrameMs);
    const mb = median(b.result.cpuPerFrameMs);
    off.push(ma);
    on.push(mb);
    console.log(
      `pair ${i + 1}: CPU per frame, median over frames: off ${ma.toFixed(2)} ms (${a.result.cpuPerFrameMs.length} frames), http + dashboard ${mb.toFixed(2)} ms (${b.result.cpuPerFrameMs.length} frames): ${((mb / ma - 1) * 100).toFixed(1)} %`,
    );
  }
  const ratio = median(on) / median(off);
  const own = ons.map((r) => r.result.httpMs / r.result.frames);
  console.log(
    `the HTTP part's own main-thread time (its sink, building and writing the live messages): ${own.map((x) => `${(x * 1000).toFixed(0)} µs`).join(', ')} per frame; median ${(median(own) * 1000).toFixed(0)} µs = ${((median(own) / median(off)) * 100).toFixed(2)} % of the CPU per frame without HTTP`,
  );
  console.log(
    `CPU per frame: off ${median(off).toFixed(2)} ms, http + one dashboard ${median(on).toFixed(2)} ms (medians of ${repeat} runs): ${((ratio - 1) * 100).toFixed(1)} % (target <= +3 %)`,
  );

  const report = (what: string, runs: Run[]): void => {
    for (const p of ['metrics', 'healthz'] as const) {
      const l = runs.flatMap((r) => r.latencies[p]);
      console.log(
        `GET /${p} ${what}: ${l.length} requests, median ${median(l).toFixed(1)} ms, p95 ${p95(l).toFixed(1)} ms, max ${Math.max(...l).toFixed(1)} ms (target p95 <= 20 ms)`,
      );
    }
  };
  const bare = await floor(150);
  console.log(
    `floor on this machine now: a bare node:http server in another process: ${bare.length} requests, median ${median(bare).toFixed(1)} ms, p95 ${p95(bare).toFixed(1)} ms`,
  );
  // As with a camera: the clip at its frame rate, a dashboard open, /metrics and /healthz every 100 ms.
  const live: Run[] = [];
  for (let i = 0; i < repeat; i++) live.push(await run({ clip, model, pace: 'realtime', http: true, page: true, scrape: true }));
  report('while the pipeline runs the clip at its frame rate', live);
  const delays = live
    .filter((r) => r.firstMoodAt !== undefined && r.result.firstClassifiedMs !== null)
    .map((r) => (r.firstMoodAt as number) - (r.result.firstClassifiedMs as number));
  console.log(
    `first mood on the page after the first classified face (page open before): ${delays.map((d) => `${Math.round(d)} ms`).join(', ')}; median ${Math.round(median(delays))} ms (target <= 2000 ms)`,
  );
  // The worst case: every frame as fast as it goes, the pipeline never idle.
  report('while the pipeline runs every frame as fast as it goes (saturated)', [
    await run({ clip, model, pace: 'none', http: true, page: true, scrape: true }),
  ]);
  console.log(
    `load average during the bench: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.cpus().length} cores`,
  );
}

/** A bare node:http server in its own process, answering like /healthz: the floor this machine sets now. */
function floorServer(): void {
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  srv.listen(0, '127.0.0.1', () => process.send?.({ port: (srv.address() as AddressInfo).port }));
  process.on('message', () => srv.close(() => process.disconnect?.()));
}

async function floor(requests: number): Promise<number[]> {
  const proc = fork(SELF, ['--floor'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((resolve) => proc.once('message', (m) => resolve(m as { port: number })));
  const out: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now();
    await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.send('stop');
  await new Promise((r) => proc.once('exit', r));
  return out;
}

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) await child(JSON.parse(process.argv[childArg + 1] as string) as ChildRequest);
else if (process.argv.includes('--floor')) floorServer();
else await main();
