// Loads the configuration: schema defaults < JSON file < EMOTIOND_* environment < command-line flags.
// Every value is validated strictly; an error names the key, the value and where it came from.
import fs from 'node:fs';
import { isLoopbackHost } from '../system/addresses.js';
import convict from 'convict';
import { EmotiondError } from '../errors.js';
import { REDACTED, redactStrings, redactText } from '../system/redact.js';
import { schema, type Config } from './schema.js';

const DEFAULT_CONFIG_FILE = '/etc/emotiond/config.json';

export interface SettingInfo {
  key: string;
  env: string;
  flag: string;
  doc: string;
  default: unknown;
  sensitive: boolean;
}

interface Leaf {
  default: unknown;
  doc?: string;
  arg?: string;
  sensitive?: boolean;
}

function isLeaf(node: unknown): node is Leaf {
  return typeof node === 'object' && node !== null && 'default' in node;
}

/** Every setting with its environment variable and flag, in schema order. */
export function settings(): SettingInfo[] {
  const out: SettingInfo[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, child] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (!isLeaf(child)) {
        walk(child as Record<string, unknown>, key);
        continue;
      }
      out.push({
        key,
        env: `EMOTIOND_${key.replace(/\./g, '_').toUpperCase()}`,
        flag: `--${child.arg ?? key.replace(/[._]/g, '-')}`,
        doc: child.doc ?? '',
        default: child.default,
        sensitive: child.sensitive === true,
      });
    }
  };
  walk(schema as unknown as Record<string, unknown>, '');
  return out;
}

/** Turn a string from the environment or the command line into the type of the setting's default. */
function coerce(raw: string, like: unknown): unknown {
  if (typeof like === 'number') {
    const n = Number(raw);
    return raw.trim() === '' || Number.isNaN(n) ? raw : n;
  }
  if (typeof like === 'boolean') return parseBoolean(raw) ?? raw;
  return raw;
}

/** "true"/"false" (also yes/no, on/off, 1/0, any case) as a boolean; undefined for anything else. */
export function parseBoolean(raw: string): boolean | undefined {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  return undefined;
}

interface LoadOptions {
  /** Config file; when undefined the default file is read if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by setting key (strings, or true for a bare boolean flag). */
  flags?: Record<string, string | boolean>;
}

export interface LoadedConfig {
  config: Config;
  /** The file that was read, if any. */
  file?: string;
  /** Where each non-default value came from. */
  origin: Map<string, string>;
  /** The same values with sensitive ones replaced, for logs and the config request. */
  redacted: () => Config;
}

/** Remove line and block comments outside strings, so that config files can be annotated (JSONC). */
function stripComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const skipped = text.slice(i, end < 0 ? text.length : end + 2);
      out += skipped.replace(/[^\n]/g, ' ');
      i = end < 0 ? text.length : end + 1;
    } else {
      out += ch;
    }
  }
  return out;
}

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EmotiondError('EMD_CONFIG_FILE', `${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(stripComments(text));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('top level must be a JSON object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new EmotiondError('EMD_CONFIG_FILE', `${file}: not valid JSON: ${(err as Error).message}`);
  }
}

function flatten(obj: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out.set(key, v);
  }
  return out;
}

/** Explain each validation failure with its origin: "mqtt.qos = 3 (from env EMOTIOND_MQTT_QOS): must be one of ...". */
function explain(err: Error, origin: Map<string, string>, values: Map<string, unknown>): string {
  return err.message
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
      if (undeclared?.[1]) return `${undeclared[1]}: unknown key (from ${origin.get(undeclared[1]) ?? 'the config file'})`;
      const m = /^([\w.]+): (.*?)(?:: value was .*)?$/.exec(line);
      if (!m?.[1]) return line;
      const key = m[1];
      return `${key} = ${redactText(String(JSON.stringify(values.get(key))))} (from ${origin.get(key) ?? 'default'}): ${m[2]}`;
    })
    .join('\n');
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const conf = convict<Config>(schema, { env: {}, args: [] });
  const origin = new Map<string, string>();
  const values = new Map<string, unknown>();
  const known = new Map(settings().map((s) => [s.key, s]));

  // convict would quietly turn "3" into 3 and "maybe" into true: check each value's type first.
  const typeErrors: string[] = [];
  const checkType = (key: string, value: unknown, from: string): void => {
    const like = known.get(key)?.default;
    const want = typeof like;
    if (like !== undefined && typeof value !== want) typeErrors.push(`${key} = ${redactText(String(JSON.stringify(value)))} (from ${from}): must be a ${want}`);
  };
  const file = opts.file ?? (fs.existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file !== undefined) {
    const data = readFile(file);
    for (const [key, value] of flatten(data)) {
      origin.set(key, `file ${file}`);
      values.set(key, value);
      checkType(key, value, `file ${file}`);
    }
    if (typeErrors.length === 0) conf.load(data);
  }
  const put = (key: string, value: unknown, from: string): void => {
    origin.set(key, from);
    values.set(key, value);
    checkType(key, value, from);
    if (typeErrors.length === 0) conf.set(key as never, value as never);
  };
  for (const s of known.values()) {
    const raw = env[s.env];
    if (raw !== undefined) put(s.key, coerce(raw, s.default), `env ${s.env}`);
  }
  for (const [key, raw] of Object.entries(opts.flags ?? {})) {
    const s = known.get(key);
    if (!s) throw new EmotiondError('EMD_CONFIG_INVALID', `unknown setting ${key}`);
    put(key, typeof raw === 'boolean' ? raw : coerce(raw, s.default), `flag ${s.flag}`);
  }
  if (typeErrors.length > 0) throw new EmotiondError('EMD_CONFIG_INVALID', `\n${typeErrors.join('\n')}`);
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new EmotiondError('EMD_CONFIG_INVALID', `\n${explain(err as Error, origin, values)}`);
  }
  const config = conf.getProperties();
  const ordered: Array<[string, number, string, number]> = [
    ['source.reopen_max_s', config.source.reopen_max_s, 'source.reopen_min_s', config.source.reopen_min_s],
    // min_size of 1 or more is in pixels (max_size is always a fraction): only two fractions compare.
    ['detector.max_size', config.detector.max_size, 'detector.min_size', config.detector.min_size < 1 ? config.detector.min_size : 0],
    ['mqtt.reconnect_max_s', config.mqtt.reconnect_max_s, 'mqtt.reconnect_min_s', config.mqtt.reconnect_min_s],
  ];
  for (const [maxKey, max, minKey, min] of ordered) {
    if (max < min)
      throw new EmotiondError('EMD_CONFIG_INVALID', `\n${maxKey} = ${max} (from ${origin.get(maxKey) ?? 'default'}): must not be below ${minKey} (${min})`);
  }
  checkEmbeddedBroker(config, origin);
  checkHttpServer(config, origin);
  return { config, file, origin, redacted: () => redact(config) };
}

/**
 * Anyone on the network could pause, reset or read an open broker: beyond loopback it needs credentials. So
 * does its WebSocket listener even on loopback: any web page open in a browser on this machine can reach it.
 */
function checkEmbeddedBroker(config: Config, origin: Map<string, string>): void {
  const m = config.mqtt;
  if (!m.enabled || !m.embedded) return;
  const missing = [m.username === '' ? 'mqtt.username' : '', m.password_file === '' ? 'mqtt.password_file' : ''].filter((k) => k !== '');
  if (missing.length === 0) return;
  if (m.embedded_ws_port !== 0) {
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      `\nmqtt.embedded_ws_port = ${m.embedded_ws_port} (from ${origin.get('mqtt.embedded_ws_port') ?? 'default'}): the embedded broker's WebSocket listener needs a username and password that clients log in with, also on loopback, since any web page open in a browser on this machine can reach it (missing: ${missing.join(', ')})`,
    );
  }
  if (isLoopbackHost(m.embedded_host)) return;
  throw new EmotiondError(
    'EMD_CONFIG_INVALID',
    `\nmqtt.embedded_host = ${JSON.stringify(m.embedded_host)} (from ${origin.get('mqtt.embedded_host') ?? 'default'}): an embedded broker reachable from the network needs a username and password that clients log in with (missing: ${missing.join(', ')})`,
  );
}

