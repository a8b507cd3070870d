// Bounded waits for tests: every wait names what it waited for when it gives up.
// `context` adds what the test saw to that message (logs, messages so far).
export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition', context?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
