// A read that never returns (a wedged GStreamer pipeline) cannot be cancelled: it is abandoned after
// source.stall_timeout_s and holds its thread. Reopening then must not count as progress for ever: after
// source.max_stuck_reads such reads, or source.give_up_s without a frame, the capture loop gives up, the
// watchdog check fails and the daemon is told to exit for a restart. The real case (a GStreamer pipeline on a
// silent socket, run as systemd runs the daemon) is in watchdog-stuck-source.test.ts.
import cv from '../src/system/opencv.js';
import type { FrameSource } from '../src/capture/opencv-source.js';
import { makeDaemon, until } from './helpers/daemon-harness.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { testUnless } from './helpers/skip.js';

const modelTest = testUnless(missingModel());
const WINDOW_MS = 15_000;

/** A source that delivers `frames` frames, then blocks in read for good (until `unblock`). */
function wedgingSource(frames: number): { open: () => FrameSource; opens: () => number; unblock: () => void } {
  let opens = 0;
  const blocked: Array<() => void> = [];
  const open = (): FrameSource => {
    opens += 1;
    let n = 0;
    return {
      kind: 'gstreamer',
      props: { width: 160, height: 120, fps: 15 },
      read: async () => {
        if (n++ < frames) return new cv.Mat(120, 160, cv.CV_8UC3, [90, 120, 150]);
        return new Promise<cv.Mat | null>((resolve) => blocked.push(() => resolve(null)));
      },
      rewind: () => false,
      close: () => undefined,
    };
  };
  return { open, opens: () => opens, unblock: () => blocked.splice(0).forEach((r) => r()) };
}

modelTest('reads that never return: after max_stuck_reads the loop gives up and the watchdog check fails', async (t) => {
  const source = wedgingSource(3);
  const { daemon, sink } = makeDaemon(
    {
      'classifier.model': testModel() ?? '',
      'source.uri': 'gst:wedged ! appsink',
      'source.stall_timeout_s': '0.5',
      'source.reopen_min_s': '0.05',
      'source.reopen_max_s': '0.1',
    }, // max_stuck_reads: the default, 2
    { openSource: source.open },
  );
  t.teardown(async () => {
    source.unblock();
    await daemon.stop();
  });
  await daemon.start();
  await until(() => daemon.stats.framesProcessed >= 3, 10_000, 'the first frames');
  await until(() => !daemon.stats.alive(performance.now(), WINDOW_MS), 20_000, 'the watchdog check to fail');
  const why = await daemon.sourceFailed;
  t.regex(why, /2 reads .*stuck/);
  t.is(source.opens(), 2, 'opened, reopened once, then no more');
  t.is(sink.cameras.at(-1)?.state, 'offline');
  t.regex(sink.cameras.at(-1)?.error ?? '', /stuck/);
  t.false(daemon.stats.alive(performance.now(), WINDOW_MS), 'stays failed');
});

modelTest('a source that never delivers is retried until source.give_up_s, then given up', async (t) => {
  const { daemon, sink } = makeDaemon({
    'classifier.model': testModel() ?? '',
    'source.uri': '/nonexistent/clip.avi',
    'source.reopen_min_s': '0.05',
    'source.reopen_max_s': '0.2',
    'source.give_up_s': '1',
  });
  t.teardown(() => daemon.stop());
  await daemon.start();
  await until(() => daemon.stats.sourceReopens >= 2, 10_000, 'reopen attempts');
  await until(() => !daemon.stats.alive(performance.now(), WINDOW_MS), 20_000, 'the watchdog check to fail');
  t.regex(await daemon.sourceFailed, /no frame for 1 s/);
  t.true(sink.cameras.every((c) => c.state === 'offline'));
});
