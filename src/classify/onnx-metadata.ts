// Reads `metadata_props` from an ONNX file. onnxruntime-node does not expose custom metadata, so we
// walk the top level of the ModelProto protobuf ourselves (field 14: repeated StringStringEntryProto).
import { EmotiondError } from '../errors.js';

const METADATA_FIELD = 14;

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

function readEntry(buf: Uint8Array): [string, string] {
  const r = new Reader(buf);
  const dec = new TextDecoder();
  let key = '';
  let value = '';
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) key = dec.decode(r.bytes());
    else if (field === 2 && wire === 2) value = dec.decode(r.bytes());
    else r.skip(wire);
  }
  return [key, value];
}

/** The model's metadata_props as a map. `where` names the file in errors. */
export function readOnnxMetadata(model: Uint8Array, where: string): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const r = new Reader(model);
    while (!r.done) {
      const tag = r.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === METADATA_FIELD && wire === 2) {
        const [k, v] = readEntry(r.bytes());
        out.set(k, v);
      } else {
        r.skip(wire);
      }
    }
  } catch (err) {
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: not a readable ONNX file (${(err as Error).message})`);
  }
  return out;
}
