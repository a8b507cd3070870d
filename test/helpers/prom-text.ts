// A strict reader of the Prometheus text exposition format (0.0.4), for checking GET /metrics: every line is a
// HELP, a TYPE or a sample; samples belong to a family whose TYPE came first; a family's lines are together;
// histogram buckets are cumulative and end at +Inf = _count. Throws naming the line that is wrong.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: ['_total', '_created', ''],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
  untyped: [''],
};

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} "${line}"`;
    if (line === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (closed.has(name)) throw new Error(`${where}: family ${name} appears twice`);
      if (current !== name && current !== undefined) closed.add(current);
      current = name;
      const fam = families.get(name) ?? { name, type: 'untyped', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        if (fam.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        fam.type = rest as Family['type'];
      } else fam.help = rest;
      families.set(name, fam);
      return;
    }
    if (line.startsWith('#')) return;
    const sample = parseSample(line, where);
    const fam = familyOf(sample.name, families);
    if (!fam) throw new Error(`${where}: sample without a TYPE before it`);
    if (fam.name !== current) throw new Error(`${where}: sample of ${fam.name} outside its family's lines`);
    fam.samples.push(sample);
  });
  for (const fam of families.values()) if (fam.type === 'histogram') checkHistogram(fam);
  return families;
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  for (const fam of families.values()) {
    for (const suffix of SUFFIXES[fam.type]) if (sampleName === fam.name + suffix) return fam;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`${where}: not a sample`);
  const value = parseValue(m[4] as string, where);
  return { name: m[1] as string, labels: m[3] !== undefined ? parseLabels(m[3], where) : {}, value };
}

/** A value as Go's strconv.ParseFloat reads it (what Prometheus uses): also NaN and Inf in any case. */
function parseValue(raw: string, where: string): number {
  if (/^\+?inf(inity)?$/i.test(raw)) return Infinity;
  if (/^-inf(inity)?$/i.test(raw)) return -Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`${where}: bad value ${raw}`);
  return Number(raw);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (eq < 0 || !LABEL.test(name)) throw new Error(`${where}: bad label name at ${i}`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${name} value not quoted`);
    let j = eq + 2;
    let value = '';
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`${where}: bad escape in label ${name}`);
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`${where}: label ${name} value not closed`);
    if (name in out) throw new Error(`${where}: label ${name} twice`);
    out[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`${where}: expected , after label ${name}`);
  }
  return out;
}

function checkHistogram(fam: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of fam.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${fam.name}_bucket`) {
      if (le === undefined) throw new Error(`${fam.name}: bucket without le`);
      entry.buckets.push([parseValue(le, fam.name), s.value]);
    } else if (s.name === `${fam.name}_count`) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      const [lePrev, vPrev] = buckets[i - 1] as [number, number];
      const [le, v] = buckets[i] as [number, number];
      if (!(le > lePrev) || v < vPrev) throw new Error(`${fam.name}${key}: buckets not cumulative at le=${le}`);
    }
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${fam.name}${key}: no +Inf bucket`);
    if (count !== last[1]) throw new Error(`${fam.name}${key}: +Inf bucket ${last[1]} != _count ${count}`);
  }
}
