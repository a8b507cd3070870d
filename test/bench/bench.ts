// `npm run bench`: the real pipeline (the Daemon: capture → detect → track → classify → events, MQTT
// optional) over the reference clips, every frame as fast as it goes, each run of a clip in a child process of
// its own so that peak RSS is the daemon's own; then some of them again paced at their own frame rate, as a camera
// delivers them (CPU as a share of one core, how soon a new face is reported). Prints tables, checks the
// targets, and writes reports/bench/bench.json.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fromRoot } from '../../src/system/paths.js';
import { benchClips, type ReferenceClip } from '../helpers/clips/reference.js';
import {
  checkClassroom,
  checkPaced,
  checkTargets,
  clipReport,
  compareTable,
  cpuPerFrame,
  dominantStage,
  pacedTable,
  sceneTable,
  table,
  type ClipReport,
  type TargetCheck,
} from './report.js';
import { resolveModel } from './model.js';
import { workerCommand, type Runtime } from './runtime.js';
import type { WorkerReply, WorkerRequest, WorkerRun } from './worker.js';
import { readLayout, scoreScene } from './scene.js';

const USAGE = `usage: npm run bench -- [options]
  --clip PATH        benchmark this video file instead of the reference clips (repeatable)
  --repeat N         run each clip N times, each in a process of its own, in N rounds of every clip once (samples pooled, figures the median of the runs; default 1)
  --model PATH       ONNX model (default: models/emotion-cnn-lstm.int8.onnx, else the newest models/work/**/*.onnx)
  --threads N        ONNX Runtime intra-op threads (default 1)
  --cv-threads N     OpenCV worker threads (default: OpenCV's, one per core)
  --set KEY=VALUE    any daemon setting, e.g. --set detector.detect_width=240 (repeatable)
  --mqtt             publish through the daemon's MQTT publisher to an aedes broker inside the bench
  --runtime R        dist (compile to reports/bench/dist and run with plain node, as deployed; default) or tsx
  --skip-paced       only the unpaced runs (every frame as fast as it goes)
  --only-paced       only the paced runs (each clip at its own frame rate, as a camera)
  --only TEXT        only the reference clips whose name contains TEXT (repeatable)
  --compare FILE     print CPU per frame and RSS against an earlier report (a bench.json), clip by clip
  --out FILE         JSON report (default reports/bench/bench.json)
On a machine busy with other work, wall-clock figures drop with the CPU share the bench gets (the cores
column); as root, \`chrt -r 10 node --import tsx test/bench/bench.ts ...\` measures as on an idle machine.`;

