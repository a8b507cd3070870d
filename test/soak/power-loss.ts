// `npm run power-loss -- [--kills 50] [--seed S] [--clip FILE]`: power cuts during a broker outage. The built
// daemon, as the service runs it, reads a clip served as a live MJPEG stream while no broker listens, with
// mqtt.queue_file in its state directory and `--print` (every event it makes, on stdout, as it makes it). It is
// killed with SIGKILL at a random moment, N times in a row on the same queue file: one kill in five while it starts
// (0.5 to 3 s after it was started: loading, compacting the file), the others 0 to 6 s after its first frame (while
// it makes events and writes them).
// After each kill the queue file must parse (no bad line, no torn tail) and still hold every event an earlier run
// had queued; events this run made that had not reached the file yet are counted (the window between an event
// and its write). At the end the broker comes up, the daemon runs once more, and a persistent subscriber must get
// every event ever queued exactly once. One JSON line of figures at the end; exit 1 when a target is missed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { connectClient } from '../helpers/mqtt-client.js';
import { DEMO_CLIP, threeFaces } from '../helpers/clips/reference.js';
import { sharedDataDir } from '../helpers/clips/data.js';
import { parseQueue } from '../../src/outbox/queue-file.js';
import { topicsFor } from '../../src/contract/topics.js';
import { ENTRY, ensureBuilt, unitMemoryEnv } from './daemon-process.js';
import { MjpegStream } from './stream.js';
import { mulberry32 } from './plan.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEVICE = 'powerloss';
const QUEUE = 'outbox.jsonl';

interface Options {
  kills: number;
  seed: number;
  clip?: string;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { kills: 50, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => inline ?? argv[++i] ?? '';
    if (key === '--kills') opts.kills = Number(value());
    else if (key === '--seed') opts.seed = Number(value());
    else if (key === '--clip') opts.clip = path.resolve(value());
    else throw new Error(`power-loss: unknown option ${argv[i]} (use --kills N, --seed S, --clip FILE)`);
  }
  if (!(opts.kills >= 1)) throw new Error('power-loss: --kills must be at least 1');
  return opts;
}

/** Event ids in a --print output (room summaries and camera states have none). */
function printedIds(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const ids: string[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id === 'string') ids.push(id);
    } catch {
      // a line cut by the kill
    }
  }
  return ids;
}

