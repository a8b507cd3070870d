// The configuration schema: one place for every setting, its default, bounds, env variable and doc.
// Environment names are derived: EMOTIOND_ + the key in upper case with dots as underscores.
import os from 'node:os';
import type convict from 'convict';

export interface Config {
  device: { id: string };
  source: {
    uri: string;
    width: number;
    height: number;
    fps: number;
    fourcc: string;
    loop: boolean;
    pace: 'realtime' | 'none';
    reopen_min_s: number;
    reopen_max_s: number;
    stall_timeout_s: number;
    max_stuck_reads: number;
    give_up_s: number;
    isolation: 'auto' | 'process' | 'none';
    open_timeout_s: number;
  };
  detector: {
    cascade: string;
    scale_factor: number;
    min_neighbors: number;
    min_size: number;
    max_size: number;
    detect_width: number;
    equalize: boolean;
    full_every: number;
    budget_ms: number;
    track_hz: number;
    roi_margin: number;
    sweep_interval_s: number;
    motion_threshold: number;
    idle_fps: number;
  };
  tracker: {
    iou_threshold: number;
    confirm_hits: number;
    confirm_votes: number;
    max_misses: number;
    max_age_s: number;
  };
  classifier: {
    model: string;
    threads: number;
    max_faces: number;
    still_hz: number;
  };
  events: {
    margin: number;
    hold_s: number;
    first_label_steps: number;
    room_interval_s: number;
    print: boolean;
  };
  privacy: {
    per_face: boolean;
    min_faces: number;
    notice: string;
  };
  preview: {
    port: number;
    duration_s: number;
  };
  mqtt: {
    enabled: boolean;
    url: string;
    base_topic: string;
    client_id: string;
    protocol_version: 4 | 5;
    qos: 0 | 1 | 2;
    keepalive_s: number;
    reconnect_min_s: number;
    reconnect_max_s: number;
    username: string;
    password_file: string;
    ca_file: string;
    cert_file: string;
    key_file: string;
    reject_unauthorized: boolean;
    queue_max: number;
    queue_file: string;
    face_interval_s: number;
    stats_interval_s: number;
    discovery: boolean;
    discovery_prefix: string;
    embedded: boolean;
    embedded_port: number;
    embedded_ws_port: number;
    embedded_host: string;
    embedded_ws_origins: string;
  };
  http: {
    enabled: boolean;
    host: string;
    port: number;
    username: string;
    password_file: string;
    allowed_hosts: string;
    max_streams: number;
  };
  system: {
    ready_timeout_s: number;
    state_dir: string;
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    pretty: 'auto' | 'yes' | 'no';
  };
}

