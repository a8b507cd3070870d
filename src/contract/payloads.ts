// Builders for the payloads the publisher makes itself (the pipeline's own types are published as they are).
import fs from 'node:fs';
import os from 'node:os';
import { readMemory } from '../system/memory.js';

export type Availability = 'online' | 'offline';

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

/** Process and host figures the daemon's own health() may not carry; filled in only where missing. */
export class HostHealth {
  private lastCpu = process.cpuUsage();
  /** Monotonic: a step of the wall clock must not make a CPU figure of 0 or thousands of percent. */
  private lastMs = performance.now();

  constructor(private readonly thermalZone = '/sys/class/thermal/thermal_zone0/temp') {}

  /** CPU use of this process since the previous call, in percent of one core. */
  cpuPercent(nowMs = performance.now()): number {
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedMs = Math.max(1, nowMs - this.lastMs);
    this.lastCpu = process.cpuUsage();
    this.lastMs = nowMs;
    return Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10;
  }

  /** SoC temperature in °C, or null where there is no thermal zone (containers, most PCs). */
  temperatureC(): number | null {
    try {
      const milli = Number(fs.readFileSync(this.thermalZone, 'utf8').trim());
      return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
    } catch {
      return null;
    }
  }

  snapshot(): Record<string, unknown> {
    return {
      cpu_percent: this.cpuPercent(),
      ...memoryFields(),
      temperature_c: this.temperatureC(),
      load_1m: Math.round(os.loadavg()[0]! * 100) / 100,
      uptime_s: Math.round(process.uptime()),
    };
  }
}

function memoryFields(): { rss_mb: number; memory: ReturnType<typeof readMemory> } {
  const memory = readMemory();
  return { rss_mb: memory.rss_mb, memory };
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
