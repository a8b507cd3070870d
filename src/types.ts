// Result and event types shared by every stage, and the shapes of the daemon's parts. Payloads published on MQTT
// are built from these.
import type cv from './system/opencv.js';

/** The six classes, in the model's output order (the model's metadata is checked against this). */
export const EMOTIONS = ['Angry', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise'] as const;
export type Emotion = (typeof EMOTIONS)[number];

/** Probability per emotion; sums to ~1. */
export type EmotionScores = Record<Emotion, number>;

/** Axis-aligned box in frame pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The motion gate's answer for one frame: whether the picture moved in a box (frame pixels); null without the gate. */
export type MovedIn = ((box: Box) => boolean) | null;

export interface Detection {
  box: Box;
  /** Number of cascade neighbours that voted for the box (higher is more certain); 0 when unknown. */
  score: number;
}

/** LSTM state carried by one tracked face between frames. */
export interface RecurrentState {
  h: Float32Array;
  c: Float32Array;
}

interface TrackMotion {
  vx: number;
  vy: number;
  cx: number;
  cy: number;
  measuredMs: number;
  movedMs: number;
}

interface StepSchedule {
  /** Frame time at which the next step is due. */
  nextMs: number;
  count: number;
  firstMs: number;
  lastMs: number;
  /** Motion gate: the picture moved in the face's box since its last step. */
  moved: boolean;
  /** Steps in a row that found the face still (no motion since the step before) and its output steady. */
  quiet: number;
}

/** The tracker's part of a face: where it is and how sure the tracker is that it is one. Only the tracker writes it. */
interface FaceGeometry {
  box: Box;
  /** 'tentative' until it has been detected `confirmHits` times; only confirmed faces are classified. */
  status: 'tentative' | 'confirmed';
  hits: number;
  /** Cascade votes of the last detections (for the confirmation gate). */
  votes: readonly number[];
  /** Frames since the last matching detection. */
  misses: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** The tracker's motion estimate: centre velocity (px/ms), the last measured centre, and the time the box
   * was last moved to (boxes are predicted between re-detections). */
  motion?: TrackMotion;
}

/** The classifier's part: the face's LSTM memory, its step schedule and the last probabilities. Only the
 * classifier writes it. */
interface FaceModelState {
  /** Per-face LSTM memory; undefined until the face is first classified. */
  state?: RecurrentState;
  /** The classifier's schedule: when the face is next due for an LSTM step, and its steps so far. */
  steps?: StepSchedule;
  /** Latest model output for this face. */
  scores?: EmotionScores;
}

/** The detector's part (detect/schedule.ts): when the face is next due for a probe, and what the motion gate knows
 * of it. Only the detector writes it. */
export interface FaceProbe {
  /** Frame-clock time the face is next due for a probe at detector.track_hz. */
  nextMs?: number;
  /** Motion gate: when its last probe ran, whether its window moved since, and whether this frame's probe of it is
   * one of a still face (found by its last probe, no motion since: searched in its own box). */
  lastMs?: number;
  moved?: boolean;
  still?: boolean;
  /** This frame's probe is one of a new (tentative) track that does not move fast: found on one of the last
   * frames, its face is near its box, and a narrower window holds it. */
  fresh?: boolean;
}

/** The event gate's part (events/hysteresis.ts): the committed label and its timers. Only events/ writes it. */
interface FaceLabel {
  /** Emotion after hysteresis; what events report. */
  committed?: Emotion;
  /** Model steps seen before the first commit (events.first_label_steps). */
  steps?: number;
  /** face_appeared was published for this face. */
  announced?: boolean;
  /** Candidate label that is leading but not yet committed, and since when. */
  pending?: { emotion: Emotion; sinceMs: number };
  /** Milliseconds spent in each committed emotion (for the 'gone' summary). */
  timeIn: EmotionScores;
  /** Timestamp of the last update to `timeIn`. */
  accountedMs?: number;
}

/**
 * A face followed across frames, as every stage reads it: one part per stage that writes it, each read-only
 * here. The writers get their own part writable: TrackerFace, ClassifiedFace, LabelledFace, the detector's ProbeTarget.
 */
export interface TrackedFace {
  readonly id: number;
  readonly geometry: Readonly<FaceGeometry>;
  readonly probe: Readonly<FaceProbe>;
  readonly model: Readonly<FaceModelState>;
  readonly label: Readonly<FaceLabel>;
}

/** A face as the tracker updates it. */
export interface TrackerFace extends TrackedFace {
  readonly geometry: FaceGeometry;
}

/** A face as the classifier steps it. */
export interface ClassifiedFace extends TrackedFace {
  readonly model: FaceModelState;
}

/** A face as the event gate labels it. */
export interface LabelledFace extends TrackedFace {
  readonly label: FaceLabel;
}

/** A face as the tracker makes it and the pipeline carries it, handing each stage its own view. */
export interface Face {
  readonly id: number;
  readonly geometry: FaceGeometry;
  readonly probe: FaceProbe;
  readonly model: FaceModelState;
  readonly label: FaceLabel;
}

/** What the detector reports for stats: the sweep for new faces and what it looks for. */
export interface DetectStats {
  /** Frame-clock seconds between the last two completed sweeps: how long a new face may wait to be found. */
  sweep_s: number | null;
  sweep_frames: number | null;
  /** Smallest face searched for, in frame pixels. */
  min_face_px: number;
  budget_ms: number;
  /** Share of the frame the sweep for new faces searched per frame (cascade windows, as a share of a search of
   * the whole frame), over the last 256 frames. */
  searched: number;
}

/** Per-face LSTM step rates, over the faces present that were stepped at least twice. */
export interface ClassifyStats {
  min_hz: number | null;
  median_hz: number | null;
  faces: number;
}

export interface FrameInfo {
  /** Monotonic frame counter from the source. */
  seq: number;
  /** Frame-clock capture time (monotonic ms for cameras and streams, media time for files: system/clock.ts). */
  timestampMs: number;
  /** The first frame since the source was opened (or reopened): the detector searches it whole. */
  fresh?: boolean;
}

interface EventBase {
  /** Stable, unique id: `<device>-<boot>-<counter>`. */
  id: string;
  device: string;
  track: number;
  /** ISO-8601 time of the frame that caused the event. */
  time: string;
  box: Box;
}

interface FaceAppearedEvent extends EventBase {
  type: 'face_appeared';
  emotion: Emotion | null;
  scores: EmotionScores | null;
}

interface EmotionChangedEvent extends EventBase {
  type: 'emotion_changed';
  before: Emotion | null;
  after: Emotion;
  scores: EmotionScores;
}

interface FaceGoneEvent extends EventBase {
  type: 'face_gone';
  /** Seconds between the first detection and the last one. */
  duration_s: number;
  dominant: Emotion | null;
  /** Share of the confirmed time spent in each committed emotion (0..1). */
  shares: EmotionScores;
}

export type EmotionEvent = FaceAppearedEvent | EmotionChangedEvent | FaceGoneEvent;

/** Anonymous summary of the room over a window. */
export interface RoomSummary {
  device: string;
  time: string;
  window_s: number;
  /** Faces present at the end of the window; null while withheld with 1 to min_faces - 1 present (a count that
   * small, with the shares before and after, would tell one person's mood). */
  faces: number | null;
  /** Share of face-time in each emotion over the window (0..1; all 0 when nobody was seen or when withheld). */
  shares: EmotionScores;
  dominant: Emotion | null;
  /** True when too few faces were present to publish the room's mood (privacy.min_faces): shares all 0,
   * dominant null. */
  withheld: boolean;
  /** privacy.min_faces: the least faces present at once whose time counts. */
  min_faces: number;
}

/** Current state of one confirmed face (published at a bounded rate on `faces/<track>`). */
export interface FaceState {
  device: string;
  track: number;
  time: string;
  emotion: Emotion | null;
  scores: EmotionScores | null;
  box: Box;
  /** Seconds since the face was first seen. */
  age_s: number;
}

/** State of the frame source. */
export interface CameraState {
  device: string;
  time: string;
  state: 'online' | 'offline';
  /** The source as configured, with any URL credentials removed. */
  source: string;
  width: number | null;
  height: number | null;
  fps: number | null;
  error: string | null;
  /** privacy.notice: that emotion recognition is in use here; null when none is configured. */
  notice: string | null;
}

/** Where events and summaries go: MQTT, stdout, or both. Calls never throw and never block the pipeline. */
export interface EventSink {
  event(e: EmotionEvent): void;
  room(s: RoomSummary): void;
  /** Latest state of one face; sinks rate-limit it themselves. */
  face(f: FaceState): void;
  /** The face is gone: clear its state. */
  faceCleared(device: string, track: number): void;
  camera(c: CameraState): void;
}

/** A part with a life of its own (embedded broker, MQTT publisher, HTTP server, preview server): the composition
 * root (app/daemon.ts) starts the parts in order before the camera and stops them in reverse after it. */
export interface Part {
  readonly name: string;
  /** Resolves once the part works. `signal` aborts a start still under way (the daemon is stopped meanwhile): the
   * start then ends at its next step, and stop() undoes what it did. */
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** A part that also receives events. */
export interface SinkPart extends Part {
  readonly sink: EventSink;
  /** True once the part can deliver (MQTT connected); READY waits for it up to system.ready_timeout_s. */
  isReady?(): boolean;
}

/** Gets a copy of a frame after it was processed, with the tracks as they stand after it (`emotiond preview`). */
export interface FrameTap {
  /** Asked before each frame: whether a copy is wanted (a copy costs a frame's memory and time). */
  wants(nowMs: number): boolean;
  /** The copy, which the tap owns and must release. */
  frame(mat: cv.Mat, tracks: readonly TrackedFace[]): void;
}

/** What the MQTT command handler may ask of the running daemon. */
export interface DaemonControl {
  setPaused(paused: boolean): void;
  isPaused(): boolean;
  /** End every track now (their face_gone events are emitted). Returns how many were ended. */
  resetTracks(): number;
  /** Health snapshot (stats, uptime, version, ...), also published on `stats`. */
  health(): Record<string, unknown>;
  /** The running configuration with secrets redacted. */
  config(): Record<string, unknown>;
}

export function zeroScores(): EmotionScores {
  return { Angry: 0, Fear: 0, Happy: 0, Neutral: 0, Sad: 0, Surprise: 0 };
}

export function argmax(scores: EmotionScores): Emotion {
  let best: Emotion = EMOTIONS[0];
  for (const e of EMOTIONS) if (scores[e] > scores[best]) best = e;
  return best;
}
