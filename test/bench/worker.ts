// One clip in its own process, so that its peak RSS is the daemon's and nothing else's: started by
// bench.ts with the request as argv[2] (JSON); answers with a ClipReport over the IPC channel.
import os from 'node:os';
import cv from '../../src/system/opencv.js';
import { CountingBroker } from './broker.js';
import { clipReport, type ClipReport } from './report.js';
import { runClip, type ClipRun } from './run-clip.js';
import { readLayout, scoreScene } from './scene.js';

export interface WorkerRequest {
  name: string;
  clip: string;
  model: string;
  threads: number;
  repeat: number;
  settings: Record<string, string>;
  mqtt: boolean;
  /** OpenCV's own worker threads (detectMultiScale is parallel); undefined = OpenCV's default. */
  cvThreads?: number;
  /** "realtime": at the clip's frame rate, as a camera delivers it; "none" (default): as fast as it goes. */
  pace?: 'none' | 'realtime';
}

export type WorkerReply = { ok: true; report: ClipReport; cvThreads: number } | { ok: false; error: string };

export async function benchClip(req: WorkerRequest): Promise<{ report: ClipReport; cvThreads: number }> {
  if (req.cvThreads !== undefined) cv.setNumThreads(req.cvThreads);
  const rssBaseBytes = process.memoryUsage.rss();
  const broker = req.mqtt ? new CountingBroker() : undefined;
  await broker?.start();
  const loadBefore = os.loadavg()[0] ?? 0;
  const runs: ClipRun[] = [];
  try {
    for (let i = 0; i < req.repeat; i++) {
      runs.push(await runClip({ clip: req.clip, model: req.model, threads: req.threads, settings: req.settings, mqttUrl: broker?.url, pace: req.pace }));
    }
  } finally {
    await broker?.stop();
  }
  const layout = readLayout(req.clip);
  const report = clipReport(runs, {
    scenes: layout ? runs.map((r) => scoreScene(r, layout)) : [],
    name: req.name,
    rssBaseBytes,
    loadBefore,
    loadAfter: os.loadavg()[0] ?? 0,
    mqtt: broker ? { messages: broker.messages, bytes: broker.bytes } : null,
    pace: req.pace,
  });
  return { report, cvThreads: cv.getNumThreads() };
}

async function main(): Promise<void> {
  const send = (reply: WorkerReply): Promise<void> => new Promise((resolve) => process.send?.(reply, () => resolve()) ?? resolve());
  try {
    const req = JSON.parse(process.argv[2] ?? '') as WorkerRequest;
    await send({ ok: true, ...(await benchClip(req)) });
  } catch (err) {
    await send({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.disconnect?.();
}

if (process.send) void main();
