// privacy.per_face and privacy.min_faces, applied once in front of every event sink (stdout, MQTT, the
// dashboard, tests): the daemon hands everything it emits to this filter and nothing else, so no sink can
// publish what the settings keep on the device.
import { zeroScores, type CameraState, type EmotionEvent, type EventSink, type FaceState, type RoomSummary } from '../types.js';

export interface PrivacySettings {
  /** false: no events (each is about one face: track id, box, its emotion), no face states, no face clears. */
  per_face: boolean;
  /** Room summaries are withheld while 1 to min_faces - 1 faces are present. */
  min_faces: number;
}

export class PrivacyFilter implements EventSink {
  /** Per-face messages kept on the device since start (events, face states and clears). */
  held = 0;

  constructor(
    private readonly settings: PrivacySettings,
    private readonly next: EventSink,
  ) {}

  event(e: EmotionEvent): void {
    if (this.settings.per_face) this.next.event(e);
    else this.held += 1;
  }

  face(f: FaceState): void {
    if (this.settings.per_face) this.next.face(f);
    else this.held += 1;
  }

  faceCleared(device: string, track: number): void {
    if (this.settings.per_face) this.next.faceCleared(device, track);
    else this.held += 1;
  }

  room(r: RoomSummary): void {
    this.next.room(withMinFaces(r, this.settings.min_faces));
  }

  camera(c: CameraState): void {
    this.next.camera(c);
  }
}

/** The summary as it may leave the device: withheld (no shares, no mood, no count) while 1 to k - 1 faces are present. */
export function withMinFaces(r: RoomSummary, minFaces: number): RoomSummary {
  const tooFew = r.faces === null || (r.faces > 0 && r.faces < minFaces);
  if (!tooFew && !r.withheld && r.min_faces === minFaces) return r;
  if (!tooFew && !r.withheld) return { ...r, min_faces: minFaces };
  return { ...r, faces: tooFew ? null : r.faces, shares: zeroScores(), dominant: null, withheld: true, min_faces: minFaces };
}

/**
 * A count of faces present as it may leave the device (MQTT stats, /metrics, the dashboard, systemd's status):
 * null while 1 to minFaces - 1 are present, when a room summary would be withheld. It is the count the
 * summaries would otherwise give away, one person arriving or leaving at a time.
 */
export function shownFaceCount(faces: number, minFaces: number): number | null {
  return faces > 0 && faces < minFaces ? null : faces;
}

/** A stats snapshot with its face counts (active_tracks, classify.faces) as shownFaceCount gives them. */
export function withShownCounts(s: { active_tracks: number; classify: { faces: number } | null }, minFaces: number): Record<string, unknown> {
  const classify = s.classify === null ? null : { ...s.classify, faces: shownFaceCount(s.classify.faces, minFaces) };
  return { ...s, active_tracks: shownFaceCount(s.active_tracks, minFaces), classify };
}
