// One run of one clip in its own process, so that its peak RSS is the daemon's and nothing else's (a second
// daemon in the same process starts from what the first left: 209, 222 and 235 MB on the 1080p classroom):
// started by bench.ts with the request as argv[2] (JSON); answers with the run's data over the IPC channel.
import os from 'node:os';
import cv from '../../src/system/opencv.js';
import { CountingBroker } from './broker.js';
import { runClip, runRecord, type RunRecord } from './run-clip.js';

export interface WorkerRequest {
  name: string;
  clip: string;
  model: string;
  threads: number;
  settings: Record<string, string>;
  mqtt: boolean;
  /** OpenCV's own worker threads (detectMultiScale is parallel); undefined = OpenCV's default. */
  cvThreads?: number;
  /** "realtime": at the clip's frame rate, as a camera delivers it; "none" (default): as fast as it goes. */
  pace?: 'none' | 'realtime';
}

/** One run and what surrounded it. */
export interface WorkerRun {
  run: RunRecord;
  /** RSS once OpenCV, ONNX Runtime and the daemon's modules were loaded, before the run. */
  rssBaseBytes: number;
  loadBefore: number;
  loadAfter: number;
  mqtt: { messages: number; bytes: number } | null;
  cvThreads: number;
}

export type WorkerReply = ({ ok: true } & WorkerRun) | { ok: false; error: string };

export async function benchRun(req: WorkerRequest): Promise<WorkerRun> {
  if (req.cvThreads !== undefined) cv.setNumThreads(req.cvThreads);
  const rssBaseBytes = process.memoryUsage.rss();
  const broker = req.mqtt ? new CountingBroker() : undefined;
  await broker?.start();
  const loadBefore = os.loadavg()[0] ?? 0;
  try {
    const run = await runClip({ clip: req.clip, model: req.model, threads: req.threads, settings: req.settings, mqttUrl: broker?.url, pace: req.pace });
    return {
      run: runRecord(run),
      rssBaseBytes,
      loadBefore,
      loadAfter: os.loadavg()[0] ?? 0,
      mqtt: broker ? { messages: broker.messages, bytes: broker.bytes } : null,
      cvThreads: cv.getNumThreads(),
    };
  } finally {
    await broker?.stop();
  }
}

async function main(): Promise<void> {
  const send = (reply: WorkerReply): Promise<void> => new Promise((resolve) => process.send?.(reply, () => resolve()) ?? resolve());
  try {
    const req = JSON.parse(process.argv[2] ?? '') as WorkerRequest;
    await send({ ok: true, ...(await benchRun(req)) });
  } catch (err) {
    await send({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.disconnect?.();
}

if (process.send) void main();