/** Source processes of this checkout still running (each must end with its daemon). */
function sourceProcesses(): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(path.join(ROOT, 'dist/src/source-process/source-process.js')) && !l.includes('ps -eo')).length;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const rnd = mulberry32(opts.seed);
  const data = sharedDataDir();
  const clip = opts.clip ?? (data ? threeFaces(data).path : DEMO_CLIP);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-power-loss-'));
  const stateDir = path.join(runDir, 'state');
  const file = path.join(stateDir, QUEUE);
  console.log(`power-loss: ${opts.kills} SIGKILLs during a broker outage on ${path.basename(clip)}; files in ${runDir}`);
  ensureBuilt(ROOT);
  const stream = new MjpegStream(clip, await freePort());
  stream.up();
  await stream.listening();
  const brokerPort = await freePort();
  const log = fs.openSync(path.join(runDir, 'daemon.log'), 'a');
  const start = (run: string): ReturnType<typeof spawn> => {
    const out = fs.openSync(path.join(runDir, `${run}.out`), 'w');
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, ENTRY),
        'run',
        '--source',
        stream.url,
        '--mqtt-url',
        `mqtt://127.0.0.1:${brokerPort}`,
        '--mqtt-protocol-version',
        '4',
        '--device-id',
        DEVICE,
        '--mqtt-queue-file',
        QUEUE,
        '--system-state-dir',
        stateDir,
        '--mqtt-reconnect-max-s',
        '1',
        '--mqtt-stats-interval-s',
        '1',
        '--print',
        '--log-level',
        'warn',
        '--log-pretty',
        'no',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'production', ...unitMemoryEnv(ROOT) },
        stdio: ['ignore', out, log],
      },
    );
    fs.closeSync(out);
    return child;
  };

  const queued = new Set<string>();
  const figures = {
    kills: 0,
    unparseable_files: 0,
    torn_tails: 0,
    bad_lines: 0,
    vanished_from_file: 0,
    made_not_written: 0,
    made: 0,
    tmp_files_seen: 0,
    orphan_source_processes: 0,
  };
  for (let k = 1; k <= opts.kills; k++) {
    const child = start(`run-${k}`);
    const spawned = Date.now();
    const out = path.join(runDir, `run-${k}.out`);
    if (rnd() < 0.2) await sleep(500 + rnd() * 2500);
    else {
      const firstFrame = Date.now() + 30_000;
      while (Date.now() < firstFrame && !fs.readFileSync(out, 'utf8').includes('"state":"online"')) await sleep(50);
      await sleep(rnd() * 6000);
    }
    const after = Date.now() - spawned;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    figures.kills += 1;
    await sleep(300); // the kernel ends the source process (parent-death signal)
    figures.orphan_source_processes += sourceProcesses();
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const parsed = parseQueue(text);
    if (parsed.bad > 0 || parsed.torn) figures.unparseable_files += 1;
    figures.bad_lines += parsed.bad;
    if (parsed.torn) figures.torn_tails += 1;
    figures.tmp_files_seen += fs.existsSync(stateDir) ? fs.readdirSync(stateDir).filter((n) => n.startsWith(`${QUEUE}.tmp-`)).length : 0;
    const inFile = new Set(parsed.live.map((l) => (JSON.parse(l) as { id: string }).id));
    for (const id of queued) if (!inFile.has(id)) figures.vanished_from_file += 1;
    const made = printedIds(path.join(runDir, `run-${k}.out`));
    figures.made += made.length;
    figures.made_not_written += made.filter((id) => !inFile.has(id)).length;
    for (const id of inFile) queued.add(id);
    console.log(
      `power-loss: kill ${k} after ${(after / 1000).toFixed(1)} s: ${made.length} events made, file ${inFile.size} events${parsed.bad || parsed.torn ? ` (BAD ${parsed.bad}, torn ${parsed.torn})` : ''}`,
    );
  }

  // The broker comes back: one more run delivers what the file holds.
  const broker = new Mosquitto([{ port: brokerPort }]);
  await broker.start();
  const topics = topicsFor('emotiond', DEVICE);
  const sub = await connectClient(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'emotiond-power-loss-sub', protocolVersion: 4 });
  const received: string[] = [];
  let dropped = 0;
  let queueLength = -1;
  sub.on('message', (topic, payload) => {
    try {
      const body = JSON.parse(payload.toString()) as { id?: string; mqtt?: { queue_dropped: number; queue_length: number } };
      if (topic === topics.events && body.id) received.push(body.id);
      if (topic === topics.stats && body.mqtt) ({ queue_dropped: dropped, queue_length: queueLength } = body.mqtt);
    } catch {
      // not ours
    }
  });
  await sub.subscribeAsync([topics.events, topics.stats], { qos: 1 });
  const last = start('final');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !([...queued].every((id) => received.includes(id)) && queueLength === 0)) await sleep(250);
  last.kill('SIGTERM');
  await new Promise<void>((resolve) => last.once('exit', () => resolve()));
  await sleep(500);
  await sub.endAsync();
  await broker.stop();
  await stream.down();
  fs.closeSync(log);

  const counts = new Map<string, number>();
  for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
  const lost = [...queued].filter((id) => !counts.has(id));
  const result = {
    ...figures,
    queued_before_kills: queued.size,
    delivered_once: [...queued].filter((id) => counts.get(id) === 1).length,
    duplicates: [...counts.values()].reduce((n, c) => n + c - 1, 0),
    lost: lost.length,
    dropped,
    tmp_files_left: fs.existsSync(stateDir) ? fs.readdirSync(stateDir).filter((n) => n.startsWith(`${QUEUE}.tmp-`)).length : 0,
    queue_file_left: fs.existsSync(file),
  };
  if (lost.length > 0) console.log(`power-loss: lost ${lost.slice(0, 10).join(', ')}`);
  console.log(JSON.stringify(result));
  const ok =
    result.unparseable_files === 0 &&
    result.vanished_from_file === 0 &&
    result.lost === 0 &&
    result.duplicates === 0 &&
    result.orphan_source_processes === 0 &&
    result.tmp_files_left === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
