// Builders for the payloads the publisher makes itself (the pipeline's own types are published as they are).

type Availability = 'online' | 'offline';

export function availabilityPayload(state: Availability): string {
  return JSON.stringify({ state });
}

export function pausedPayload(paused: boolean): string {
  return JSON.stringify({ paused });
}

/** The MQTT part of the stats payload. */
export interface MqttHealth {
  connected: boolean;
  /** Events waiting for the broker (queued plus sent but not yet acknowledged). */
  queue_length: number;
  /** Events dropped because the queue was full, since start. */
  queue_dropped: number;
  /** Events acknowledged by the broker since start. */
  delivered: number;
  reconnects: number;
  /** Inbound command payloads rejected since start. */
  rejected_commands: number;
  /** mqtt.queue_file cannot be written because the file system is full: events are in memory only. */
  queue_disk_full: boolean;
  /** Seconds the queue file's file system was full since start. */
  queue_disk_full_s: number;
}

/**
 * The stats payload: the daemon's health() with host figures filled in where it has none, then the
 * MQTT part, the device, the time and the version.
 */
export function statsPayload(args: {
  device: string;
  version: string;
  health: Record<string, unknown>;
  host: Record<string, unknown>;
  mqtt: MqttHealth;
  paused: boolean | null;
  nowMs: number;
}): string {
  const out: Record<string, unknown> = { ...args.host, ...args.health };
  out['device'] = args.device;
  out['time'] = new Date(args.nowMs).toISOString();
  if (typeof out['version'] !== 'string') out['version'] = args.version;
  if (args.paused !== null) out['paused'] = args.paused;
  out['mqtt'] = args.mqtt;
  return JSON.stringify(out);
}

export interface ResponseBody {
  status: 'ok' | 'error';
  data: unknown;
  error: string | null;
  transaction: string | number | null;
}

export function responsePayload(body: ResponseBody): string {
  return JSON.stringify(body);
}
