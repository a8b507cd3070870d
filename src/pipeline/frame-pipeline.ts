// One frame through detect → track → classify → events. Owns nothing but the order of the stages and the hand-over
// of what they make to the sink (whose time is the frame's 'publish' stage); each stage owns its state. Every Mat
// made here is released before the next frame.
import cv from '../system/opencv.js';
import type { Frame } from '../capture/latest-frame-slot.js';
import type { FaceDetector } from '../detect/face-detector.js';
import type { FaceTracker } from '../track/face-tracker.js';
import type { FaceClassifier } from '../classify/face-classifier.js';
import type { EmotionGate } from '../events/emotion-gate.js';
import type { RoomWindow } from '../events/room-window.js';
import type { PipelineStats } from '../system/stats.js';
import type { EventSink, FaceState, LabelledFace, TrackedFace } from '../types.js';
import { cvCall } from '../errors.js';
import { FrameClock } from '../system/clock.js';

interface PipelineDeps {
  device: string;
  detector: FaceDetector;
  tracker: FaceTracker;
  classifier: FaceClassifier;
  gate: EmotionGate;
  room: RoomWindow;
  sink: EventSink;
  stats: PipelineStats;
  roomIntervalS: number;
  /** Frames per second taken while the room is idle (detector.idle_fps; 0 or absent = every frame). */
  idleFps?: number;
  /** Frame times and the wall time that stamps messages (default: the monotonic clock, stamps read when made). */
  clock?: FrameClock;
}

export class FramePipeline {
  private lastRoomMs: number | null = null;
  /** Timestamp of the last frame: the clock for events made between frames (shutdown, reset). */
  private lastFrameMs: number | null = null;
  /** Bumped whenever every track is ended, so that a frame awaiting the model can tell its tracks are gone. */
  private generation = 0;
  private readonly clock: FrameClock;
  /** The frame clock of the last frame wants() asked for. */
  private lastWantedMs: number | null = null;
  /** Time spent in the sink since the frame began: its 'publish' stage. */
  private publishMs = 0;

  constructor(private readonly deps: PipelineDeps) {
    this.clock = deps.clock ?? new FrameClock(false);
  }

  /** Process one frame and release it. Throws only for a bad frame; the caller counts and skips it. */
  async process(frame: Frame): Promise<void> {
    const { detector, tracker, classifier, gate, room, stats } = this.deps;
    const now = frame.info.timestampMs;
    this.lastFrameMs = now;
    stats.firstFrameMs ??= this.clock.wall(now);
    const t0 = performance.now();
    this.publishMs = 0;
    let gray: cv.Mat | undefined;
    try {
      stats.currentStage = 'detect';
      gray = toGray(frame.mat);
      if (frame.info.fresh) detector.searchWhole();
      const t1 = performance.now();
      const round = detector.detect(gray, tracker.tracks, now);
      stats.idle = this.idleRate(now);
      const t2 = performance.now();
      stats.currentStage = 'track';
      const update = tracker.update(round, now);
      for (const t of update.ended) this.end(t, now);
      const t3 = performance.now();
      // A reset or a pause while the model runs ends every track: what this frame computed for them is stale.
      const generation = this.generation;
      stats.currentStage = 'classify';
      const present = tracker.confirmedTracks;
      const classified = await classifier.classify(gray, present, now, round.movedIn);
      const current = generation === this.generation;
      const t4 = performance.now();
      const publishedBefore = this.publishMs;
      stats.currentStage = 'events';
      if (current) {
        stats.classified(classified.length, present.length);
        // Face-time up to this frame goes to the labels as they were, before this frame's steps change any.
        room.tick(tracker.tracks, now);
        for (const t of classified) {
          const e = gate.classified(t, now);
          if (e) this.publish((s) => s.event(e));
          const state = faceState(this.deps.device, t, now, this.clock.wall(now));
          this.publish((s) => s.face(state));
        }
        this.summarise(now);
      }
      stats.activeTracks = tracker.confirmedTracks.length;
      stats.time('detect', t2 - t1 + (t1 - t0));
      stats.time('track', t3 - t2);
      stats.time('classify', t4 - t3);
      stats.time('publish', this.publishMs);
      stats.time('events', Math.max(0, performance.now() - t4 - (this.publishMs - publishedBefore)));
    } finally {
      if (gray && gray !== frame.mat) gray.release();
      frame.mat.release();
    }
    stats.time('frame', performance.now() - t0);
    stats.processed();
  }

