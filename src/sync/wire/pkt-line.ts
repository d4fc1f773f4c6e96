// pkt-line framing (gitprotocol-common(5)): four hex digits giving the total length, then the payload.
// 0000 is a flush-pkt, 0001 a delim-pkt, 0002 a response-end-pkt (protocol v2); 0003 is never valid.
// Platform-neutral: Uint8Array in, Uint8Array out; the reader takes any AsyncIterable of chunks.
import { BadArgumentError } from '../../store/errors.js'
import { BadPktLineError } from './errors.js'

/** The longest pkt-line, length prefix included. */
export const MAX_PKT_LENGTH = 65520
/** The most payload one pkt-line carries. */
export const MAX_PKT_DATA = MAX_PKT_LENGTH - 4

/** One framed unit read from a stream: a data line, one of the three special packets, or the end of the stream. */
export type Pkt =
  | { type: 'data'; data: Uint8Array }
  | { type: 'flush' }
  | { type: 'delim' }
  | { type: 'response-end' }
  | { type: 'end' }

/** Where pkt-lines are read from: chunks of any size, as an async or sync iterable or a Web ReadableStream. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>

const utf8 = new TextEncoder()
const HEX_DIGITS = '0123456789abcdef'

/** `0000`: ends a message. */
export const FLUSH_PKT: Uint8Array = utf8.encode('0000')
/** `0001`: separates sections of a message (protocol v2). */
export const DELIM_PKT: Uint8Array = utf8.encode('0001')
/** `0002`: ends a response on a stateless connection (protocol v2). */
export const RESPONSE_END_PKT: Uint8Array = utf8.encode('0002')

const FLUSH: Pkt = Object.freeze({ type: 'flush' })
const DELIM: Pkt = Object.freeze({ type: 'delim' })
const RESPONSE_END: Pkt = Object.freeze({ type: 'response-end' })
const END: Pkt = Object.freeze({ type: 'end' })

function writeLength(out: Uint8Array, n: number): void {
  out[0] = HEX_DIGITS.charCodeAt((n >> 12) & 15)
  out[1] = HEX_DIGITS.charCodeAt((n >> 8) & 15)
  out[2] = HEX_DIGITS.charCodeAt((n >> 4) & 15)
  out[3] = HEX_DIGITS.charCodeAt(n & 15)
}

/**
 * Frame `payload` as one pkt-line. A string is taken as UTF-8 and sent as is (add the `\n` yourself, or use
 * {@link encodeTextLine}). Throws LARIX_BAD_PKT_LINE when the payload exceeds 65516 bytes.
 * @example encodePktLine('a\n') // bytes of "0006a\n"
 */
export function encodePktLine(payload: Uint8Array | string): Uint8Array {
  const data = typeof payload === 'string' ? utf8.encode(payload) : payload
  if (data.length > MAX_PKT_DATA) {
    throw new BadPktLineError(`pkt-line payload of ${data.length} bytes is over the limit of ${MAX_PKT_DATA}`)
  }
  const out = new Uint8Array(data.length + 4)
  writeLength(out, data.length + 4)
  out.set(data, 4)
  return out
}

/**
 * Frame one line of text: UTF-8, with the trailing LF the protocol asks senders to include.
 * @example encodeTextLine('done') // bytes of "0009done\n"
 */
export function encodeTextLine(line: string): Uint8Array {
  return encodePktLine(line + '\n')
}

/**
 * Builds a message of several pkt-lines into one Uint8Array.
 * @example new PktLineWriter().text('want ' + id).flush().text('done').toBytes()
 */
export class PktLineWriter {
  #parts: Uint8Array[] = []
  #length = 0