interface Options {
  clips: string[];
  repeat: number;
  model?: string;
  threads: number;
  cvThreads?: number;
  settings: Record<string, string>;
  mqtt: boolean;
  runtime: Runtime;
  paced: boolean;
  unpaced: boolean;
  only: string[];
  compare?: string;
  out: string;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      clip: { type: 'string', multiple: true },
      repeat: { type: 'string' },
      model: { type: 'string' },
      threads: { type: 'string' },
      'cv-threads': { type: 'string' },
      set: { type: 'string', multiple: true },
      mqtt: { type: 'boolean' },
      runtime: { type: 'string' },
      'skip-paced': { type: 'boolean' },
      'only-paced': { type: 'boolean' },
      only: { type: 'string', multiple: true },
      compare: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const settings: Record<string, string> = {};
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--set wants KEY=VALUE, got "${kv}"`);
    settings[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const runtime = values.runtime ?? 'dist';
  if (runtime !== 'dist' && runtime !== 'tsx') throw new Error(`--runtime must be dist or tsx, got "${runtime}"`);
  if (values['skip-paced'] && values['only-paced']) throw new Error('--skip-paced and --only-paced exclude each other');
  return {
    clips: (values.clip ?? []).map((c) => path.resolve(c)),
    repeat: positiveInt('repeat', values.repeat, 1),
    model: values.model,
    threads: positiveInt('threads', values.threads, 1),
    cvThreads: values['cv-threads'] === undefined ? undefined : positiveInt('cv-threads', values['cv-threads'], 1),
    settings,
    mqtt: values.mqtt === true,
    runtime,
    paced: values['skip-paced'] !== true,
    unpaced: values['only-paced'] !== true,
    only: values.only ?? [],
    compare: values.compare === undefined ? undefined : path.resolve(values.compare),
    out: path.resolve(values.out ?? fromRoot('reports/bench/bench.json')),
  };
}

/** Run one clip once in a child process and wait for what it measured. */
function benchInChild(command: { script: string; execArgv: string[] }, req: WorkerRequest): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    // The daemon's process settings from deploy/emotiond.service, so that RSS is measured as deployed.
    const execArgv = [...command.execArgv, '--max-semi-space-size=1'];
    const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1' };
    const child = fork(command.script, [JSON.stringify(req)], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: WorkerReply | undefined;
    child.on('message', (m) => {
      reply = m as WorkerReply;
      // The report is all we need; a native thread pool that keeps the child alive must not hang the bench.
      setTimeout(() => child.kill(), 5000).unref();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (reply?.ok) resolve(reply);
      else reject(new Error(reply ? reply.error : `bench worker for ${req.clip} exited (${signal ?? code}) without a report`));
    });
  });
}

/** One report over the runs of a clip, each from a process of its own. */
function reportOf(clip: ReferenceClip, done: WorkerRun[], pace: 'none' | 'realtime'): ClipReport {
  const runs = done.map((d) => d.run);
  const layout = readLayout(clip.path);
  const mqtt = done[0]?.mqtt
    ? { messages: done.reduce((a, d) => a + (d.mqtt?.messages ?? 0), 0), bytes: done.reduce((a, d) => a + (d.mqtt?.bytes ?? 0), 0) }
    : null;
  const bases = done.map((d) => d.rssBaseBytes).sort((a, b) => a - b);
  return clipReport(runs, {
    scenes: layout ? runs.map((r) => scoreScene(r, layout)) : [],
    name: clip.name,
    rssBaseBytes: bases[Math.floor((bases.length - 1) / 2)] ?? 0,
    loadBefore: done[0]?.loadBefore ?? 0,
    loadAfter: done.at(-1)?.loadAfter ?? 0,
    mqtt,
    pace,
  });
}

/** The scheduling policy of this process (Linux): a real-time bench is not slowed by other work. */
function schedPolicy(): string {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 41 of proc(5) is the policy; fields here start at field 3.
    return ['other', 'fifo', 'rr', 'batch', 'iso', 'idle', 'deadline'][Number(fields[41 - 3])] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function verdicts(checks: TargetCheck[]): string {
  return checks.map((c) => `  ${c.pass ? 'PASS' : 'FAIL'}  ${c.what.padEnd(20)} ${c.measured.padStart(10)}   (target ${c.target})`).join('\n');
}

async function main(): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  const notes: string[] = [];
  let clips: ReferenceClip[];
  let target: ReferenceClip | undefined;
  let rooms: ReferenceClip[] = [];
  let pacedClips: ReferenceClip[] = [];
  if (opts.clips.length > 0) {
    clips = opts.clips.map((p) => ({ name: path.basename(p, path.extname(p)), path: p, faces: 0 }));
    pacedClips = clips;
  } else {
    const ref = benchClips();
    const wanted = (c: ReferenceClip): boolean => opts.only.length === 0 || opts.only.some((o) => c.name.includes(o));
    clips = ref.clips.filter(wanted);
    target = ref.target;
    rooms = ref.classrooms;
    pacedClips = ref.paced.filter(wanted);
    if (ref.note) notes.push(ref.note);
  }
  if (!opts.unpaced) clips = [];
  if (!opts.paced) pacedClips = [];
  const model = resolveModel(opts.model);
  if (model.note) notes.push(model.note);
  const command = await workerCommand(opts.runtime);
  if (command.note) notes.push(command.note);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(
    `bench: ${clips.length} clip(s) x ${opts.repeat}, model ${model.path}, onnx threads ${opts.threads}, runtime ${command.runtime}, ` +
      `${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(2)}, scheduling ${schedPolicy()}${opts.mqtt ? ', MQTT on' : ''}` +
      (Object.keys(opts.settings).length ? `, settings ${JSON.stringify(opts.settings)}` : ''),
  );

  const reports: ClipReport[] = [];
  const paced: ClipReport[] = [];
  let cvThreads = 0;
  for (const [list, pace, out] of [
    [clips, 'none', reports],
    [pacedClips, 'realtime', paced],
  ] as const) {
    if (list.length > 0) console.log(pace === 'none' ? 'every frame, as fast as it goes:' : "paced at each clip's frame rate, as a camera:");
    // Round by round, every clip once per round: a machine that speeds up or slows down during the bench moves
    // every clip's figures alike, not the clips that happened to run in that stretch (the ratios between clips of
    // one run are targets).
    const done = new Map<ReferenceClip, WorkerRun[]>(list.map((clip) => [clip, []]));
    for (let i = 0; i < opts.repeat; i++) {
      if (opts.repeat > 1 && list.length > 0) console.log(`  round ${i + 1} of ${opts.repeat}`);
      for (const clip of list) {
        const req: WorkerRequest = {
          name: clip.name,
          clip: clip.path,
          model: model.path,
          threads: opts.threads,
          settings: opts.settings,
          mqtt: opts.mqtt,
          cvThreads: opts.cvThreads,
          pace,
        };
        process.stdout.write(`    ${clip.name} ... `);
        const run = await benchInChild(command, req);
        done.get(clip)?.push(run);
        cvThreads = run.cvThreads;
        const r = run.run;
        console.log(`${r.frames} frames, ${(r.frames / (r.wallMs / 1000)).toFixed(1)} frames/s, cpu/frame ${cpuPerFrame(r).toFixed(1)} ms`);
      }
    }
    for (const clip of list) {
      const report = reportOf(clip, done.get(clip) ?? [], pace);
      out.push(report);
      console.log(`  ${clip.name}: ${report.fps} frames/s, ${report.tracks_seen} track(s)${clip.faces ? ` (${clip.faces} face(s) in the clip)` : ''}`);
    }
  }

  if (reports.length > 0) {
    console.log(
      `\nper-stage ms are median/p95; cpu/frame in ms (each run's mean, median of the runs); cores = CPU time / wall time; OpenCV threads ${cvThreads}\n`,
    );
    console.log(table(reports));
  }
  if (reports.some((r) => r.scene)) {
    console.log(
      `\nclassroom clips (each figure the median of ${opts.repeat} run(s)); hz = LSTM steps per second per face on the frame clock; first report = seconds from a face's arrival to its face_appeared; onset->label = seconds from the start of a face's expression to its emotion_changed to that expression's label (faces that got there)\n`,
    );
    console.log(sceneTable(reports));
  }
  if (paced.length > 0) {
    console.log(
      `\npaced (each clip at its own frame rate, as a camera delivers it; ${opts.repeat} run(s)): CPU = CPU time / wall time of the daemon's process, as a share of one core; first event = seconds from a face's first frame to its face_appeared on the frame clock, p50/p95 over the faces that arrive after the first frame, median of the runs\n`,
    );
    console.log(pacedTable(paced));
  }
  if (opts.compare) {
    const before = JSON.parse(fs.readFileSync(opts.compare, 'utf8')) as { clips: ClipReport[]; paced?: ClipReport[] };
    console.log(`\nagainst ${path.relative(process.cwd(), opts.compare)} (cpu/frame in ms; cpu % of one core for paced runs):\n`);
    console.log(compareTable([...reports, ...paced], [...before.clips, ...(before.paced ?? [])]));
  }
  const loadNow = os.loadavg()[0] ?? 0;
  const policy = schedPolicy();
  const realtime = policy === 'fifo' || policy === 'rr';
  if (loadNow > os.cpus().length && !realtime) {
    console.log(
      `\nwarning: load average ${loadNow.toFixed(1)} on ${os.cpus().length} cores: other work competes for the CPU; wall-clock numbers (fps, p95) are pessimistic, cpu/frame is the steadier figure`,
    );
  }
  if (opts.mqtt) {
    for (const r of reports) {
      if (r.mqtt?.parts === 0) console.log(`\nnote: MQTT requested but the daemon started no MQTT part for ${r.clip}: nothing was published`);
      else if (r.mqtt) console.log(`${r.clip}: ${r.mqtt.messages} MQTT messages, ${r.mqtt.bytes} payload bytes`);
    }
  }

  let targets: { clip: string; checks: TargetCheck[]; pass: boolean } | null = null;
  const targetReport = target ? reports.find((r) => r.path === target.path) : undefined;
  if (targetReport) {
    const checks = checkTargets(targetReport);
    targets = { clip: targetReport.clip, checks, pass: checks.every((c) => c.pass) };
    console.log(`\ntargets on ${targetReport.clip} (${targetReport.width}x${targetReport.height}, ${opts.threads} ONNX thread(s)):\n${verdicts(checks)}`);
    if (!targets.pass) {
      const d = dominantStage(targetReport);
      console.log(
        `  dominant stage: ${d.stage}, ${(d.share * 100).toFixed(0)} % of the median frame (${targetReport.stage_ms[d.stage].median} ms of ${targetReport.stage_ms.frame.median} ms)`,
      );
      console.log(`  RSS once the libraries were loaded: ${targetReport.rss_base_mb} MB (before any frame)`);
    }
  }

  const classroomChecks: Array<{ clip: string; checks: TargetCheck[]; pass: boolean }> = [];
  for (const room of rooms) {
    const r = reports.find((x) => x.path === room.path);
    if (!r || !targetReport) continue;
    const checks = checkClassroom(r, targetReport);
    classroomChecks.push({ clip: r.clip, checks, pass: checks.every((c) => c.pass) });
    console.log(`\ntargets on ${r.clip} (shipped defaults; cpu/frame against ${targetReport.clip} in this run):\n${verdicts(checks)}`);
  }

  const pacedChecks: Array<{ clip: string; checks: TargetCheck[]; pass: boolean }> = [];
  for (const r of paced) {
    const checks = checkPaced(r);
    if (checks.length === 0) continue;
    pacedChecks.push({ clip: r.clip, checks, pass: checks.every((c) => c.pass) });
    console.log(`\ntargets on ${r.clip}, paced at ${r.clip_fps} fps (median of ${r.runs} run(s)):\n${verdicts(checks)}`);
  }

  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  const json = {
    time: new Date().toISOString(),
    host: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? '',
      load_avg_after: Math.round(loadNow * 100) / 100,
      sched_policy: policy,
      node: process.version,
    },
    runtime: command.runtime,
    model: model.path,
    onnx_threads: opts.threads,
    opencv_threads: cvThreads,
    mqtt: opts.mqtt,
    settings: opts.settings,
    notes,
    clips: reports,
    paced,
    targets,
    classroom_targets: classroomChecks,
    paced_targets: pacedChecks,
  };
  fs.writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), opts.out) || opts.out}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