  /** Whether the frame due at `timestampMs` (frame clock) is to be decoded and processed; the capture loop asks once
   * per frame and drops the others undecoded. Every frame, except while the detector finds the room idle (detect/
   * face-detector.ts idle(): no face tracked or found, no motion, for 2 s): then idle_fps frames a second, and the first motion brings every
   * frame back. The rate counts from the last frame wanted, not the last processed: a camera's next frame is asked
   * for while the pipeline still works on the one before. */
  wants(timestampMs: number): boolean {
    const last = this.lastFrameMs;
    const want =
      last === null ||
      !this.idleRate(last) ||
      // A tenth of a period early counts: frames come with jitter.
      timestampMs - (this.lastWantedMs ?? -Infinity) >= (0.9 * 1000) / (this.deps.idleFps as number);
    if (want) this.lastWantedMs = timestampMs;
    return want;
  }

  /** Whether the idle rate is in effect after the frame at `frameMs`: detector.idle_fps is on and the detector
   * found the room idle. */
  private idleRate(frameMs: number): boolean {
    return Boolean(this.deps.idleFps) && this.deps.detector.idle(frameMs);
  }

  /** Every track (tentative and confirmed) as it stands after the last frame. */
  get tracks(): readonly TrackedFace[] {
    return this.deps.tracker.tracks;
  }

  /** The frame clock: the last frame's time (files run on media time), else now. */
  now(): number {
    return this.lastFrameMs ?? this.clock.now();
  }

  /** End every track (shutdown, pause or reset_tracks): face_gone for each confirmed face. A frame that is
   * in the model at that moment publishes nothing for them afterwards (see `generation`). */
  endAll(nowMs: number = this.now()): number {
    this.generation += 1;
    // Faces still there are found again by a search of the whole frame (behind the motion gate they may not move).
    this.deps.detector.searchWhole();
    const ended = this.deps.tracker.endAll();
    for (const t of ended) this.end(t, nowMs);
    this.deps.stats.activeTracks = 0;
    this.deps.stats.idle = false;
    return ended.length;
  }

  /** Emit the room summary now (shutdown). */
  flushRoom(nowMs: number = this.now()): void {
    const summary = this.deps.room.summary(this.deps.tracker.tracks, nowMs);
    this.publish((s) => s.room(summary));
    this.lastRoomMs = nowMs;
  }

  private end(t: LabelledFace, now: number): void {
    const events = this.deps.gate.ended(t, now);
    this.publish((s) => {
      for (const e of events) s.event(e);
      s.faceCleared(this.deps.device, t.id);
    });
  }

  /** The room summary when its window is over, or at once when the room has a mood its last summary had not. */
  private summarise(now: number): void {
    const { room, tracker, roomIntervalS } = this.deps;
    this.lastRoomMs ??= now;
    if (now - this.lastRoomMs >= roomIntervalS * 1000 || room.moodArrived(tracker.tracks)) this.flushRoom(now);
  }

  /** Hands something to the sink, its time counted as the frame's 'publish' stage. */
  private publish(fn: (sink: EventSink) => void): void {
    const t0 = performance.now();
    fn(this.deps.sink);
    this.publishMs += performance.now() - t0;
  }
}

function toGray(mat: cv.Mat): cv.Mat {
  if (mat.channels === 1) return mat;
  if (mat.channels === 4) return cvCall('convert BGRA frame to gray', () => mat.cvtColor(cv.COLOR_BGRA2GRAY));
  return cvCall('convert BGR frame to gray', () => mat.bgrToGray());
}

/** The state of one face at frame time `now`, stamped `wallMs` (default: `now` is on the wall scale). */
function faceState(device: string, t: TrackedFace, now: number, wallMs = now): FaceState {
  const b = t.geometry.box;
  const scores = t.model.scores;
  return {
    device,
    track: t.id,
    time: new Date(wallMs).toISOString(),
    emotion: t.label.committed ?? null,
    scores: scores ? (Object.fromEntries(Object.entries(scores).map(([k, v]) => [k, Math.round(v * 1000) / 1000])) as FaceState['scores']) : null,
    box: { x: Math.round(b.x), y: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) },
    age_s: Math.round((now - t.geometry.firstSeenMs) / 100) / 10,
  };
}