  #push(b: Uint8Array): this {
    this.#parts.push(b)
    this.#length += b.length
    return this
  }

  /** A text line; the LF is added. */
  text(line: string): this { return this.#push(encodeTextLine(line)) }
  /** A data line carrying `payload` exactly. */
  data(payload: Uint8Array | string): this { return this.#push(encodePktLine(payload)) }
  /** Bytes already framed (or raw bytes outside pkt-line framing, such as a pack). */
  raw(bytes: Uint8Array): this { return this.#push(bytes) }
  flush(): this { return this.#push(FLUSH_PKT) }
  delim(): this { return this.#push(DELIM_PKT) }
  responseEnd(): this { return this.#push(RESPONSE_END_PKT) }

  /** Bytes written so far. */
  get length(): number { return this.#length }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.#length)
    let o = 0
    for (const p of this.#parts) { out.set(p, o); o += p.length }
    return out
  }
}

const textDecoder = new TextDecoder('utf-8')

/** The text of a data pkt-line: UTF-8 (lenient), with one trailing LF removed if present. */
export function pktText(data: Uint8Array): string {
  const n = data.length > 0 && data[data.length - 1] === 10 ? data.length - 1 : data.length
  return textDecoder.decode(data.subarray(0, n))
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55 // Git's own reader accepts upper case too
  return -1
}

function showHeader(b: readonly number[]): string {
  return JSON.stringify(String.fromCharCode(...b))
}

/** The length a 4-byte header declares, or throws; the shared rule for the streaming and the one-shot readers. */
function headerLength(h0: number, h1: number, h2: number, h3: number, offset: number): number {
  const a = hexValue(h0), b = hexValue(h1), c = hexValue(h2), d = hexValue(h3)
  if (a < 0 || b < 0 || c < 0 || d < 0) {
    throw new BadPktLineError(`bad pkt-line length ${showHeader([h0, h1, h2, h3])}: expected 4 hex digits`, offset)
  }
  const n = (a << 12) | (b << 8) | (c << 4) | d
  if (n === 3) throw new BadPktLineError('bad pkt-line length "0003": shorter than its own header', offset)
  if (n > MAX_PKT_LENGTH) throw new BadPktLineError(`pkt-line length ${n} is over the limit of ${MAX_PKT_LENGTH}`, offset)
  return n
}

function special(n: number): Pkt {
  return n === 0 ? FLUSH : n === 1 ? DELIM : RESPONSE_END
}

/**
 * Split a complete message into pkt-lines. The last element is always `{ type: 'end' }`.
 * Throws LARIX_BAD_PKT_LINE on a bad length or a truncated line. Data views share `bytes`' memory.
 */
export function decodePktLines(bytes: Uint8Array): Pkt[] {
  const out: Pkt[] = []
  let o = 0
  while (o < bytes.length) {
    if (bytes.length - o < 4) throw new BadPktLineError(`truncated pkt-line: ${bytes.length - o} of 4 length bytes`, o)
    const n = headerLength(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3], o)
    if (n < 4) { out.push(special(n)); o += 4; continue }
    if (bytes.length - o < n) throw new BadPktLineError(`truncated pkt-line: ${bytes.length - o} of ${n} bytes`, o)
    out.push({ type: 'data', data: bytes.subarray(o + 4, o + n) })
    o += n
  }
  out.push(END)
  return out
}

/** Adapt any {@link ByteSource} (or a single Uint8Array) to an AsyncIterator of chunks. */
export function byteChunks(source: ByteSource | Uint8Array): AsyncIterator<Uint8Array> {
  if (source instanceof Uint8Array) return (async function* () { yield source })()
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    return readableChunks(source as ReadableStream<Uint8Array>)
  }
  if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  }
  if (typeof (source as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    const it = (source as Iterable<Uint8Array>)[Symbol.iterator]()
    return {
      next: async () => it.next(),
      return: async () => { it.return?.(); return { done: true, value: undefined } },
    }
  }
  throw new BadArgumentError('a pkt-line source must be a Uint8Array, an (async) iterable of Uint8Array or a ReadableStream', 'source')
}

// Not every browser makes ReadableStream async-iterable yet; the reader API is everywhere.
async function* readableChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  let finished = false
  try {
    for (;;) {
      const r = await reader.read()
      if (r.done) { finished = true; return }
      yield r.value
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}

/**
 * Reads pkt-lines from a stream whose chunks may split or join lines anywhere. It buffers at most one
 * pkt-line plus the chunk being read, so memory stays bounded whatever the input; bad input ends in a
 * LARIX_BAD_PKT_LINE error (and every later read repeats it), never a hang or another exception.
 * Data payloads may be views into the source's chunks.
 * @example
 * const reader = new PktLineReader(response.body)
 * for (let p = await reader.read(); p.type === 'data'; p = await reader.read()) console.log(pktText(p.data))
 */
export class PktLineReader {
  #source: AsyncIterator<Uint8Array>
  #chunks: Uint8Array[] = []
  #offset = 0 // into #chunks[0]
  #buffered = 0
  #position = 0 // stream offset of the next unread byte
  #sourceDone = false
  #failure: unknown = undefined
  #released = false
  #peeked: Pkt | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor(source: ByteSource | Uint8Array) {
    this.#source = byteChunks(source)
  }

  /** How many bytes of the stream have been consumed (handy for error messages). */
  get position(): number { return this.#position }

  /** The next pkt-line, or `{ type: 'end' }` when the stream ended cleanly between lines. */
  read(): Promise<Pkt> {
    return this.#serial(async () => {
      if (this.#peeked) { const p = this.#peeked; this.#peeked = undefined; return p }
      return this.#readPkt()
    })
  }

  /** The next pkt-line without consuming it. */
  peek(): Promise<Pkt> {
    return this.#serial(async () => {
      if (!this.#peeked) this.#peeked = await this.#readPkt()
      return this.#peeked
    })
  }

  /**
   * Stop reading pkt-lines and hand over the rest of the stream as raw bytes: what is buffered first, then
   * the source's remaining chunks. For a pack sent without side-band after the negotiation (protocol v0/v1,
   * receive-pack). The reader is unusable afterwards.
   */
  rest(): AsyncIterableIterator<Uint8Array> {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#released) throw new BadArgumentError('rest() was already called on this PktLineReader', 'rest')
    if (this.#peeked) throw new BadArgumentError('cannot hand over raw bytes after peek(): a pkt-line is held', 'rest')
    this.#released = true
    const chunks = this.#chunks, first = this.#offset
    this.#chunks = []
    this.#buffered = 0
    const source = this.#source, sourceDone = this.#sourceDone
    return (async function* () {
      let finished = sourceDone
      try {
        for (let i = 0; i < chunks.length; i++) yield i === 0 ? chunks[0].subarray(first) : chunks[i]
        while (!finished) {
          const r = await source.next()
          if (r.done) { finished = true; return }
          if (r.value.length > 0) yield r.value
        }
      } finally {
        if (!finished) await source.return?.()
      }
    })()
  }

  /** Release the source without reading further (closes a ReadableStream, ends a generator). */
  async close(): Promise<void> {
    if (this.#released) return
    this.#released = true
    this.#chunks = []
    this.#buffered = 0
    if (!this.#sourceDone) { this.#sourceDone = true; await this.#source.return?.() }
  }

  /** Iterate data and special packets until the end of the stream (the `end` packet is not yielded). */
  async *[Symbol.asyncIterator](): AsyncIterator<Pkt> {
    for (;;) {
      const p = await this.read()
      if (p.type === 'end') return
      yield p
    }
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#failure !== undefined) throw this.#failure
      if (this.#released) throw new BadArgumentError('this PktLineReader was handed over with rest() or closed', 'read')
      return op().catch((e: unknown) => { this.#failure = e; throw e })
    })
    this.#queue = run.catch(() => {})
    return run
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#sourceDone) return false
      const r = await this.#source.next()
      if (r.done) { this.#sourceDone = true; return false }
      const chunk: unknown = r.value
      if (!(chunk instanceof Uint8Array)) {
        throw new BadArgumentError(`a pkt-line source yielded ${chunk === null ? 'null' : typeof chunk}, not a Uint8Array`, 'source')
      }
      if (chunk.length === 0) continue
      this.#chunks.push(chunk)
      this.#buffered += chunk.length
    }
    return true
  }

  #byteAt(i: number): number {
    let k = 0, o = this.#offset + i
    while (o >= this.#chunks[k].length) { o -= this.#chunks[k].length; k++ }
    return this.#chunks[k][o]
  }

  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    const first = this.#chunks[0]
    let out: Uint8Array
    if (first.length - this.#offset >= n) {
      out = first.subarray(this.#offset, this.#offset + n)
      this.#offset += n
    } else {
      out = new Uint8Array(n)
      let filled = 0, k = 0
      while (filled < n) {
        const c = this.#chunks[k]
        const m = Math.min(n - filled, c.length - this.#offset)
        out.set(c.subarray(this.#offset, this.#offset + m), filled)
        filled += m
        this.#offset += m
        if (this.#offset === c.length) { k++; this.#offset = 0 }
      }
      this.#chunks.splice(0, k) // once, not a shift per chunk: tiny chunks must not make this quadratic
    }
    if (this.#chunks.length > 0 && this.#offset === this.#chunks[0].length) { this.#chunks.shift(); this.#offset = 0 }
    this.#buffered -= n
    this.#position += n
    return out
  }

  async #readPkt(): Promise<Pkt> {
    const start = this.#position
    if (!(await this.#fill(4))) {
      if (this.#buffered === 0) return END
      throw new BadPktLineError(`truncated pkt-line: the stream ended after ${this.#buffered} of 4 length bytes`, start)
    }
    const n = headerLength(this.#byteAt(0), this.#byteAt(1), this.#byteAt(2), this.#byteAt(3), start)
    if (n < 4) { this.#take(4); return special(n) }
    if (!(await this.#fill(n))) {
      throw new BadPktLineError(`truncated pkt-line: the stream ended after ${this.#buffered} of ${n} bytes`, start)
    }
    this.#take(4)
    return { type: 'data', data: this.#take(n - 4) }
  }
}
