// The two JSON bodies the HTTP server makes: the dashboard's live message (SSE, schema
// dashboard.schema.json) and GET /healthz (healthz.schema.json).
import type { Emotion } from '../types.js';
import type { PipelineStats, Stage } from '../system/stats.js';
import { monotonicMs } from '../system/clock.js';
import type { MqttHealth } from '../contract/payloads.js';
import { shownFaceCount } from '../events/privacy-filter.js';
import type { LiveFace, LiveState, TimelinePoint } from './live-state.js';

/** What the HTTP server reads from the running daemon. */
export interface DaemonView {
  readonly stats: PipelineStats;
  readonly version: string;
  isPaused(): boolean;
}

export interface StatusSources {
  daemon: DaemonView;
  live: LiveState;
  /** The MQTT publisher's health; null when MQTT is off. */
  mqtt: (() => MqttHealth) | null;
  device: string;
  /** privacy.notice ('' = none). */
  notice: string;
  /** privacy.min_faces: a count of 1 to min_faces - 1 faces is not shown (default 1). */
  minFaces?: number;
}

interface DashboardMessage {
  device: string;
  time: string;
  notice: string | null;
  /** The room's mood: the last room summary's dominant emotion, as on MQTT's room topic. */
  mood: Emotion | null;
  mood_source: 'room' | 'none';
  withheld: boolean;
  /** Confirmed faces present now (as /metrics' emotiond_faces); null while 1 to privacy.min_faces - 1 are. */
  faces_present: number | null;
  faces: LiveFace[];
  frame: { width: number; height: number } | null;
  status: {
    camera: 'online' | 'offline' | 'unknown';
    camera_error: string | null;
    mqtt: 'connected' | 'disconnected' | 'off';
    mqtt_queue: number | null;
    fps: number;
    /** The room is idle: detector.idle_fps frames a second are taken (PipelineStats.idle). */
    idle: boolean;
    paused: boolean;
  };
  timeline: TimelinePoint[];
}

/** The message as JSON, with the timeline's JSON as the live state keeps it (the costly part, made once a second). */
export function dashboardJson(src: StatusSources, nowMs = Date.now()): string {
  return `${JSON.stringify(dashboardHead(src, nowMs)).slice(0, -1)},"timeline":${src.live.timelineJson()}}`;
}

/** `nowMs` is the wall time the message is stamped with; rates are on the monotonic clock. */
function dashboardHead(src: StatusSources, nowMs: number): Omit<DashboardMessage, 'timeline'> {
  const { live, daemon } = src;
  const mood = live.mood();
  const cam = live.lastCamera();
  const mqtt = src.mqtt?.() ?? null;
  return {
    device: src.device,
    time: new Date(nowMs).toISOString(),
    notice: src.notice === '' ? null : src.notice,
    mood: mood.mood,
    mood_source: mood.source,
    withheld: mood.withheld,
    faces_present: shownFaceCount(daemon.stats.activeTracks, src.minFaces ?? 1),
    faces: live.liveFaces(),
    frame: cam?.width && cam.height ? { width: cam.width, height: cam.height } : null,
    status: {
      camera: cam?.state ?? 'unknown',
      camera_error: cam?.error ?? null,
      mqtt: mqtt === null ? 'off' : mqtt.connected ? 'connected' : 'disconnected',
      mqtt_queue: mqtt?.queue_length ?? null,
      fps: Math.round(daemon.stats.fps() * 10) / 10,
      idle: daemon.stats.idle,
      paused: daemon.isPaused(),
    },
  };
}

interface Healthz {
  status: 'ok' | 'starting' | 'degraded' | 'failing';
  live: boolean;
  ready: boolean;
  device: string;
  version: string;
  time: string;
  uptime_s: number;
  paused: boolean;
  camera: 'online' | 'offline' | 'unknown';
  mqtt: 'connected' | 'disconnected' | 'off';
  frames_processed: number;
  last_frame_age_s: number | null;
  fps: number;
  /** The room is idle: detector.idle_fps frames a second are taken (PipelineStats.idle). */
  idle: boolean;
  /** Stages that have work and made no progress for 15 s (PipelineStats.stalled); empty while live. */
  stalled: Stage[];
}

/**
 * Live: every stage makes progress (PipelineStats.stalled: frames come from the source or it is being opened or
 * reopened, frames read are processed, faces present are classified), or the daemon is paused, or it has not had
 * its first frame yet; never once the source was given up. Ready: frames flow from an online camera and MQTT
 * (when on) is connected. `nowMs` (wall) stamps the answer; `monoMs` is what progress is measured on.
 */
export function healthz(src: StatusSources, nowMs = Date.now(), monoMs = monotonicMs()): Healthz {
  const { stats } = src.daemon;
  const paused = src.daemon.isPaused();
  const cam = src.live.lastCamera()?.state ?? 'unknown';
  const mqtt = src.mqtt?.() ?? null;
  const mqttState = mqtt === null ? 'off' : mqtt.connected ? 'connected' : 'disconnected';
  const stalled = paused ? [] : stats.stalled(monoMs);
  const live = paused || (!stats.sourceFailed && (stats.framesProcessed === 0 || stalled.length === 0));
  const ready = live && cam === 'online' && stats.framesProcessed > 0 && mqttState !== 'disconnected';
  return {
    status: !live ? 'failing' : ready ? 'ok' : stats.framesProcessed === 0 ? 'starting' : 'degraded',
    live,
    ready,
    device: src.device,
    version: src.daemon.version,
    time: new Date(nowMs).toISOString(),
    uptime_s: Math.round(process.uptime()),
    paused,
    camera: cam,
    mqtt: mqttState,
    frames_processed: stats.framesProcessed,
    last_frame_age_s: Number.isFinite(stats.lastProgressMs) ? Math.round((monoMs - stats.lastProgressMs) / 100) / 10 : null,
    fps: Math.round(stats.fps(monoMs) * 10) / 10,
    idle: stats.idle,
    stalled: live ? [] : stalled,
  };
}
