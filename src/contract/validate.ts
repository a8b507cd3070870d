// JSON Schemas of every MQTT payload, compiled once. Inbound commands are checked with these;
// tests check every outbound message with them too.
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import common from './schemas/common.schema.json' with { type: 'json' };
import availability from './schemas/availability.schema.json' with { type: 'json' };
import event from './schemas/event.schema.json' with { type: 'json' };
import face from './schemas/face.schema.json' with { type: 'json' };
import room from './schemas/room.schema.json' with { type: 'json' };
import camera from './schemas/camera.schema.json' with { type: 'json' };
import stats from './schemas/stats.schema.json' with { type: 'json' };
import paused from './schemas/paused.schema.json' with { type: 'json' };
import set from './schemas/set.schema.json' with { type: 'json' };
import request from './schemas/request.schema.json' with { type: 'json' };
import response from './schemas/response.schema.json' with { type: 'json' };
import haCommon from './schemas/ha-common.schema.json' with { type: 'json' };
import haSensor from './schemas/ha-sensor.schema.json' with { type: 'json' };
import haSwitch from './schemas/ha-switch.schema.json' with { type: 'json' };
import healthz from './schemas/healthz.schema.json' with { type: 'json' };
import dashboard from './schemas/dashboard.schema.json' with { type: 'json' };

// ajv-formats is CommonJS: its module object is the function.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const SCHEMAS = {
  availability,
  event,
  face,
  room,
  camera,
  stats,
  paused,
  set,
  request,
  response,
  'ha-sensor': haSensor,
  'ha-switch': haSwitch,
  // HTTP bodies (src/http): GET /healthz and the dashboard's live message.
  healthz,
  dashboard,
} as const;

type PayloadKind = keyof typeof SCHEMAS;
const PAYLOAD_KINDS = Object.keys(SCHEMAS) as PayloadKind[];

interface Validation {
  ok: boolean;
  /** One line naming the first problems, for logs and error responses. */
  error?: string;
}

export class PayloadValidator {
  private readonly compiled = new Map<PayloadKind, ValidateFunction>();

  constructor() {
    // strict: false because the schemas carry `title`/`description` at places strict mode flags.
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    ajv.addSchema(common);
    ajv.addSchema(haCommon);
    for (const kind of PAYLOAD_KINDS) this.compiled.set(kind, ajv.compile(SCHEMAS[kind]));
  }

  validate(kind: PayloadKind, value: unknown): Validation {
    const fn = this.compiled.get(kind);
    if (!fn) return { ok: false, error: `no schema ${kind}` };
    if (fn(value)) return { ok: true };
    return { ok: false, error: describe(fn.errors ?? []) };
  }
}

function describe(errors: ErrorObject[]): string {
  return errors
    .slice(0, 3)
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty']).slice(0, 40)})` : ''}`,
    )
    .join('; ');
}

/** Which schema checks the payload published on `topic`, given the topic names; undefined when none. */
export function kindOfTopic(topic: string, root: string, discoveryPrefix: string): PayloadKind | undefined {
  if (topic.startsWith(`${discoveryPrefix}/sensor/`)) return 'ha-sensor';
  if (topic.startsWith(`${discoveryPrefix}/switch/`)) return 'ha-switch';
  if (!topic.startsWith(`${root}/`)) return undefined;
  const rest = topic.slice(root.length + 1);
  if (rest.startsWith('faces/')) return 'face';
  if (rest.startsWith('request/')) return 'request';
  if (rest.startsWith('response/')) return 'response';
  const kinds: Record<string, PayloadKind> = {
    availability: 'availability',
    events: 'event',
    room: 'room',
    camera: 'camera',
    stats: 'stats',
    paused: 'paused',
    set: 'set',
  };
  return kinds[rest];
}
