// Runs the real Daemon in-process with a collecting sink: for integration tests.
import { Daemon, type DaemonDeps } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/system/logger.js';
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../../src/types.js';

export class CollectingSink implements EventSink {
  events: EmotionEvent[] = [];
  rooms: RoomSummary[] = [];
  faces: FaceState[] = [];
  cleared: number[] = [];
  cameras: CameraState[] = [];
  event(e: EmotionEvent): void {
    this.events.push(e);
  }
  room(s: RoomSummary): void {
    this.rooms.push(s);
  }
  face(f: FaceState): void {
    this.faces.push(f);
  }
  faceCleared(_d: string, track: number): void {
    this.cleared.push(track);
  }
  camera(c: CameraState): void {
    this.cameras.push(c);
  }
}

export function makeDaemon(flags: Record<string, string | boolean>, extra: Partial<DaemonDeps> = {}): { daemon: Daemon; sink: CollectingSink } {
  const loaded = loadConfig({ env: {}, flags: { 'mqtt.enabled': false, 'log.level': 'error', 'log.pretty': 'no', ...flags } });
  const sink = new CollectingSink();
  const logger = createLogger({ level: loaded.config.log.level, pretty: 'no' });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted, sinks: [sink], ...extra });
  return { daemon, sink };
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
