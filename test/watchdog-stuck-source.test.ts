// A wedged GStreamer pipeline, run as systemd runs the daemon (its own process, NOTIFY_SOCKET, WATCHDOG_USEC):
// a camera on TCP sends a few raw frames on every connection and then goes silent with the socket open, so
// every read blocks in GStreamer for good. The daemon must not keep the watchdog fed by reopening for ever:
// after source.max_stuck_reads stuck reads it logs a fatal line, stops pinging, stops cleanly and ends itself
// (SIGKILL: Node would wait for the stuck threads at a normal exit) so that systemd restarts it. That is the
// source read in the daemon's own process (source.isolation none); in a process of its own (the default for
// pipelines) a stuck read ends with that process and is retried: camera-wedge.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { notifySocket } from './helpers/notify-socket.js';
import { missingGstreamer } from './helpers/media-tools.js';

const W = 160;
const H = 120;

const gstTest = testUnless(firstMissing(missingModel(), missingGstreamer()), { serial: true });

// The camera: its own process (OpenCV opens a pipeline synchronously, so a server in the daemon's event loop could
// not answer). Prints its port, then "conn" for each connection; sends 5 frames per connection, then nothing.
const CAMERA = `
const net = require('node:net');
const frame = Buffer.alloc(${W * H * 3}, 128);
const server = net.createServer((sock) => { console.log('conn'); sock.on('error', () => {}); for (let i = 0; i < 5; i++) sock.write(frame); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

gstTest('a GStreamer read stuck for good: the watchdog stops being fed and the daemon stops, then ends itself for a restart', async (t) => {
  t.timeout(120_000);
  const camera = spawn(process.execPath, ['-e', CAMERA], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => kill(camera));
  let cameraOut = '';
  camera.stdout?.on('data', (d: Buffer) => (cameraOut += d.toString()));
  const port = await new Promise<number>((resolve) => camera.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().split('\n')[0]))));
  const connections = (): number => (cameraOut.match(/^conn$/gm) ?? []).length;

  const notify = await notifySocket(t);
  const pipeline = `gst:tcpclientsrc host=127.0.0.1 port=${port} ! rawvideoparse width=${W} height=${H} format=bgr framerate=10/1 ! videoconvert ! appsink`;
  const daemon = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'run',
      '--classifier-model',
      testModel() ?? '',
      '--log-pretty',
      'no',
      '--no-mqtt-enabled',
      '--source',
      pipeline,
      '--source-isolation',
      'none',
      '--source-stall-timeout-s',
      '1',
      '--source-reopen-min-s',
      '0.1',
    ],
    { env: { ...process.env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000', ORT_DISABLE_TELEMETRY: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  t.teardown(() => kill(daemon));
  let stderr = '';
  daemon.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    daemon.on('exit', (code, signal) => resolve({ code, signal }));
    // Long enough for many reopen cycles: a daemon that reopens for ever is still running then.
    setTimeout(() => resolve({ code: null, signal: 'still running after 60 s' }), 60_000).unref();
  });
  const context = `camera connections: ${connections()}\nnotify: ${JSON.stringify(notify.notes.slice(-6))}\nstderr: ${stderr.slice(-3000)}`;
  t.deepEqual(exit, { code: null, signal: 'SIGKILL' }, context);

  const pings = notify.notes.filter((n) => n.text === 'WATCHDOG=1');
  const stopping = notify.notes.find((n) => n.text.startsWith('STOPPING=1'));
  t.true(
    notify.notes.some((n) => n.text.startsWith('READY=1')),
    'frames came before the pipeline wedged',
  );
  t.true(pings.length >= 1, 'the watchdog was fed while frames flowed and the first stuck read was retried');
  t.truthy(stopping, context);
  t.false(
    pings.some((p) => p.at > (stopping?.at ?? Infinity)),
    'no ping after STOPPING',
  );
  const fatal = stderr.split('\n').filter((l) => l.includes('"level":60'));
  t.is(fatal.length, 1, context);
  t.regex(fatal[0] ?? '', /2 reads .*stuck/);
  t.regex(fatal[0] ?? '', /tcpclientsrc/, 'the fatal line names the source');
  t.is(connections(), 2, 'opened once, reopened once after the first stuck read, then given up');
  t.regex(stderr, /"stuck_reads":2,"exit_code":74,.*ending the process with SIGKILL/);
  t.regex(stderr, /"msg":"stopped"/, 'stopped cleanly before that');
});
