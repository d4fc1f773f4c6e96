// Value codecs: how a value becomes the bytes of a blob. Canonical encodings, so equal values hash equal.
import { Packr } from 'msgpackr'
import { fromUtf8, utf8 } from './bytes.js'
import { BadValueError } from './errors.js'

/** Turns values into blob bytes and back. `encode` must be deterministic. */
export interface Codec<V = unknown> {
  readonly name: string
  encode(value: V): Uint8Array
  decode(bytes: Uint8Array): V
}

/** A JSON value as larix stores it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

// The path inside the value, for error messages only: built when something is refused.
function where(keys: readonly (string | number)[]): string {
  if (keys.length === 0) return 'the top'
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('')
}

function refuse(message: (at: string) => string, keys: readonly (string | number)[]): never {
  throw new BadValueError(message(where(keys)), { codec: 'json' })
}

/** `ancestors` holds the objects being written (to refuse cycles), `keys` the way down to `v`. */
function writeCanonical(v: unknown, ancestors: object[], keys: (string | number)[]): string {
  switch (typeof v) {
    case 'string': return JSON.stringify(v)
    case 'boolean': return v ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(v)) refuse(at => `${v} at ${at} has no JSON form`, keys)
      return JSON.stringify(v)
    case 'object': {
      if (v === null) return 'null'
      if (ancestors.includes(v)) refuse(at => `cyclic value at ${at}`, keys)
      ancestors.push(v)
      let out: string
      if (Array.isArray(v)) {
        out = '['
        for (let i = 0; i < v.length; i++) {
          keys.push(i)
          out += (i ? ',' : '') + writeCanonical(v[i], ancestors, keys)
          keys.pop()
        }
        out += ']'
      } else {
        if (!isPlainObject(v)) {
          refuse(at => `a ${v.constructor?.name ?? 'non-plain object'} at ${at} has no canonical JSON form; convert it to plain data`, keys)
        }
        const names = Object.keys(v).sort()
        out = '{'
        let first = true
        for (const k of names) {
          const x = (v as Record<string, unknown>)[k]
          if (x === undefined) continue // as JSON.stringify: an undefined property is absent
          keys.push(k)
          out += (first ? '' : ',') + JSON.stringify(k) + ':' + writeCanonical(x, ancestors, keys)
          keys.pop()
          first = false
        }
        out += '}'
      }
      ancestors.pop()
      return out
    }
    default:
      return refuse(at => `a ${typeof v} at ${at} cannot be stored as JSON`, keys)
  }
}

/** Canonical JSON text: keys sorted, no whitespace. Throws BadValueError for what JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  return writeCanonical(value, [], [])
}

/** Canonical JSON (sorted keys, no whitespace, UTF-8): the default codec, readable with `git show`. */
export const json: Codec<unknown> = {
  name: 'json',
  encode: (v) => utf8(canonicalJson(v)),
  decode: (b) => {
    try { return JSON.parse(fromUtf8(b, true)) } catch (e) {
      throw new BadValueError('stored bytes are not JSON (was this store written with another codec?)', { codec: 'json' }, e)
    }
  },
}

// msgpack: maps are written with sorted keys (as Map, so integer-like keys keep their sorted place) and
// without msgpackr's record extension, so any msgpack reader can read them and equal values hash equal.
const packr = new Packr({ useRecords: false, mapsAsObjects: false, variableMapSize: true })

// Maps are decoded as Map and turned into plain objects here, so that a key such as "__proto__" stays an
// own property instead of being swallowed by the object's prototype setter. Maps with non-string keys
// (written by other msgpack writers) stay Maps.
function fromMsgpack(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromMsgpack)
  if (!(v instanceof Map)) return v
  let allStrings = true
  for (const k of v.keys()) if (typeof k !== 'string') { allStrings = false; break }
  if (!allStrings) {
    const m = new Map<unknown, unknown>()
    for (const [k, x] of v) m.set(k, fromMsgpack(x))
    return m
  }
  const o: Record<string, unknown> = {}
  for (const [k, x] of v as Map<string, unknown>) {
    Object.defineProperty(o, k, { value: fromMsgpack(x), enumerable: true, writable: true, configurable: true })
  }
  return o
}

function sortForMsgpack(v: unknown, seen: Set<object>): unknown {
  if (typeof v === 'number' && Number.isNaN(v)) return v
  if (typeof v === 'function' || typeof v === 'symbol' || v === undefined) {
    throw new BadValueError(`a ${typeof v} cannot be stored as msgpack`, { codec: 'msgpack' })
  }
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v
  if (seen.has(v)) throw new BadValueError('cyclic value', { codec: 'msgpack' })
  seen.add(v)
  let r: unknown
  if (Array.isArray(v)) r = v.map(x => sortForMsgpack(x, seen))
  else if (v instanceof Map) {
    const m = new Map<unknown, unknown>()
    for (const k of [...v.keys()].sort()) m.set(k, sortForMsgpack(v.get(k), seen))
    r = m
  } else if (isPlainObject(v)) {
    const m = new Map<string, unknown>()
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k]
      if (x !== undefined) m.set(k, sortForMsgpack(x, seen))
    }
    r = m
  } else {
    throw new BadValueError(`a ${v.constructor?.name ?? 'non-plain object'} has no canonical msgpack form`, { codec: 'msgpack' })
  }
  seen.delete(v)
  return r
}

/** Canonical msgpack (msgpackr, keys sorted): compact, binary-friendly. */
export const msgpack: Codec<unknown> = {
  name: 'msgpack',
  encode: (v) => {
    const sorted = sortForMsgpack(v, new Set())
    try {
      const b = packr.pack(sorted)
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice()
    } catch (e) {
      throw new BadValueError(`value cannot be encoded as msgpack: ${(e as Error).message}`, { codec: 'msgpack' }, e)
    }
  },
  decode: (b) => {
    // msgpackr caches a DataView on the buffer it reads: give it a throwaway view, not the caller's array.
    try { return fromMsgpack(packr.unpack(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))) } catch (e) {
      throw new BadValueError('stored bytes are not msgpack (was this store written with another codec?)', { codec: 'msgpack' }, e)
    }
  },
}

/** UTF-8 strings, stored as they are. */
export const string: Codec<string> = {
  name: 'string',
  encode: (v) => {
    if (typeof v !== 'string') throw new BadValueError(`the string codec stores strings, got ${typeof v}`, { codec: 'string' })
    if (!v.isWellFormed()) throw new BadValueError('string is not well-formed Unicode (lone surrogate)', { codec: 'string' })
    return utf8(v)
  },
  decode: (b) => fromUtf8(b),
}

/** Raw bytes, stored as they are. */
export const bytes: Codec<Uint8Array> = {
  name: 'bytes',
  encode: (v) => {
    if (!(v instanceof Uint8Array)) throw new BadValueError(`the bytes codec stores Uint8Array, got ${typeof v}`, { codec: 'bytes' })
    return v.slice()
  },
  decode: (b) => b.slice(),
}

export const codecs = { json, msgpack, string, bytes } as const
export type CodecName = keyof typeof codecs

export function resolveCodec(c: CodecName | Codec<any> | undefined): Codec<unknown> {
  if (c === undefined) return json
  if (typeof c === 'string') {
    const found = (codecs as Record<string, Codec<any>>)[c]
    if (!found) throw new BadValueError(`unknown codec "${c}" (json, msgpack, string, bytes)`, { codec: c })
    return found
  }
  return c
}
