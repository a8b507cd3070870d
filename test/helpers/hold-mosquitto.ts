// Run as a child process by test/broker-helpers.test.ts: starts a test mosquitto, says "started", and waits
// to be killed; the broker must not outlive it.
import { Mosquitto, freePort } from './mosquitto.js';

const broker = new Mosquitto([{ port: await freePort() }]);
await broker.start();
console.log('started');
setInterval(() => undefined, 60_000);
