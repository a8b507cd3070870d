// GET /metrics: Prometheus text exposition (prom-client, a registry of its own: no global one). Counters and
// gauges are read from the daemon when scraped; the per-stage histograms observe every timing sample. The process
// figures (CPU seconds, resident memory, file descriptors, event-loop lag, heap) are prom-client's default set; the
// daemon adds only what that set has not.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EmotionScores } from '../types.js';
import { STAGES, type PipelineStats, type Stage } from '../system/stats.js';
import { readMemory } from '../system/memory.js';
import type { HostHealth } from '../system/host-health.js';
import type { MqttHealth } from '../contract/payloads.js';
import { shownFaceCount } from '../events/privacy-filter.js';

interface MetricsDeps {
  stats: PipelineStats;
  host: HostHealth;
  /** Face-seconds per emotion as the room summaries counted them (events/room-window.ts). */
  emotionSeconds: () => EmotionScores;
  /** The MQTT publisher's health; null when MQTT is off (its metrics are then absent). */
  mqtt: (() => MqttHealth) | null;
  device: string;
  version: string;
  /** privacy.min_faces: emotiond_faces is NaN while 1 to min_faces - 1 faces are present (default 1). */
  minFaces?: number;
}

/** Latency buckets in seconds: 1 ms to 1 s (a frame on a Pi takes tens of ms). */
const BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly unsubscribe: () => void;

  constructor(deps: MetricsDeps) {
    const { stats, host } = deps;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'emotiond_info', help: 'Constant 1, labelled with the device id and the version.', labelNames: ['device', 'version'], registers }).set(
      { device: deps.device, version: deps.version },
      1,
    );
    this.total('emotiond_frames_processed_total', 'Frames that went through the pipeline.', () => stats.framesProcessed);
    this.total('emotiond_frames_dropped_total', 'Frames dropped because the pipeline was still busy (latest-frame slot).', () => stats.framesDropped);
    this.total(
      'emotiond_frames_skipped_total',
      "Frames read from the source and dropped undecoded: the motion gate's idle rate (detector.idle_fps) or a pause.",
      () => stats.framesSkipped,
    );
    this.totalsBy(
      'emotiond_frames_bad_total',
      'Frames skipped because they could not be processed, by cause: source (empty or malformed as the source gave it) or pipeline (the daemon failed on it; logged).',
      'cause',
      () => stats.framesBadBy,
    );
    this.total('emotiond_source_reopens_total', 'Times the frame source was reopened.', () => stats.sourceReopens);
    this.total('emotiond_faces_classified_total', 'LSTM steps of faces (one face in one frame).', () => stats.facesClassified);
    this.gauge(
      'emotiond_faces',
      'Confirmed faces present now (NaN while 1 to privacy.min_faces - 1 are: withheld).',
      () => shownFaceCount(stats.activeTracks, deps.minFaces ?? 1) ?? Number.NaN,
    );
    this.total(
      'emotiond_clock_jumps_total',
      'Steps of the wall clock of more than 5 s against the monotonic clock (NTP sync on a board without a real-time clock); durations are not affected.',
      () => stats.clockJumps,
    );
    this.gauge('emotiond_fps', 'Processed frames per second over the last five seconds.', () => Math.round(stats.fps() * 100) / 100);
    this.gauge(
      'emotiond_idle',
      '1 while the room is idle (nothing moved and no face for 2 s): only detector.idle_fps frames a second are decoded. 0 otherwise.',
      () => (stats.idle ? 1 : 0),
    );
    this.gauge(
      'emotiond_detect_searched_ratio',
      'Share of the frame searched for new faces per frame (cascade windows, as a share of a search of the whole frame), over the last 256 frames.',
      () => stats.sources.detect?.().searched ?? 0,
    );
    this.totalsBy(
      'emotiond_emotion_seconds_total',
      'Face-seconds in each committed emotion, as the room summaries counted them (added with each summary; a withheld summary adds nothing).',
      'emotion',
      () => deps.emotionSeconds(),
    );
    const histogram = new Histogram({
      name: 'emotiond_stage_duration_seconds',
      help: 'Time per frame in each pipeline stage (frame = the whole frame).',
      labelNames: ['stage'],
      buckets: BUCKETS,
      registers,
    });
    // Every stage from the start, at zero: a dashboard shows each before its first sample.
    for (const s of STAGES) histogram.zero({ stage: s });
    const byStage = new Map(STAGES.map((s) => [s, histogram.labels({ stage: s })]));
    this.unsubscribe = stats.addSampleListener((stage: Stage, ms: number) => byStage.get(stage)?.observe(ms / 1000));
    if (deps.mqtt) this.mqttMetrics(deps.mqtt);
    new Gauge({
      name: 'emotiond_memory_bytes',
      help: 'Resident memory by kind: anon (what the daemon allocates), file (mapped files, shared); their sum is process_resident_memory_bytes.',
      labelNames: ['kind'],
      registers,
      collect() {
        const m = readMemory();
        this.set({ kind: 'anon' }, m.anon_mb * 2 ** 20);
        this.set({ kind: 'file' }, m.file_mb * 2 ** 20);
      },
    });
    // Absent where the host has no thermal zone (containers, most PCs), rather than a false 0.
    if (host.temperatureC() !== null) this.gauge('emotiond_temperature_celsius', 'SoC temperature (thermal_zone0).', () => host.temperatureC() ?? Number.NaN);
  }

  /** A counter whose value is read when scraped. */
  private total(name: string, help: string, value: () => number): void {
    this.read('counter', name, help, value);
  }

  /** A counter with one label whose values are read when scraped: a series for each key of what `values` gives. */
  private totalsBy(name: string, help: string, label: string, values: () => Readonly<Record<string, number>>): void {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, n] of Object.entries(values())) this.inc({ [label]: key }, n);
      },
    });
  }

  /** A gauge whose value is read when scraped. */
  private gauge(name: string, help: string, value: () => number): void {
    this.read('gauge', name, help, value);
  }

  private read(kind: 'counter' | 'gauge', name: string, help: string, value: () => number): void {
    const options = { name, help, registers: [this.registry] };
    if (kind === 'gauge') {
      new Gauge({
        ...options,
        collect() {
          this.set(value());
        },
      });
      return;
    }
    new Counter({
      ...options,
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  }

  private mqttMetrics(read: () => MqttHealth): void {
    this.gauge('emotiond_mqtt_connected', '1 while connected to the MQTT broker.', () => (read().connected ? 1 : 0));
    this.gauge('emotiond_mqtt_queue_length', 'Events waiting for the broker (queued plus sent but not acknowledged).', () => read().queue_length);
    this.total('emotiond_mqtt_queue_dropped_total', 'Events dropped because the queue was full.', () => read().queue_dropped);
    this.total('emotiond_mqtt_delivered_total', 'Events acknowledged by the broker.', () => read().delivered);
    this.total('emotiond_mqtt_reconnects_total', 'Reconnects to the MQTT broker.', () => read().reconnects);
    this.gauge('emotiond_mqtt_queue_disk_full', '1 while mqtt.queue_file cannot be written because its file system is full (events in memory only).', () =>
      read().queue_disk_full ? 1 : 0,
    );
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.unsubscribe();
    this.registry.clear();
  }
}