/** A format that accepts numbers in [min, max] (integers only when `int`). */
function range(min: number, max: number, int = false): (v: unknown) => void {
  return (v: unknown) => {
    if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new Error(`must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
  };
}

function nonEmpty(v: unknown): void {
  if (typeof v !== 'string' || v.trim() === '') throw new Error('must be a non-empty string');
}

function topicSegment(v: unknown): void {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_./-]*$/.test(v) || /[+#]/.test(v)) {
    throw new Error('must be a non-empty MQTT topic segment without wildcards or spaces');
  }
}

function deviceId(v: unknown): void {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) {
    throw new Error('must be 1-64 characters of letters, digits, _ or -');
  }
}

function mqttUrl(v: unknown): void {
  if (typeof v !== 'string' || !/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/.test(v)) {
    throw new Error('must be a URL like mqtt://host:1883, mqtts://host:8883 or ws://host:8080/mqtt');
  }
}

/** A list of origins, scheme://host[:port], separated by spaces or commas. */
function originList(v: unknown): void {
  if (typeof v !== 'string' || !splitList(v).every((o) => /^https?:\/\/[^\s/?#,]+$/i.test(o)))
    throw new Error('must be origins like http://kiosk.lan:8080, separated by spaces or commas (empty = none)');
}

/** A list of host names or addresses, separated by spaces or commas. */
function hostList(v: unknown): void {
  const ok = (h: string): boolean => {
    const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i.exec(h);
    return m !== null && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535));
  };
  if (typeof v !== 'string' || !splitList(v).every(ok))
    throw new Error('must be host names like kiosk-1.lan, or name:port like localhost:8080, separated by spaces or commas (empty = none)');
}

/** The items of a list setting (spaces or commas between them). */
export function splitList(v: string): string[] {
  return v.split(/[\s,]+/).filter((x) => x !== '');
}

function notice(v: unknown): void {
  if (typeof v !== 'string' || v.length > 300 || /[\u0000-\u001f\u007f]/.test(v))
    throw new Error('must be a line of text of at most 300 characters (empty = no notice)');
}

function fourcc(v: unknown): void {
  if (typeof v !== 'string' || !(v === '' || /^[A-Z0-9 ]{4}$/i.test(v))) throw new Error('must be 4 characters (e.g. MJPG) or empty');
}

/** Hostnames may hold dots and other characters a device id may not. */
function defaultDeviceId(): string {
  return (
    os
      .hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 64) || 'emotiond'
  );
}

export const schema: convict.Schema<Config> = {
  device: {
    id: { doc: 'Device id used in MQTT topics and events (default: the hostname).', format: deviceId, default: defaultDeviceId(), arg: 'device-id' },
  },
  source: {
    uri: {
      doc: 'Frame source: a V4L2 device (/dev/video0 or an index like 0), a video file, an rtsp:// or http(s):// stream URL, or a GStreamer pipeline ending in appsink (prefix gst: or containing "!").',
      format: nonEmpty,
      default: '/dev/video0',
      arg: 'source',
    },
    width: { doc: 'Requested capture width for cameras (0 = the driver default).', format: range(0, 7680, true), default: 640 },
    height: { doc: 'Requested capture height for cameras (0 = the driver default).', format: range(0, 4320, true), default: 480 },
    fps: { doc: 'Requested camera frame rate (0 = the driver default).', format: range(0, 240), default: 15 },
    fourcc: { doc: 'Requested camera pixel format as a FourCC, e.g. MJPG or YUYV (empty = the driver default).', format: fourcc, default: 'MJPG' },
    loop: { doc: 'Restart a video file from the beginning when it ends.', format: Boolean, default: false },
    pace: {
      doc: 'For video files: "realtime" delivers frames at the file frame rate like a camera (late frames are dropped); "none" delivers every frame as fast as the pipeline takes them (benchmarks, tests).',
      format: ['realtime', 'none'],
      default: 'realtime',
    },
    reopen_min_s: { doc: 'First delay before reopening a source that failed or stopped.', format: range(0.01, 600), default: 1 },
    reopen_max_s: {
      doc: 'Longest delay between reopen attempts (the delay doubles up to this): a camera that comes back is read again within about this long.',
      format: range(0.01, 3600),
      default: 3,
    },
    stall_timeout_s: { doc: 'Reopen the source when no frame arrived for this long.', format: range(0.5, 3600), default: 10 },
    max_stuck_reads: {
      doc: 'Stalled reads that never return (a wedged GStreamer pipeline: they cannot be cancelled, and each holds one of the 4 libuv worker threads) before the daemon gives up on the source, stops and ends for systemd to restart it.',
      format: range(1, 3, true),
      default: 2,
    },
    give_up_s: {
      doc: 'Give up on the source (stop and end, for systemd to restart the service) when it delivered no frame for this long while it was being reopened; until then a failed or unplugged camera is retried in place. 0 = retry for ever.',
      format: range(0, 604800),
      default: 3600,
    },
    isolation: {
      doc: 'Where the source is opened and read: "process" = in a process of its own, so that an open or a read that blocks (a GStreamer pipeline that never prerolls, a stream URL that does not answer) never stops the daemon, and is ended after source.open_timeout_s or source.stall_timeout_s and retried; "none" = in the daemon (no frame copy between processes, but a wedged open blocks it); "auto" = "process" for cameras, streams and GStreamer pipelines, "none" for video files.',
      format: ['auto', 'process', 'none'],
      default: 'auto',
    },
    open_timeout_s: {
      doc: 'With source.isolation "process": an open that has not finished after this long is ended, reported (camera offline) and retried like any other camera fault.',
      format: range(1, 600),
      default: 20,
    },
  },
  detector: {
    cascade: {
      doc: 'Face cascade: "haar" (haarcascade_frontalface_default.xml), "lbp" (lbpcascade_frontalface_improved.xml) or a path to a cascade XML file.',
      format: nonEmpty,
      default: 'haar',
    },
    scale_factor: {
      doc: 'detectMultiScale scale step between pyramid levels (smaller finds more faces and costs more).',
      format: range(1.01, 2),
      default: 1.2,
    },
    min_neighbors: { doc: 'detectMultiScale neighbours a box needs; higher means fewer false faces.', format: range(0, 50, true), default: 5 },
    min_size: {
      doc: 'Smallest face to find: in pixels when 1 or more (36 finds the back row of a classroom in 720p or 1080p), or as a fraction of the shorter frame side when below 1. The cascade cannot find faces under its window (24 px for haar).',
      format: range(0.01, 4320),
      default: 36,
    },
    max_size: { doc: 'Largest face, as a fraction of the shorter frame side.', format: range(0.05, 1), default: 1 },
    detect_width: {
      doc: 'Most frame width detection may work at (0 = no limit: each band of face sizes is searched at the resolution its smallest face needs). A limit makes detection cheaper and raises the smallest face found to 24 px x frame width / detect_width.',
      format: range(0, 7680, true),
      default: 0,
    },
    equalize: {
      doc: 'Equalise the histogram of each image searched (sweep strips and track windows) before detection. Off by default: on the labelled facetest photos it finds fewer faces (30 of 43 against 27 with it), and on a plain wall it hides faces.',
      format: Boolean,
      default: false,
    },
    full_every: {
      doc: 'The search of the whole frame for new faces (the sweep) is spread over at least this many frames; it takes more when detector.budget_ms is reached first.',
      format: range(1, 1000, true),
      default: 5,
    },
    budget_ms: {
      doc: 'Detection time to aim for per frame (ms): tracked faces are re-detected first, the sweep for new faces gets the rest (at least one strip per frame, so new faces are always looked for). stats.detect.sweep_s says how long a sweep then takes.',
      format: range(1, 1000),
      default: 8,
    },
    track_hz: {
      doc: 'Re-detections per second of each tracked face (round-robin); boxes are predicted between them. New and lost faces are searched on every frame.',
      format: range(0.5, 120),
      default: 6,
    },
    roi_margin: { doc: 'Margin around a track searched between full detections, as a fraction of the face size.', format: range(0, 3), default: 0.5 },
    sweep_interval_s: {
      doc: 'Motion gate: seconds between searches of the whole frame for new faces (a safety net). In between, only where the picture moved is searched (a motion mask on a small gray copy of the frame), and a tracked face whose picture did not change since it was last found is held by the mask (still there) and re-detected every 4 s instead of track_hz. The first frame, a reopened camera and a change of the whole scene are searched whole. 0 = no gate: the whole frame is searched over and over (every detector.full_every frames at most).',
      format: range(0, 3600),
      default: 10,
    },
    motion_threshold: {
      doc: "Motion gate: change of the mean gray level of a cell of the motion mask (a square of about a quarter of the smallest face) that counts as motion, after a change of the whole picture's brightness is taken out. Changes add up over frames, so slow motion counts too; raise it for a noisy camera (night, infrared).",
      format: range(1, 128),
      default: 8,
    },
    idle_fps: {
      doc: "Motion gate: frames per second decoded and searched while the room is idle (no face tracked, nothing moved for 2 s, no motion waiting to be searched); the source's other frames are read and dropped undecoded (stats frames_skipped). The first frame with motion brings every frame back. Decoding is most of what an empty room costs. 0 = every frame. No effect without the gate (sweep_interval_s 0) or with `emotiond preview`.",
      format: range(0, 240),
      default: 10,
    },
  },
  tracker: {
    iou_threshold: { doc: 'Least overlap (IoU) for a detection to continue a track.', format: range(0, 1), default: 0.25 },
    confirm_hits: { doc: 'Detections before a new track is confirmed (false-positive gate).', format: range(1, 100, true), default: 3 },
    confirm_votes: {
      doc: 'Median cascade votes (neighbours) a new track needs to be confirmed; real faces get more votes than look-alikes.',
      format: range(0, 1000),
      default: 8,
    },
    max_misses: { doc: 'Frames without a matching detection before a track ends.', format: range(1, 10000, true), default: 15 },
    max_age_s: { doc: 'Seconds without a matching detection before a track ends.', format: range(0.1, 3600), default: 2 },
  },
  classifier: {
    model: {
      doc: 'Path of the int8 CNN-LSTM ONNX model (relative paths are resolved from the install directory).',
      format: nonEmpty,
      default: 'models/emotion-cnn-lstm.int8.onnx',
    },
    threads: { doc: 'ONNX Runtime intra-op threads.', format: range(1, 64, true), default: 1 },
    max_faces: {
      doc: "Most faces stepped in one batch per frame. Each face is stepped at the model's trained rate (its metadata emotiond.step_hz); when more are due, the longest-waiting go first and the rest on the next frames (round-robin: none starves).",
      format: range(1, 256, true),
      default: 32,
    },
    still_hz: {
      doc: "Motion gate (detector.sweep_interval_s > 0): LSTM steps per second of a settled face: its picture did not move since its last step, its last 4 steps changed no probability by 0.02 or more, and its label leads with no other pending. Fed the same picture, its LSTM would not change. The first motion in its box brings it back to the model's rate on that frame. 0 (or the model's rate or more) = every face at the model's rate.",
      format: range(0, 240),
      default: 5,
    },
  },
  events: {
    margin: { doc: 'Probability lead a new emotion needs over the committed one before it can replace it.', format: range(0, 1), default: 0.15 },
    hold_s: { doc: 'Seconds a new emotion must keep that lead before it is committed.', format: range(0, 60), default: 0.5 },
    first_label_steps: {
      doc: "Model steps (at the model's step rate, 15 Hz for the shipped one) a face takes before its first emotion is committed: face_appeared carries emotion null until then, and the first label follows as emotion_changed with before null (1 = label the first step, from a zero LSTM state).",
      format: range(1, 150, true),
      default: 5,
    },
    room_interval_s: { doc: 'Seconds between anonymous room summaries.', format: range(1, 86400), default: 10 },
    print: { doc: 'Also write events and summaries as JSON lines to stdout.', format: Boolean, default: false, arg: 'print' },
  },
  privacy: {
    per_face: {
      doc: 'Let per-face data leave the device: events (with track id and box), faces/<id> topics, faces on the dashboard. false = only room summaries and device state leave it (see Privacy in README.md).',
      format: Boolean,
      default: true,
    },
    min_faces: {
      doc: "Least faces present at once for their time to count in the room summary; a summary with fewer (1 to min_faces - 1 present, or never min_faces at once in the window) is published as withheld, without shares or mood. 1 = off. Use 3 or more with per_face false, so that one person's mood is never published as the room.",
      format: range(1, 1000, true),
      default: 1,
    },
    notice: {
      doc: 'Notice that emotion recognition is in use, shown on the dashboard and published in the camera state (empty = none; where the EU AI Act applies, Article 50(3) requires informing the people exposed).',
      format: notice,
      default: 'Emotion recognition is in use in this area.',
    },
  },
  preview: {
    port: {
      doc: '`emotiond preview` (installers only): the port it serves the camera view on, on 127.0.0.1 only.',
      format: range(1, 65535, true),
      default: 8788,
    },
    duration_s: { doc: '`emotiond preview`: seconds it serves before it stops by itself.', format: range(10, 3600), default: 300 },
  },
  mqtt: {
    enabled: { doc: 'Publish to MQTT.', format: Boolean, default: true },
    url: { doc: 'Broker URL.', format: mqttUrl, default: 'mqtt://localhost:1883', arg: 'mqtt-url' },
    base_topic: { doc: 'First topic level.', format: topicSegment, default: 'emotiond' },
    client_id: { doc: 'MQTT client id (empty = emotiond_<device id>).', format: String, default: '' },
    protocol_version: { doc: 'MQTT protocol version: 4 (3.1.1) or 5.', format: [4, 5], default: 5 },
    qos: { doc: 'QoS of events.', format: [0, 1, 2], default: 1 },
    keepalive_s: { doc: 'Keepalive interval.', format: range(0, 65535, true), default: 30 },
    reconnect_min_s: { doc: 'First delay before reconnecting to a broker that went away (reset after each connect).', format: range(0.1, 600), default: 1 },
    reconnect_max_s: { doc: 'Longest delay between reconnect attempts (the delay doubles up to this).', format: range(0.1, 3600), default: 10 },
    username: { doc: 'Username (empty = none).', format: String, default: '' },
    password_file: {
      doc: 'File holding the password; a bare name is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential).',
      format: String,
      default: '',
    },
    ca_file: { doc: 'CA certificate (PEM) for mqtts:// when the broker is not signed by a public CA.', format: String, default: '' },
    cert_file: { doc: 'Client certificate (PEM) for TLS client authentication.', format: String, default: '' },
    key_file: { doc: 'Client key (PEM) for TLS client authentication.', format: String, default: '', sensitive: true },
    reject_unauthorized: { doc: 'Verify the broker certificate (turn off only for tests).', format: Boolean, default: true },
    queue_max: {
      doc: 'Events kept in memory while the broker is unreachable; the oldest are dropped past this.',
      format: range(1, 10_000_000, true),
      default: 10000,
    },
    queue_file: {
      doc: 'File that keeps undelivered events across restarts (empty = memory only; a relative name is under system.state_dir).',
      format: String,
      default: '',
    },
    face_interval_s: { doc: 'Least seconds between two state messages of one face.', format: range(0, 3600), default: 1 },
    stats_interval_s: { doc: 'Seconds between stats messages.', format: range(1, 86400), default: 30 },
    discovery: { doc: 'Publish Home Assistant MQTT discovery configs.', format: Boolean, default: true },
    discovery_prefix: { doc: 'Home Assistant discovery prefix.', format: topicSegment, default: 'homeassistant' },
    embedded: { doc: 'Run an embedded MQTT broker (aedes) inside the daemon and publish to it.', format: Boolean, default: false },
    embedded_port: { doc: 'TCP port of the embedded broker.', format: range(1, 65535, true), default: 1883 },
    embedded_ws_port: { doc: 'WebSocket port of the embedded broker (0 = off).', format: range(0, 65535, true), default: 0 },
    embedded_host: {
      doc: 'Address the embedded broker listens on. Beyond loopback (127.0.0.0/8, ::1, localhost) it needs mqtt.username and mqtt.password_file, and every client then logs in with them.',
      format: nonEmpty,
      default: '127.0.0.1',
    },
    embedded_ws_origins: {
      doc: "Web pages (origins: scheme://host[:port], separated by spaces or commas) that may open the embedded broker's WebSocket; a browser from any other origin is refused (403). Clients that send no Origin (not browsers) are let through to the login. The WebSocket listener always needs mqtt.username and mqtt.password_file. Empty = no web page.",
      format: originList,
      default: '',
    },
  },
  http: {
    enabled: {
      doc: 'Serve the live dashboard (GET /), Prometheus metrics (GET /metrics) and health (GET /healthz: live, GET /readyz: ready) over HTTP.',
      format: Boolean,
      default: false,
    },
    host: {
      doc: 'Address the HTTP server listens on. Beyond loopback (127.0.0.0/8, ::1, localhost) it needs http.username and http.password_file, and every request then logs in with them (HTTP Basic).',
      format: nonEmpty,
      default: '127.0.0.1',
    },
    port: { doc: 'TCP port of the HTTP server.', format: range(1, 65535, true), default: 8787 },
    username: { doc: 'Username HTTP clients log in with (empty = no login; allowed only on loopback).', format: String, default: '' },
    password_file: {
      doc: 'File holding the HTTP password; a bare name is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential).',
      format: String,
      default: '',
    },
    allowed_hosts: {
      doc: 'Host names (separated by spaces or commas) the dashboard answers to besides the loopback names (127.0.0.1, localhost, [::1]), http.host and, when listening on all addresses, this machine\'s own addresses and hostname; requests for any other Host get 421 (DNS rebinding). E.g. "kiosk-1.lan". A name with a port ("localhost:8080", "kiosk-1.lan:443") is answered on that port as it appears in the Host header: a container\'s published port that differs from http.port, or a reverse proxy that passes the Host on.',
      format: hostList,
      default: '',
    },
    max_streams: { doc: 'Most dashboards on the live feed (GET /events) at once; one more gets 503.', format: range(1, 1000, true), default: 16 },
  },
  system: {
    ready_timeout_s: { doc: 'Tell systemd READY after this long even if MQTT is not connected yet.', format: range(0, 3600), default: 20 },
    state_dir: { doc: 'Directory for state (queue file); $STATE_DIRECTORY when run by systemd.', format: String, default: '/var/lib/emotiond' },
  },
  log: {
    level: { doc: 'Log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    pretty: { doc: 'Human-readable logs: "auto" (on a TTY), "yes" or "no" (JSON lines).', format: ['auto', 'yes', 'no'], default: 'auto' },
  },
};
