// What the dashboard and /metrics know of the room, kept from the events the daemon fans out. It is an
// EventSink like MQTT's, so it sees only what the daemon lets leave the pipeline (privacy.per_face=false
// sends it no faces): then the mood, the faces present and the timeline come from the room summaries.
import { EMOTIONS, zeroScores, type Box, type CameraState, type Emotion, type EmotionEvent, type EmotionScores, type EventSink, type FaceState, type RoomSummary } from '../types.js';
import { systemClock, type Clock } from '../system/clock.js';

/** A face not updated for this long is dropped from the live view (a pause, a missed face_gone). */
const FACE_STALE_MS = 5000;
/** The timeline: one point per bucket, over the last minutes. */
export const TIMELINE_BUCKET_MS = 5000;
export const TIMELINE_SPAN_MS = 5 * 60 * 1000;
/** The mood falls back to the last room summary for at most this long after it. */
const ROOM_FRESH_MS = 60_000;

export interface LiveFace {
  track: number;
  emotion: Emotion | null;
  box: Box;
}

export interface TimelinePoint {
  /** ISO-8601 start of the bucket (or the time of a room summary). */
  time: string;
  faces: number;
  shares: EmotionScores;
}

export interface MoodNow {
  mood: Emotion | null;
  /** Where the mood came from: the faces present, the last room summary, or nothing yet. */
  source: 'faces' | 'room' | 'none';
  /** The last room summary was withheld (privacy.min_faces) and no faces are shown. */
  withheld: boolean;
  /** null: withheld with the summary (privacy.min_faces). */
  faces: number | null;
}

interface Tracked extends LiveFace {
  scores: EmotionScores | null;
  /** Monotonic time of the last update. */
  seenMs: number;
  /** The face's age_s at the last update (the frame clock: files on media time), for emotion seconds. */
  ageS: number;
}

export class LiveState implements EventSink {
  private readonly faces = new Map<number, Tracked>();
  private cameraState: CameraState | null = null;
  /** The last room summary and when it came (monotonic). */
  private lastRoom: { summary: RoomSummary; atMs: number } | null = null;
  /** Per-face data has arrived at least once (false with privacy.per_face=false). */
  private perFace = false;
  /** Face-seconds per committed emotion since start (emotiond_emotion_seconds_total). */
  readonly emotionSeconds: EmotionScores = zeroScores();
  private readonly timeline: TimelinePoint[] = [];
  /** When each timeline point was added (monotonic): points older than the span leave, whatever their wall time. */
  private readonly timelineAddedMs: number[] = [];
  private bucket: { startMs: number; samples: number; faceSamples: number; counts: EmotionScores } | null = null;
  /** points() as JSON, made again only after the timeline changed (it changes once a second; messages go out
   * up to four times a second, and the timeline is most of each). */
  private timelineCache: string | null = null;
  /** When a face first got an emotion (wall ms): the page's first mood is measured from it. */
  firstClassifiedMs: number | null = null;
  /** Called after every change the page shows. */
  onChange?: () => void;

  /** Expiry and freshness run on the clock's monotonic time; timeline buckets are wall-clock times. */
  constructor(private readonly clock: Clock = systemClock) {}

  private now(): number {
    return this.clock.mono();
  }

  event(e: EmotionEvent): void {
    if (e.type === 'face_gone') this.drop(e.track);
  }

  room(r: RoomSummary): void {
    this.lastRoom = { summary: r, atMs: this.now() };
    // Without faces, the room summaries are the timeline; with faces, it is sampled from them (finer).
    if (!this.perFace && !r.withheld && r.faces !== null && r.faces > 0) this.push({ time: r.time, faces: r.faces, shares: { ...r.shares } });
    // Without faces, face-seconds are estimated from the summary: its shares of the window times the faces at its
    // end (a withheld summary has no shares).
    if (!this.perFace) for (const e of EMOTIONS) this.emotionSeconds[e] += r.shares[e] * r.window_s * (r.faces ?? 0);
    this.onChange?.();
  }

  face(f: FaceState): void {
    const nowMs = this.now();
    this.perFace = true;
    const before = this.faces.get(f.track);
    // The face's age, not its time stamps: a step of the wall clock between two states adds nothing.
    if (before?.emotion && f.age_s > before.ageS) this.emotionSeconds[before.emotion] += f.age_s - before.ageS;
    this.faces.set(f.track, { track: f.track, emotion: f.emotion, scores: f.scores, box: { ...f.box }, seenMs: nowMs, ageS: f.age_s });
    if (this.firstClassifiedMs === null && (f.emotion !== null || f.scores !== null)) this.firstClassifiedMs = this.clock.wall();
    this.onChange?.();
  }

