// Process and host figures for the stats payload and /metrics: CPU use of the daemon, memory, SoC temperature,
// load and uptime.
import fs from 'node:fs';
import os from 'node:os';
import { readMemory } from './memory.js';

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
