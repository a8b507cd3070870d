// What the dashboard knows of the room, kept from the events the daemon fans out. It is an EventSink like MQTT's,
// so it sees only what the daemon lets leave the pipeline (privacy.per_face=false sends it no faces). The mood and
// the timeline are the room summaries' (events/room-window.ts), as on MQTT and in Home Assistant; the faces are
// shown with the labels the event gate committed, never the model's raw leader.
import type { Box, CameraState, Emotion, EmotionEvent, EmotionScores, EventSink, FaceState, RoomSummary } from '../types.js';
import { systemClock, type Clock } from '../system/clock.js';

/** A face not updated for this long is dropped from the live view (a pause, a missed face_gone). */
const FACE_STALE_MS = 5000;
/** The timeline: the room summaries of the last minutes. */
export const TIMELINE_SPAN_MS = 5 * 60 * 1000;

export interface LiveFace {
  track: number;
  /** The committed label; null until the gate commits the first (events.first_label_steps). */
  emotion: Emotion | null;
  box: Box;
}

export interface TimelinePoint {
  /** ISO-8601 time of the room summary. */
  time: string;
  faces: number;
  shares: EmotionScores;
}

interface MoodNow {
  /** The last room summary's dominant emotion. */
  mood: Emotion | null;
  /** 'room' once a room summary came, else 'none'. */
  source: 'room' | 'none';
  /** The last room summary was withheld (privacy.min_faces). */
  withheld: boolean;
}

interface Tracked extends LiveFace {
  /** Monotonic time of the last update. */
  seenMs: number;
}

export class LiveState implements EventSink {
  private readonly faces = new Map<number, Tracked>();
  private cameraState: CameraState | null = null;
  private lastRoom: RoomSummary | null = null;
  private readonly timeline: TimelinePoint[] = [];
  /** When each timeline point was added (monotonic): points older than the span leave, whatever their wall time. */
  private readonly timelineAddedMs: number[] = [];
  /** points() as JSON, made again only after the timeline changed (messages go out up to four times a second,
   * and the timeline is most of each). */
  private timelineCache: string | null = null;
  /** When a face was first classified (wall ms): the page's first mood is measured from it. */
  firstClassifiedMs: number | null = null;
  /** Called after every change the page shows. */
  onChange?: () => void;

  /** Expiry and the timeline's span run on the clock's monotonic time. */
  constructor(private readonly clock: Clock = systemClock) {}

  private now(): number {
    return this.clock.mono();
  }

  event(e: EmotionEvent): void {
    if (e.type === 'face_gone') this.drop(e.track);
  }

  room(r: RoomSummary): void {
    this.lastRoom = r;
    if (r.dominant !== null) this.push({ time: r.time, faces: r.faces ?? 0, shares: { ...r.shares } });
    this.onChange?.();
  }

  face(f: FaceState): void {
    this.faces.set(f.track, { track: f.track, emotion: f.emotion, box: { ...f.box }, seenMs: this.now() });
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
    return [...this.faces.values()].map((f) => ({ track: f.track, emotion: f.emotion, box: f.box }));
  }

  /** The room's mood: the last room summary's (withheld: none, and it says so). */
  mood(): MoodNow {
    const r = this.lastRoom;
    if (!r) return { mood: null, source: 'none', withheld: false };
    return { mood: r.dominant, source: 'room', withheld: r.withheld };
  }

  /** points() as JSON. */
  timelineJson(): string {
    this.forgetOld();
    this.timelineCache ??= JSON.stringify(this.timeline);
    return this.timelineCache;
  }

  /** The room summaries with a mood over the last minutes, oldest first. */
  points(): TimelinePoint[] {
    this.forgetOld();
    return this.timeline.slice();
  }

  private push(p: TimelinePoint): void {
    this.timelineCache = null;
    this.timeline.push(p);
    this.timelineAddedMs.push(this.now());
    this.forgetOld();
  }

  private forgetOld(): void {
    const oldest = this.now() - TIMELINE_SPAN_MS;
    while (this.timeline.length > 0 && (this.timelineAddedMs[0] ?? 0) < oldest) {
      this.timelineCache = null;
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