  faceCleared(_device: string, track: number): void {
    this.drop(track);
  }

  camera(c: CameraState): void {
    this.cameraState = c;
    this.onChange?.();
  }

  /** The last camera state (null until the source was first opened or failed). */
  lastCamera(): CameraState | null {
    return this.cameraState;
  }

  /** The faces present now (none when per-face data does not reach this sink). */
  liveFaces(): LiveFace[] {
    this.expire();
    return [...this.faces.values()].map((f) => ({ track: f.track, emotion: f.emotion ?? (f.scores ? top(f.scores) : null), box: f.box }));
  }

  /** The room's mood now: the most common emotion of the faces present (ties: the higher summed score), else
   * the last room summary's dominant emotion while it is fresh. */
  mood(): MoodNow {
    const faces = this.liveFaces();
    if (faces.length > 0) {
      const counts = zeroScores();
      const scores = zeroScores();
      for (const f of this.faces.values()) {
        const e = f.emotion ?? (f.scores ? top(f.scores) : null);
        if (e) counts[e] += 1;
        if (f.scores) for (const k of EMOTIONS) scores[k] += f.scores[k];
      }
      let best: Emotion | null = null;
      for (const e of EMOTIONS) if (counts[e] > 0 && (best === null || counts[e] > counts[best] || (counts[e] === counts[best] && scores[e] > scores[best]))) best = e;
      return { mood: best, source: best ? 'faces' : 'none', withheld: false, faces: faces.length };
    }
    const room = this.lastRoom;
    if (room && !this.perFace && this.now() - room.atMs <= ROOM_FRESH_MS) {
      return { mood: room.summary.withheld ? null : room.summary.dominant, source: 'room', withheld: room.summary.withheld, faces: room.summary.faces };
    }
    return { mood: null, source: 'none', withheld: false, faces: 0 };
  }

  /** Takes one sample of the faces present into the current bucket (called once a second). */
  sample(): void {
    if (!this.perFace) return;
    const startMs = Math.floor(this.clock.wall() / TIMELINE_BUCKET_MS) * TIMELINE_BUCKET_MS;
    if (this.bucket && this.bucket.startMs !== startMs) this.closeBucket();
    this.bucket ??= { startMs, samples: 0, faceSamples: 0, counts: zeroScores() };
    const b = this.bucket;
    this.timelineCache = null;
    b.samples += 1;
    for (const f of this.liveFaces()) {
      b.faceSamples += 1;
      if (f.emotion) b.counts[f.emotion] += 1;
    }
  }

  /** points() as JSON. */
  timelineJson(): string {
    this.timelineCache ??= JSON.stringify(this.points());
    return this.timelineCache;
  }

  /** The timeline over the last minutes, the bucket in progress last. */
  points(): TimelinePoint[] {
    const out = this.timeline.slice();
    if (this.bucket) out.push(bucketPoint(this.bucket));
    return out;
  }

  private closeBucket(): void {
    if (this.bucket) this.push(bucketPoint(this.bucket));
    this.bucket = null;
  }

  private push(p: TimelinePoint): void {
    this.timelineCache = null;
    this.timeline.push(p);
    this.timelineAddedMs.push(this.now());
    const oldest = this.now() - TIMELINE_SPAN_MS;
    while (this.timeline.length > 0 && (this.timelineAddedMs[0] ?? 0) < oldest) {
      this.timeline.shift();
      this.timelineAddedMs.shift();
    }
  }

  private drop(track: number): void {
    if (this.faces.delete(track)) this.onChange?.();
  }

  private expire(): void {
    const oldest = this.now() - FACE_STALE_MS;
    for (const [id, f] of this.faces) if (f.seenMs < oldest) this.faces.delete(id);
  }
}

function top(scores: EmotionScores): Emotion {
  let best: Emotion = EMOTIONS[0];
  for (const e of EMOTIONS) if (scores[e] > scores[best]) best = e;
  return best;
}

function bucketPoint(b: { startMs: number; samples: number; faceSamples: number; counts: EmotionScores }): TimelinePoint {
  const shares = zeroScores();
  const labelled = EMOTIONS.reduce((n, e) => n + b.counts[e], 0);
  if (labelled > 0) for (const e of EMOTIONS) shares[e] = Math.round((b.counts[e] / labelled) * 1000) / 1000;
  return { time: new Date(b.startMs).toISOString(), faces: b.samples > 0 ? Math.round((b.faceSamples / b.samples) * 10) / 10 : 0, shares };
}
