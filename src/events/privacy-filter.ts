// privacy.per_face, applied once in front of every event sink (stdout, MQTT, the dashboard, tests): the daemon
// hands everything it emits to this filter and nothing else, so no sink can publish what the settings keep on the
// device. privacy.min_faces is the room window's (room-window.ts: what it counts and when a summary is withheld);
// here are the counts of faces present as they may leave the device.
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';

interface PrivacySettings {
  /** false: no events (each is about one face: track id, box, its emotion), no face states, no face clears. */
  per_face: boolean;
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
    this.next.room(r);
  }

  camera(c: CameraState): void {
    this.next.camera(c);
  }
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
