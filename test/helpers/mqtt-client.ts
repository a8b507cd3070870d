// A real MQTT client for tests that gives up within seconds, naming the broker it could not reach: a test
// must fail fast, never wait for ava's timeout, and leave nothing reconnecting behind it.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { hostPort } from './ports.js';

const CONNECT_TIMEOUT_MS = 5000;

/** A connected client; rejects within `timeoutMs` (the client ended) when the broker does not accept it. */
export async function connectClient(url: string, opts: IClientOptions = {}, timeoutMs = CONNECT_TIMEOUT_MS): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 100, connectTimeout: timeoutMs, ...opts });
  let lastError: Error | undefined;
  // Kept after connecting: an 'error' without a listener would throw out of the test.
  client.on('error', (err) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('no CONNACK')), timeoutMs);
      client.once('connect', () => resolve());
    });
    return client;
  } catch {
    await client.endAsync(true);
    const why = lastError ? `${lastError.message}` : 'no answer to CONNECT';
    throw new Error(`MQTT broker at ${hostPort(url)} not reachable within ${timeoutMs / 1000} s (${why})`);
  } finally {
    clearTimeout(timer);
  }
}