/** The dashboard shows moods and faces, /metrics the host: beyond loopback the HTTP server needs a login too. */
function checkHttpServer(config: Config, origin: Map<string, string>): void {
  const h = config.http;
  if (!h.enabled || isLoopbackHost(h.host)) return;
  const missing = [h.username === '' ? 'http.username' : '', h.password_file === '' ? 'http.password_file' : ''].filter((k) => k !== '');
  if (missing.length === 0) return;
  throw new EmotiondError(
    'EMD_CONFIG_INVALID',
    `\nhttp.host = ${JSON.stringify(h.host)} (from ${origin.get('http.host') ?? 'default'}): an HTTP server reachable from the network needs a username and password that clients log in with (missing: ${missing.join(', ')})`,
  );
}

/**
 * Passwords this configuration sends or takes over the network in clear text, as warnings for the start-up log:
 * the publisher's to a broker beyond loopback over mqtt://, tcp:// or ws://; the embedded broker's and the HTTP
 * server's (neither has TLS) when they listen beyond loopback.
 */
export function cleartextPasswordWarnings(config: Config): string[] {
  const out: string[] = [];
  const m = config.mqtt;
  if (m.enabled && !m.embedded && m.password_file !== '') {
    let url: URL | undefined;
    try {
      url = new URL(m.url);
    } catch {
      // validated by the schema; a URL that still does not parse names no host to warn about
    }
    if (url && ['mqtt:', 'tcp:', 'ws:'].includes(url.protocol) && !isLoopbackHost(url.hostname)) {
      out.push(
        `mqtt.url ${url.protocol}//${url.host}: the MQTT password goes to ${url.hostname} in clear text; use ${url.protocol === 'ws:' ? 'wss://' : 'mqtts://'} (TLS) for a broker beyond this machine`,
      );
    }
  }
  if (m.enabled && m.embedded && m.username !== '' && !isLoopbackHost(m.embedded_host)) {
    out.push(
      `mqtt.embedded_host ${m.embedded_host}: clients send the embedded broker their password in clear text (it has no TLS); on an untrusted network use a broker with TLS`,
    );
  }
  const h = config.http;
  if (h.enabled && h.username !== '' && !isLoopbackHost(h.host)) {
    out.push(
      `http.host ${h.host}: browsers send the dashboard's password in clear text (HTTP Basic without TLS); on an untrusted network put a TLS reverse proxy in front`,
    );
  }
  return out;
}

/** A deep copy for showing: URL and GStreamer credentials in every string hidden, the key file blanked. */
function redact(config: Config): Config {
  const copy = redactStrings(config);
  if (copy.mqtt.key_file) copy.mqtt.key_file = REDACTED;
  return copy;
}
