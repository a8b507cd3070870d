// Run as a child process by test/broker-helpers.test.ts: a test subscriber tries the broker at argv[2], says
// how that went, and the process must then end by itself (nothing left reconnecting).
import { subscribe } from '../publish-helpers.js';

const url = process.argv[2] ?? '';
try {
  const sub = await subscribe(url, ['probe/#']);
  console.log('connected');
  await sub.end();
} catch (err) {
  console.log(`rejected: ${(err as Error).message}`);
}
