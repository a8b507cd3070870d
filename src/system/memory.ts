// The process's memory as the kernel counts it: total resident set, and its anonymous part (heap, stacks,
// ONNX Runtime's arenas: what the daemon itself allocates) apart from file-backed pages (node, shared
// libraries, the model), which other processes may share and the kernel can drop and read back.
import fs from 'node:fs';

interface MemoryFigures {
  /** Resident set, MiB. */
  rss_mb: number;
  /** Anonymous resident memory (RssAnon), MiB. */
  anon_mb: number;
  /** File-backed and shared-memory resident pages (RssFile + RssShmem), MiB. */
  file_mb: number;
}

/** Reads /proc/self/status (cheap: no page-table walk, unlike smaps_rollup); falls back to Node's figure. */
export function readMemory(statusFile = '/proc/self/status'): MemoryFigures {
  const rss = process.memoryUsage.rss();
  try {
    const kb = parseStatus(fs.readFileSync(statusFile, 'utf8'));
    if (kb.RssAnon !== undefined && kb.RssFile !== undefined) {
      const file = kb.RssFile + (kb.RssShmem ?? 0);
      return { rss_mb: mib((kb.RssAnon + file) * 1024), anon_mb: mib(kb.RssAnon * 1024), file_mb: mib(file * 1024) };
    }
  } catch {
    // Not Linux, or /proc not mounted: total only.
  }
  return { rss_mb: mib(rss), anon_mb: mib(rss), file_mb: 0 };
}

/** `Key:   123 kB` lines of a /proc status file, in kB. */
export function parseStatus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}
