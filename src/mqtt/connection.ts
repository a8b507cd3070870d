// Turns the `mqtt` config section into MQTT.js client options: URL, protocol, client id, Last Will,
// credentials (password file or systemd credential) and TLS files. Files are read here, once, at start.
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config/schema.js';
import { redactText } from '../system/redact.js';
import { readPassword, readSecretFile } from '../system/credentials.js';
import { urlHost } from '../system/addresses.js';
import type { Topics } from '../contract/topics.js';
import { availabilityPayload } from '../contract/payloads.js';

export interface ConnectionSettings {
  url: string;
  options: IClientOptions;
}

interface ConnectionDeps {
  config: Pick<Config, 'mqtt' | 'device'>;
  topics: Topics;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Suffix for a second client of the same device (remove-discovery) so it does not kick the daemon off. */
  clientIdSuffix?: string;
}

/** The client id: `mqtt.client_id`, or `emotiond_<device>` when empty. */
function clientId(config: Pick<Config, 'mqtt' | 'device'>): string {
  return config.mqtt.client_id !== '' ? config.mqtt.client_id : `emotiond_${config.device.id}`;
}

/** The broker to use: the embedded one (always MQTT 3.1.1) or `mqtt.url`. */
function brokerUrl(config: Pick<Config, 'mqtt'>): { url: string; protocolVersion: 4 | 5 } {
  const m = config.mqtt;
  if (!m.embedded) return { url: m.url, protocolVersion: m.protocol_version };
  return { url: `mqtt://${urlHost(m.embedded_host)}:${m.embedded_port}`, protocolVersion: 4 };
}

/** Throws EMD_SECRET_FILE when a credential or TLS file cannot be read (a configuration problem, not an outage). */
export function connectionSettings(deps: ConnectionDeps): ConnectionSettings {
  const m = deps.config.mqtt;
  const env = deps.env ?? process.env;
  const { url, protocolVersion } = brokerUrl(deps.config);
  const options: IClientOptions = {
    protocolVersion,
    clientId: clientId(deps.config) + (deps.clientIdSuffix ?? ''),
    keepalive: m.keepalive_s,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    // Our own outbox queues events while offline; retained state is re-published on connect.
    queueQoSZero: false,
    // A refused CONNECT (bad password, not authorised) is retried too: the broker may be fixed without us.
    reconnectOnConnackError: true,
    // Subscriptions are made again on every connect by the publisher.
    resubscribe: false,
    will: { topic: deps.topics.availability, payload: Buffer.from(availabilityPayload('offline')), qos: 1, retain: true },
  };
  if (protocolVersion === 5) {
    // Keep no session on the broker (the outbox owns delivery), and ask it not to send us huge packets:
    // inbound commands are capped far below this anyway.
    options.properties = { sessionExpiryInterval: 0, maximumPacketSize: 1024 * 1024 };
  }
  if (m.username !== '') options.username = m.username;
  const password = readPassword('mqtt.password_file', m.password_file, env);
  if (password !== undefined) options.password = password;
  if (m.ca_file !== '') options.ca = readSecretFile(m.ca_file, 'mqtt.ca_file');
  if (m.cert_file !== '') options.cert = readSecretFile(m.cert_file, 'mqtt.cert_file');
  if (m.key_file !== '') options.key = readSecretFile(m.key_file, 'mqtt.key_file');
  options.rejectUnauthorized = m.reject_unauthorized;
  return { url, options };
}

/**
 * CONNACK return codes of a broker that does not speak MQTT 5 (aedes, mosquitto 1.x): 1, MQTT 3.1.1's
 * "unacceptable protocol version", and 132 (0x84), MQTT 5's "unsupported protocol version".
 */
const MQTT5_REFUSED_CODES: ReadonlySet<unknown> = new Set([1, 132]);

/** Whether `err` is the broker refusing an MQTT 5 CONNECT made with `options`: then MQTT 3.1.1 is worth a try. */
export function refusesMqtt5(options: Pick<IClientOptions, 'protocolVersion'> | undefined, err: unknown): boolean {
  return options?.protocolVersion === 5 && MQTT5_REFUSED_CODES.has((err as { code?: unknown } | null)?.code);
}

/** `options` changed in place for MQTT 3.1.1: protocol 4 and no MQTT 5 properties. */
export function useMqtt311(options: IClientOptions): IClientOptions {
  options.protocolVersion = 4;
  delete options.properties;
  return options;
}

/** The URL as it may be logged: user info hidden (see system/redact). */
export function safeUrl(url: string): string {
  return redactText(url);
}
