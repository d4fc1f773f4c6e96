// Side-band multiplexing (gitprotocol-capabilities(5) side-band, side-band-64k; the v2 packfile section):
// each pkt-line's first byte names a channel — 1 pack data, 2 progress text, 3 a fatal error — so a
// server can talk to the user while the pack streams.
import { BadArgumentError } from '../../store/errors.js'
import { ProtocolError, RemoteError } from './errors.js'
import { MAX_PKT_LENGTH, byteChunks } from './pkt-line.js'
import type { ByteSource, PktLineReader } from './pkt-line.js'

/** Side-band channels. */
export const SIDEBAND_DATA = 1
export const SIDEBAND_PROGRESS = 2
export const SIDEBAND_ERROR = 3
export type SidebandChannel = 1 | 2 | 3

/** Longest pkt-line under the `side-band` capability (999 bytes of data + the channel byte + 4). */
export const SIDEBAND_MAX_PKT_LENGTH = 1000
/** Longest pkt-line under `side-band-64k` and in protocol v2. */
export const SIDEBAND_64K_MAX_PKT_LENGTH = MAX_PKT_LENGTH

const HEX = '0123456789abcdef'
const utf8 = new TextEncoder()

function checkArgs(channel: number, maxPktLength: number): void {
  if (channel !== 1 && channel !== 2 && channel !== 3) throw new BadArgumentError(`side-band channel must be 1, 2 or 3, got ${channel}`, 'channel')
  if (!Number.isInteger(maxPktLength) || maxPktLength < 6 || maxPktLength > MAX_PKT_LENGTH) {
    throw new BadArgumentError(`side-band packet length must be an integer from 6 to ${MAX_PKT_LENGTH}, got ${maxPktLength}`, 'maxPktLength')
  }
}

/**
 * Frame `data` on a side-band channel, split into as many pkt-lines as it takes (each at most
 * `maxPktLength` bytes: 65520 for side-band-64k and v2, 1000 for side-band). Empty data gives one
 * packet holding only the channel byte (on channel 2 that is Git's keep-alive).
 * @example encodeSideband(2, 'Counting objects: 3\r') // progress for the user's terminal
 */
export function encodeSideband(channel: SidebandChannel, data: Uint8Array | string, maxPktLength: number = SIDEBAND_64K_MAX_PKT_LENGTH): Uint8Array {
  checkArgs(channel, maxPktLength)
  const bytes = typeof data === 'string' ? utf8.encode(data) : data
  const per = maxPktLength - 5
  const packets = Math.max(1, Math.ceil(bytes.length / per))
  const out = new Uint8Array(bytes.length + packets * 5)
  let o = 0
  for (let i = 0; i < packets; i++) {
    const part = bytes.subarray(i * per, Math.min(bytes.length, (i + 1) * per))
    const n = part.length + 5
    out[o] = HEX.charCodeAt((n >> 12) & 15)
    out[o + 1] = HEX.charCodeAt((n >> 8) & 15)
    out[o + 2] = HEX.charCodeAt((n >> 4) & 15)
    out[o + 3] = HEX.charCodeAt(n & 15)
    out[o + 4] = channel
    out.set(part, o + 5)
    o += n
  }
  return out
}

/**
 * Frame a stream of bytes (a pack being written) on one channel, chunk by chunk; no flush is added.
 * @example for await (const b of encodeSidebandStream(packChunks)) await write(b)
 */
export async function* encodeSidebandStream(
  source: ByteSource, channel: SidebandChannel = SIDEBAND_DATA, maxPktLength: number = SIDEBAND_64K_MAX_PKT_LENGTH,
): AsyncGenerator<Uint8Array> {
  checkArgs(channel, maxPktLength)
  const it = byteChunks(source)
  let finished = false
  try {
    for (;;) {
      const r = await it.next()
      if (r.done) { finished = true; return }
      if (r.value.length > 0) yield encodeSideband(channel, r.value, maxPktLength)
    }
  } finally {
    if (!finished) await it.return?.()
  }
}

/** Split one side-band pkt-line payload into its channel and data. Throws LARIX_PROTOCOL on an empty packet or an unknown channel. */
export function decodeSidebandPkt(data: Uint8Array): { channel: SidebandChannel; payload: Uint8Array } {
  if (data.length === 0) throw new ProtocolError('empty side-band packet: no channel byte')
  const channel = data[0]
  if (channel !== 1 && channel !== 2 && channel !== 3) throw new ProtocolError(`bad side-band channel ${channel}`)
  return { channel, payload: data.subarray(1) }
}

export interface DemuxOptions {
  /** Called with each channel 2 message, as sent (it may hold several lines, `\r`, or half a line). */
  onProgress?: (message: string) => void
}

/**
 * Demultiplex side-band pkt-lines from `reader` until a flush-pkt (or the end of the stream): yields the
 * channel 1 bytes, hands channel 2 text to `onProgress`, and throws a RemoteError (LARIX_REMOTE) carrying
 * the server's message on channel 3 or an `ERR` line. The yielded bytes can feed another PktLineReader when
 * the data is itself pkt-lines (receive-pack's report-status).
 * @example for await (const bytes of demuxSideband(reader, { onProgress: m => process.stderr.write(m) })) pack.write(bytes)
 */
export async function* demuxSideband(reader: PktLineReader, options: DemuxOptions = {}): AsyncGenerator<Uint8Array> {
  const progress = new TextDecoder('utf-8')
  for (;;) {
    const p = await reader.read()
    if (p.type === 'flush' || p.type === 'end') return
    if (p.type !== 'data') throw new ProtocolError(`unexpected ${p.type}-pkt in side-band data`)
    if (p.data.length >= 4 && p.data[0] === 0x45 && p.data[1] === 0x52 && p.data[2] === 0x52 && p.data[3] === 0x20) {
      throw new RemoteError(trimMessage(new TextDecoder().decode(p.data.subarray(4))))
    }
    const { channel, payload } = decodeSidebandPkt(p.data)
    if (channel === SIDEBAND_DATA) {
      if (payload.length > 0) yield payload
    } else if (channel === SIDEBAND_PROGRESS) {
      if (payload.length > 0 && options.onProgress) {
        const text = progress.decode(payload, { stream: true })
        if (text) options.onProgress(text)
      }
    } else {
      throw new RemoteError(trimMessage(new TextDecoder().decode(payload)))
    }
  }
}

function trimMessage(s: string): string {
  return s.replace(/[\r\n]+$/, '')
}
