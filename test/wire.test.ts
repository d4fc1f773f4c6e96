// The Git wire format (src/sync/wire): pkt-lines, side-band, capabilities and the protocol messages.
// Checked three ways: the exact bytes of the examples in Git's protocol documents; interop with the real
// `git` CLI (advertisements it prints, requests it sends, responses `git http-backend` gives to requests we
// format); and fast-check round trips and fuzzing (random bytes, random chunkings: data or a LARIX_* error,
// never another exception, never a hang, bounded buffering).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import {
  Capabilities, PktLineReader, PktLineWriter, ZERO_ID, decodePktLines, demuxSideband, encodePktLine, encodeSideband,
  encodeSidebandStream, encodeTextLine, formatAck, formatCommandRequest, formatFetchArgs, formatFetchResponse,
  formatGitProtoRequest, formatHaves, formatLsRefsArgs, formatLsRefsResponse, formatNak, formatReceiveRequest,
  formatRefAdvertisement, formatReportStatus, formatServiceHeader, formatShallowUpdate, formatUploadRequest,
  formatV2Advertisement, parseAck, parseFetchArgs, parseGitProtoRequest, parseLsRefsArgs, parseProtocolParameters,
  protocolVersion, pktText, readAck, readAdvertisement, readCommandRequest, readFetchResponse, readGitProtoRequest,
  readHaves, readLsRefsResponse, readReceiveRequest, readReportStatus, readShallowUpdate, readUploadRequest,
  MAX_PKT_DATA, MAX_PKT_LENGTH, FLUSH_PKT, DELIM_PKT, RESPONSE_END_PKT,
} from '../src/sync/wire/index.js'
import type { Pkt, RefAdvertisement, V2Advertisement, FetchArgs, LsRef, ReportStatus, AdvertisedRef } from '../src/sync/wire/index.js'
import { LarixError } from '../src/store/errors.js'
import { refNameProblem } from '../src/store/refs.js'

const te = new TextEncoder()
const td = new TextDecoder()
const b = (s: string): Uint8Array => te.encode(s)
const s = (x: Uint8Array): string => td.decode(x)
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
/** One pkt-line as a string, its length computed (for inputs that are not quoted from Git's documents). */
const pl = (text: string): string => (b(text).length + 4).toString(16).padStart(4, '0') + text
const reader = (x: Uint8Array | string, chunk = 0): PktLineReader => {
  const bytes = typeof x === 'string' ? b(x) : x
  if (chunk <= 0) return new PktLineReader(bytes)
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk))
  return new PktLineReader(chunks)
}
async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of it) parts.push(p)
  return cat(...parts)
}
async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    assert.ok(e instanceof LarixError, `expected a LarixError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message) assert.match(e.message, message)
    return
  }
  assert.fail(`expected ${code}, but it succeeded`)
}
function withTimeout<T>(p: Promise<T>, ms = 3000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms) })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}
async function readAll(r: PktLineReader): Promise<Pkt[]> {
  const out: Pkt[] = []
  for (;;) { const p = await r.read(); out.push(p); if (p.type === 'end') return out }
}
const show = (pkts: Pkt[]): string[] => pkts.map(p => (p.type === 'data' ? 'data:' + Buffer.from(p.data).toString('hex') : p.type))

const A = '74730d410fcb6603ace96f1dc55ea6196122532d'
const B = '7d1665144a3a975c05f1f43902ddaf084e784dbe'
const C = '5a3f6be755bbb7deae50065988cbfa1ffa9ab68a'
const D = '7e47fe2bd8d01d481f44d7af0531bd93d3b21c01'

// ------------------------------------------------------------------------------------------- pkt-line

test('pkt-line: the examples of gitprotocol-common encode and decode exactly', async () => {
  const examples: [string, string][] = [['0006a\n', 'a\n'], ['0005a', 'a'], ['000bfoobar\n', 'foobar\n'], ['0004', '']]
  for (const [wire, payload] of examples) {
    assert.equal(s(encodePktLine(payload)), wire)
    const p = await reader(wire).read()
    assert.equal(p.type, 'data')
    assert.equal(p.type === 'data' && s(p.data), payload)
  }
  assert.equal(s(encodeTextLine('a')), '0006a\n')
  assert.equal(pktText(b('a\n')), 'a')
  assert.equal(pktText(b('a')), 'a', 'receivers must not complain about a missing LF')
  assert.equal(s(FLUSH_PKT), '0000')
  assert.equal(s(DELIM_PKT), '0001')
  assert.equal(s(RESPONSE_END_PKT), '0002')
  assert.deepEqual((await readAll(reader('000000010002'))).map(p => p.type), ['flush', 'delim', 'response-end', 'end'])
  assert.equal(s(new PktLineWriter().text('done').flush().delim().responseEnd().data('x').toBytes()), '0009done\n0000000100020005x')
})

test('pkt-line: 65516 data bytes is the limit; one more is a typed error on both sides', async () => {
  const max = encodePktLine(new Uint8Array(MAX_PKT_DATA).fill(120))
  assert.equal(max.length, MAX_PKT_LENGTH)
  assert.equal(s(max.subarray(0, 4)), 'fff0')
  const p = await reader(max, 1000).read()
  assert.equal(p.type === 'data' && p.data.length, MAX_PKT_DATA)
  assert.throws(() => encodePktLine(new Uint8Array(MAX_PKT_DATA + 1)), { code: 'LARIX_BAD_PKT_LINE' })
  assert.throws(() => new PktLineWriter().text('x'.repeat(MAX_PKT_DATA)), { code: 'LARIX_BAD_PKT_LINE' })
  await rejectsWith(reader('fff1' + 'x'.repeat(65517)).read(), 'LARIX_BAD_PKT_LINE', /65521 is over the limit/)
})

test('pkt-line: malformed lengths and truncated lines are LARIX_BAD_PKT_LINE with a clear message', async () => {
  const cases: [string, RegExp][] = [
    ['0003', /0003/], ['000g', /expected 4 hex digits/], ['-001', /expected 4 hex digits/], [' 004', /4 hex digits/],
    ['ffff', /over the limit/], ['fff1', /over the limit/], ['00', /truncated pkt-line.*2 of 4/],
    ['0009abc', /truncated pkt-line.*7 of 9/], ['0006a\n0009ab', /at byte 6/],
  ]
  for (const [wire, message] of cases) {
    for (const chunk of [0, 1, 3]) await rejectsWith(readAll(reader(wire, chunk)), 'LARIX_BAD_PKT_LINE', message)
    assert.throws(() => decodePktLines(b(wire)), { code: 'LARIX_BAD_PKT_LINE' })
  }
  // Upper-case hex is read as Git reads it.
  const p = await reader('000A123456').read()
  assert.equal(p.type === 'data' && s(p.data), '123456')
  // After an error every read repeats it: no resynchronising on garbage.
  const r = reader('0003' + '0000')
  await rejectsWith(r.read(), 'LARIX_BAD_PKT_LINE')
  await rejectsWith(r.read(), 'LARIX_BAD_PKT_LINE')
})

test('pkt-line: peek, async iteration, ReadableStream sources and chunks that are not bytes', async () => {
  const r = reader('0006a\n0000', 1)
  const peeked = await r.peek()
  assert.deepEqual(await r.read(), peeked)
  assert.equal((await r.read()).type, 'flush')
  assert.equal((await r.read()).type, 'end')
  assert.equal((await r.read()).type, 'end', 'end stays end')

  const types: string[] = []
  for await (const p of reader('0005a00000001')) types.push(p.type)
  assert.deepEqual(types, ['data', 'flush', 'delim'])

  const stream = new Blob([new TextEncoder().encode('0006a\n0000') as Uint8Array<ArrayBuffer>]).stream()
  const sr = new PktLineReader(stream)
  assert.equal(pktText(((await sr.read()) as { data: Uint8Array }).data), 'a')
  assert.equal((await sr.read()).type, 'flush')

  async function* notBytes(): AsyncGenerator<Uint8Array> { yield 'oops' as unknown as Uint8Array }
  await rejectsWith(new PktLineReader(notBytes()).read(), 'LARIX_BAD_ARGUMENT')
  // Concurrent reads are served in order.
  const c = reader('0005a0005b0005c', 2)
  const got = await Promise.all([c.read(), c.read(), c.read(), c.read()])
  assert.deepEqual(got.map(p => (p.type === 'data' ? s(p.data) : p.type)), ['a', 'b', 'c', 'end'])
})

test('pkt-line: rest() hands over the raw bytes after the last line, whatever the chunking', async () => {
  const pack = new Uint8Array(5000).map((_, i) => (i * 7) & 255)
  const wire = cat(b('0009done\n0000'), pack)
  for (const chunk of [0, 1, 3, 13, 4096]) {
    const r = reader(wire, chunk)
    assert.equal((await r.read()).type, 'data')
    assert.equal((await r.read()).type, 'flush')
    assert.deepEqual(await collect(r.rest()), pack)
    await rejectsWith(r.read(), 'LARIX_BAD_ARGUMENT')
  }
  const r = reader(wire)
  await r.peek()
  assert.throws(() => r.rest(), { code: 'LARIX_BAD_ARGUMENT' })
})

test('pkt-line: stopping early releases the source', async () => {
  let released = false
  async function* source(): AsyncGenerator<Uint8Array> {
    try { for (;;) yield b('0005a') } finally { released = true }
  }
  const r = new PktLineReader(source())
  await r.read()
  await r.close()
  assert.ok(released)
})

// --------------------------------------------------------------------------------- pkt-line properties

const pktArb: fc.Arbitrary<Pkt> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }).map(data => ({ type: 'data' as const, data })) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_PKT_DATA - 3, max: MAX_PKT_DATA }).map(n => ({ type: 'data' as const, data: new Uint8Array(n).fill(n & 255) })) },
  { weight: 1, arbitrary: fc.constantFrom<Pkt>({ type: 'flush' }, { type: 'delim' }, { type: 'response-end' }) },
)
function encodePkt(p: Pkt): Uint8Array {
  return p.type === 'data' ? encodePktLine(p.data) : p.type === 'flush' ? FLUSH_PKT : p.type === 'delim' ? DELIM_PKT : RESPONSE_END_PKT
}
function chunkBy(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let o = 0, i = 0
  while (o < bytes.length) {
    const n = sizes.length ? sizes[i++ % sizes.length] : bytes.length
    out.push(bytes.subarray(o, o + n))
    o += n
    if (n === 0) out.push(bytes.subarray(o, o + 1)), o += 1 // empty chunks are allowed and skipped
  }
  return out
}

test('pkt-line property: any sequence of packets survives encoding and any chunking', async () => {
  await fc.assert(fc.asyncProperty(fc.array(pktArb, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 70000 }), { maxLength: 6 }), async (pkts, sizes) => {
    const wire = cat(...pkts.map(encodePkt))
    const got = await withTimeout(readAll(new PktLineReader(chunkBy(wire, sizes))))
    assert.deepEqual(show(got), show([...pkts, { type: 'end' }]))
    assert.deepEqual(show(decodePktLines(wire)), show([...pkts, { type: 'end' }]))
  }), { numRuns: 150 })
})

test('pkt-line fuzz: random bytes in random chunks give packets or LARIX_BAD_PKT_LINE, the same as the one-shot decoder, never a hang', async () => {
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // Mostly hex digits, so that lengths parse and lines get read.
    fc.array(fc.constantFrom(...b('0123456789abcdefABCDEF\n\0 x')), { maxLength: 200 }).map(a => Uint8Array.from(a)),
    fc.array(pktArb, { maxLength: 5 }).chain(pkts => {
      const wire = cat(...pkts.map(encodePkt))
      return fc.tuple(fc.nat({ max: Math.max(0, wire.length) }), fc.uint8Array({ maxLength: 6 })).map(([cut, junk]) => cat(wire.subarray(0, cut), junk))
    }),
  )
  await fc.assert(fc.asyncProperty(bytesArb, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 5 }), async (bytes, sizes) => {
    let expected: string[] | string
    try { expected = show(decodePktLines(bytes)) } catch (e) { expected = (e as LarixError).code }
    let got: string[] | string
    try {
      got = show(await withTimeout(readAll(new PktLineReader(chunkBy(bytes, sizes)))))
    } catch (e) {
      assert.ok(e instanceof LarixError, `not a LarixError: ${String(e)}`)
      got = e.code
    }
    assert.deepEqual(got, expected)
    if (typeof got === 'string') assert.equal(got, 'LARIX_BAD_PKT_LINE')
  }), { numRuns: 1500 })
})

test('pkt-line: buffering is bounded by one packet plus one chunk, even on an endless stream', async () => {
  await fc.assert(fc.asyncProperty(fc.array(pktArb, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 70000 }), async (pkts, size) => {
    const wire = cat(...pkts.map(encodePkt))
    let pulled = 0
    const chunks = chunkBy(wire, [size])
    const source = (async function* () { for (const c of chunks) { pulled += c.length; yield c } })()
    const r = new PktLineReader(source)
    for (;;) {
      const p = await r.read()
      assert.ok(pulled - r.position <= size, `holds ${pulled - r.position} bytes with chunks of ${size}`)
      assert.ok(pulled - r.position < MAX_PKT_LENGTH + size)
      if (p.type === 'end') break
    }
  }), { numRuns: 60 })
  // An endless stream of garbage fails at once; an endless stream of lines is read lazily.
  async function* endless(piece: Uint8Array): AsyncGenerator<Uint8Array> { for (;;) yield piece }
  await rejectsWith(withTimeout(new PktLineReader(endless(b('xxxxxxxx'))).read()), 'LARIX_BAD_PKT_LINE')
  await rejectsWith(withTimeout(new PktLineReader(endless(b('fff'))).read()), 'LARIX_BAD_PKT_LINE')
  const lines = new PktLineReader(endless(b('0005a')))
  for (let i = 0; i < 1000; i++) assert.equal((await lines.read()).type, 'data')
  await lines.close()
})

// ------------------------------------------------------------------------------------------- side-band

test('side-band: data is split into packets of at most 65520 (side-band-64k) or 1000 (side-band) bytes', async () => {
  const data = new Uint8Array(200_000).map((_, i) => i & 255)
  for (const max of [MAX_PKT_LENGTH, 1000]) {
    const wire = encodeSideband(1, data, max)
    const pkts = decodePktLines(wire).filter(p => p.type === 'data') as { data: Uint8Array }[]
    assert.equal(pkts.length, Math.ceil(data.length / (max - 5)))
    for (const p of pkts) { assert.ok(p.data.length + 4 <= max); assert.equal(p.data[0], 1) }
    assert.deepEqual(await collect(demuxSideband(reader(cat(wire, FLUSH_PKT), 777))), data)
  }
  assert.equal(s(encodeSideband(2, '')), '0005\x02', 'an empty message is the keep-alive')
  assert.equal(s(encodeSideband(3, 'boom\n')), '000a\x03boom\n')
  assert.throws(() => encodeSideband(4 as 1, 'x'), { code: 'LARIX_BAD_ARGUMENT' })
  assert.throws(() => encodeSideband(1, 'x', 5), { code: 'LARIX_BAD_ARGUMENT' })
  const streamed = await collect(encodeSidebandStream([data.subarray(0, 70000), new Uint8Array(0), data.subarray(70000)]))
  assert.deepEqual(await collect(demuxSideband(reader(cat(streamed, FLUSH_PKT), 5000))), data)
})

test('side-band: progress goes to the callback, channel 3 and ERR lines become LARIX_REMOTE with the message', async () => {
  const progress: string[] = []
  const wire = cat(encodeSideband(2, 'Counting objects: 1\r'), encodeSideband(1, 'PACK'), encodeSideband(2, ''), encodeSideband(2, 'done.\n'), encodeSideband(1, 'more'), FLUSH_PKT, b('0009done\n'))
  const r = reader(wire, 3)
  assert.equal(s(await collect(demuxSideband(r, { onProgress: m => progress.push(m) }))), 'PACKmore')
  assert.deepEqual(progress, ['Counting objects: 1\r', 'done.\n'])
  assert.equal((await r.read()).type, 'data', 'the demultiplexer stops at the flush-pkt')

  const err = cat(encodeSideband(1, 'PA'), encodeSideband(3, 'upload-pack: not our ref ' + A + '\n'))
  await rejectsWith(collect(demuxSideband(reader(err))), 'LARIX_REMOTE', /not our ref/)
  try { await collect(demuxSideband(reader(err))) } catch (e) { assert.equal((e as LarixError<{ message: string }>).data.message, 'upload-pack: not our ref ' + A) }
  await rejectsWith(collect(demuxSideband(reader(encodeTextLine('ERR access denied')))), 'LARIX_REMOTE', /access denied/)
  await rejectsWith(collect(demuxSideband(reader('0006\x04x'))), 'LARIX_PROTOCOL', /channel 4/)
  await rejectsWith(collect(demuxSideband(reader('0004'))), 'LARIX_PROTOCOL', /no channel byte/)
  await rejectsWith(collect(demuxSideband(reader('0001'))), 'LARIX_PROTOCOL')
})

test('side-band property: any interleaving of channels 1 and 2 demultiplexes to the same data and progress', async () => {
  const partArb = fc.tuple(fc.constantFrom<1 | 2>(1, 2), fc.uint8Array({ maxLength: 3000 }), fc.constantFrom(1000, 65520, 100))
  await fc.assert(fc.asyncProperty(fc.array(partArb, { maxLength: 10 }), fc.integer({ min: 1, max: 9000 }), async (parts, chunk) => {
    const wire = cat(...parts.map(([ch, d, max]) => encodeSideband(ch, ch === 2 ? b(Buffer.from(d).toString('hex')) : d, max)), FLUSH_PKT)
    let progress = ''
    const data = await collect(demuxSideband(reader(wire, chunk), { onProgress: m => { progress += m } }))
    assert.deepEqual(data, cat(...parts.filter(p => p[0] === 1).map(p => p[1])))
    assert.equal(progress, parts.filter(p => p[0] === 2).map(p => Buffer.from(p[1]).toString('hex')).join(''))
  }), { numRuns: 80 })
})

// ------------------------------------------------------------------------------------------ capabilities

test('capabilities: parse, query, format; malformed ones refused', () => {
  const caps = Capabilities.parse('multi_ack thin-pack side-band-64k symref=HEAD:refs/heads/main symref=refs/remotes/o/HEAD:refs/remotes/o/main agent=git/2.39.5 object-format=sha1')
  assert.ok(caps.has('thin-pack'))
  assert.ok(!caps.has('thin'))
  assert.equal(caps.get('agent'), 'git/2.39.5')
  assert.equal(caps.get('thin-pack'), undefined)
  assert.deepEqual(caps.getAll('symref'), ['HEAD:refs/heads/main', 'refs/remotes/o/HEAD:refs/remotes/o/main'])
  assert.equal(caps.size, 7)
  assert.equal(caps.toString(), 'multi_ack thin-pack side-band-64k symref=HEAD:refs/heads/main symref=refs/remotes/o/HEAD:refs/remotes/o/main agent=git/2.39.5 object-format=sha1')
  assert.deepEqual(Capabilities.parse(' report-status  quiet').toArray(), ['report-status', 'quiet'], 'send-pack leads with a space')
  const v2 = new Capabilities(['fetch=shallow wait-for-done', 'ls-refs=unborn', 'server-option'])
  assert.deepEqual(v2.features('fetch'), ['shallow', 'wait-for-done'])
  assert.deepEqual(v2.features('server-option'), [])
  assert.throws(() => v2.toString(), { code: 'LARIX_BAD_ARGUMENT' }, 'a value with a space cannot go in a v0 list')
  assert.deepEqual(v2.with('agent=x').toArray().at(-1), 'agent=x')
  assert.throws(() => Capabilities.parse('ok b@d'), { code: 'LARIX_PROTOCOL' })
  assert.throws(() => Capabilities.parse('=x'), { code: 'LARIX_PROTOCOL' })
  assert.throws(() => Capabilities.parse('a=\x01'), { code: 'LARIX_PROTOCOL' })
  assert.throws(() => new Capabilities(['has space']), { code: 'LARIX_BAD_ARGUMENT' })
  assert.throws(() => Capabilities.parseLine('fetch\n'), { code: 'LARIX_PROTOCOL' })
})

const capNameArb = fc.stringMatching(/^[a-z0-9_-]{1,12}$/)
const capArb = fc.tuple(capNameArb, fc.option(fc.stringMatching(/^[!-~]{0,16}$/), { nil: undefined })).map(([n, v]) => (v === undefined ? n : `${n}=${v}`))

test('capabilities property: v0 lists round-trip', () => {
  fc.assert(fc.property(fc.array(capArb, { maxLength: 12 }), list => {
    const caps = new Capabilities(list)
    assert.deepEqual(Capabilities.parse(caps.toString()).toArray(), list)
  }), { numRuns: 300 })
})

// ------------------------------------------------------------------------------------- advertisements

test('advertisement: the v1 example of gitprotocol-pack, byte for byte', async () => {
  const wire =
    '000eversion 1\n' +
    '00887217a7c7e582c46cec22a130adf4b9d7d950fba0 HEAD\0multi_ack thin-pack side-band side-band-64k ofs-delta shallow no-progress include-tag\n' +
    '00441d3fcd5ced445d1abc402225c0b8a1299641f497 refs/heads/integration\n' +
    '003f7217a7c7e582c46cec22a130adf4b9d7d950fba0 refs/heads/master\n' +
    '003cb88d2441cac0977faf98efc80305012112238d9d refs/tags/v0.9\n' +
    '003c525128480b96c89e6418b1e40909bf6c5b2d580f refs/tags/v1.0\n' +
    '003fe92df48743b7bc7d26bcaabfddde0a1e20cae47c refs/tags/v1.0^{}\n' +
    '0000'
  const adv = await readAdvertisement(reader(wire, 7)) as RefAdvertisement
  assert.equal(adv.version, 1)
  assert.deepEqual(adv.refs, [
    { name: 'HEAD', id: '7217a7c7e582c46cec22a130adf4b9d7d950fba0' },
    { name: 'refs/heads/integration', id: '1d3fcd5ced445d1abc402225c0b8a1299641f497' },
    { name: 'refs/heads/master', id: '7217a7c7e582c46cec22a130adf4b9d7d950fba0' },
    { name: 'refs/tags/v0.9', id: 'b88d2441cac0977faf98efc80305012112238d9d' },
    { name: 'refs/tags/v1.0', id: '525128480b96c89e6418b1e40909bf6c5b2d580f', peeled: 'e92df48743b7bc7d26bcaabfddde0a1e20cae47c' },
  ])
  assert.ok(adv.capabilities.has('include-tag'))
  assert.equal(s(formatRefAdvertisement({ version: 1, refs: adv.refs, capabilities: adv.capabilities })), wire)
})

test('advertisement: the smart HTTP example of gitprotocol-http, and the service check', async () => {
  const wire =
    '001e# service=git-upload-pack\n0000' +
    '004895dcfa3633004da0049d3d0fa03f80589cbcaf31 refs/heads/maint\0multi_ack\n' +
    '003fd049f6c27a2244e12041955e262a404c7faba355 refs/heads/master\n' +
    '003c2cb58b79488a98d2721cea644875a8dd0026b115 refs/tags/v1.0\n' +
    '003fa3c2e2402b99163d1d59756e5f207ae21cccba4c refs/tags/v1.0^{}\n' +
    '0000'
  const adv = await readAdvertisement(reader(wire), { service: 'git-upload-pack' }) as RefAdvertisement
  assert.equal(adv.service, 'git-upload-pack')
  assert.equal(adv.version, 0)
  assert.equal(adv.refs.length, 3)
  assert.equal(adv.refs[2].peeled, 'a3c2e2402b99163d1d59756e5f207ae21cccba4c')
  assert.equal(s(formatRefAdvertisement({ service: 'git-upload-pack', refs: adv.refs, capabilities: adv.capabilities })), wire)
  assert.equal(s(formatServiceHeader('git-upload-pack')), '001e# service=git-upload-pack\n0000')
  await rejectsWith(readAdvertisement(reader(wire), { service: 'git-receive-pack' }), 'LARIX_PROTOCOL', /expected service git-receive-pack/)
})

test('advertisement: the receive-pack example, an empty repository, and garbage refused', async () => {
  const wire =
    '006274730d410fcb6603ace96f1dc55ea6196122532d refs/heads/local\0report-status delete-refs ofs-delta\n' +
    '003e7d1665144a3a975c05f1f43902ddaf084e784dbe refs/heads/debug\n' +
    '003f74730d410fcb6603ace96f1dc55ea6196122532d refs/heads/master\n' +
    '003d74730d410fcb6603ace96f1dc55ea6196122532d refs/heads/team\n' +
    '0000'
  const adv = await readAdvertisement(reader(wire)) as RefAdvertisement
  assert.deepEqual(adv.refs.map(r => r.name), ['refs/heads/local', 'refs/heads/debug', 'refs/heads/master', 'refs/heads/team'])
  assert.deepEqual(adv.capabilities.toArray(), ['report-status', 'delete-refs', 'ofs-delta'])
  assert.equal(s(formatRefAdvertisement({ refs: adv.refs, capabilities: adv.capabilities })), wire)

  const empty = formatRefAdvertisement({ refs: [], capabilities: ['report-status', 'delete-refs'] })
  assert.equal(s(empty), `${pl(`${ZERO_ID} capabilities^{}\0report-status delete-refs\n`)}0000`)
  const e = await readAdvertisement(reader(empty)) as RefAdvertisement
  assert.deepEqual(e.refs, [])
  assert.ok(e.capabilities.has('delete-refs'))
  assert.deepEqual((await readAdvertisement(reader('0000')) as RefAdvertisement).refs, [], 'upload-pack sends a bare flush for an empty repository')

  const bad: [string, RegExp][] = [
    [`${pl(`${A} refs/heads/a b\n`)}0000`, /bad ref name/],
    [`${pl(`${A.slice(0, 39)}g refs/heads/main\n`)}0000`, /bad object id/],
    [`${pl(`${A} refs/tags/v1^{}\n`)}0000`, /peeled line must follow/],
    [`${pl(`${A} refs/heads/..x\0\n`)}0000`, /bad ref name/],
    [`${pl(`${A} foo\n`)}0000`, /bad ref name/],
    [`${pl(`${A} refs/heads/main\n`)}`, /stream ended/],
    [`${pl(`${A} capabilities^{}\n`)}0000`, /zero id/],
    [`${pl(`ERR access denied\n`)}`, /access denied/],
    [`${pl('# service=git upload pack\n')}0000`, /bad service line/],
    [`${pl('# service=git-upload-pack\n')}${pl(`${A} HEAD\n`)}0000`, /flush-pkt after the service line/],
  ]
  for (const [w, message] of bad) await rejectsWith(readAdvertisement(reader(w)), w.includes('ERR') ? 'LARIX_REMOTE' : 'LARIX_PROTOCOL', message)
  assert.throws(() => formatRefAdvertisement({ refs: [{ name: 'refs/heads/a..b', id: A }], capabilities: [] }), { code: 'LARIX_BAD_REF' })
  assert.throws(() => formatRefAdvertisement({ refs: [{ name: 'refs/heads/a', id: 'A'.repeat(40) }], capabilities: [] }), { code: 'LARIX_BAD_ID' })
})

const segArb = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,7}$/).filter(x => !x.endsWith('.lock') && !x.endsWith('.') && !x.includes('..'))
const refArb = fc.tuple(fc.constantFrom('refs/heads/', 'refs/tags/', 'refs/remotes/origin/'), fc.array(segArb, { minLength: 1, maxLength: 3 }))
  .map(([p, segs]) => p + segs.join('/')).filter(r => refNameProblem(r) === undefined)
const idArb = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(x => Buffer.from(x).toString('hex'))

test('advertisement property: format then read gives back refs, peeled ids, shallow lines and symrefs', async () => {
  const advArb = fc.record({
    head: fc.boolean(),
    refs: fc.uniqueArray(fc.record({ name: refArb, id: idArb, peeled: fc.option(idArb, { nil: undefined }) }), { selector: r => r.name, maxLength: 8 }),
    caps: fc.array(capArb, { maxLength: 6 }),
    shallow: fc.array(idArb, { maxLength: 2 }),
    version: fc.constantFrom<0 | 1>(0, 1),
    http: fc.boolean(),
  })
  await fc.assert(fc.asyncProperty(advArb, fc.integer({ min: 1, max: 50 }), async (a, chunk) => {
    const refs: AdvertisedRef[] = a.refs.map(r => (r.peeled === undefined ? { name: r.name, id: r.id } : { name: r.name, id: r.id, peeled: r.peeled }))
    const caps = [...a.caps]
    if (a.head && refs.length > 0) { refs.unshift({ name: 'HEAD', id: refs[0].id }); caps.push('symref=HEAD:' + refs[1].name) }
    const wire = formatRefAdvertisement({ refs, capabilities: caps, shallow: a.shallow, version: a.version, ...(a.http ? { service: 'git-upload-pack' } : {}) })
    const adv = await readAdvertisement(reader(wire, chunk)) as RefAdvertisement
    assert.deepEqual(adv.refs, refs)
    assert.deepEqual(adv.capabilities.toArray(), caps)
    assert.deepEqual(adv.shallow, a.shallow)
    assert.equal(adv.version, a.version)
    assert.equal(adv.service, a.http ? 'git-upload-pack' : undefined)
    if (a.head && refs.length > 0) assert.equal(adv.symrefs.get('HEAD'), refs[1].name)
  }), { numRuns: 150 })
})

test('v2 advertisement: format and read', async () => {
  const wire = formatV2Advertisement(['agent=git/2.39.5', 'ls-refs=unborn', 'fetch=shallow wait-for-done', 'server-option', 'object-format=sha1', 'object-info'])
  assert.equal(s(wire), '000eversion 2\n0015agent=git/2.39.5\n0013ls-refs=unborn\n0020fetch=shallow wait-for-done\n0012server-option\n0017object-format=sha1\n0010object-info\n0000')
  const adv = await readAdvertisement(reader(wire, 5)) as V2Advertisement
  assert.equal(adv.version, 2)
  assert.deepEqual(adv.capabilities.features('fetch'), ['shallow', 'wait-for-done'])
  // Some servers put the smart HTTP preamble in front of a v2 advertisement too.
  const withHeader = cat(formatServiceHeader('git-upload-pack'), wire)
  assert.equal((await readAdvertisement(reader(withHeader), { service: 'git-upload-pack' })).version, 2)
  await rejectsWith(readAdvertisement(reader('000eversion 2\n0009b@d=x\n0000')), 'LARIX_PROTOCOL')
  await rejectsWith(readAdvertisement(reader('000eversion 2\n0001')), 'LARIX_PROTOCOL')
})

// ----------------------------------------------------------------------------------- v0/v1 negotiation

test('upload-pack v0: the clone and fetch examples of gitprotocol-pack, byte for byte', async () => {
  const clone =
    `0054want ${A} multi_ack side-band-64k ofs-delta\n` +
    `0032want ${B}\n0032want ${C}\n0032want ${D}\n0032want ${A}\n0000` + '0009done\n'
  const bytes = cat(formatUploadRequest({ wants: [A, B, C, D, A], capabilities: ['multi_ack', 'side-band-64k', 'ofs-delta'] }), formatHaves([], 'done'))
  assert.equal(s(bytes), clone)
  const r = reader(clone, 9)
  const req = await readUploadRequest(r)
  assert.deepEqual(req?.wants, [A, B, C, D, A])
  assert.deepEqual(req?.capabilities.toArray(), ['multi_ack', 'side-band-64k', 'ofs-delta'])
  assert.deepEqual(await readHaves(r), { haves: [], done: true })
  assert.equal(await readHaves(r), null)

  const fetchHaves = `0032have ${D}\n0032have ${A}\n0000`
  assert.equal(s(formatHaves([D, A], 'flush')), fetchHaves)
  assert.deepEqual(await readHaves(reader(fetchHaves)), { haves: [D, A], done: false })

  assert.equal(s(formatAck(D, 'continue')), `003aACK ${D} continue\n`)
  assert.equal(s(formatNak()), '0008NAK\n')
  assert.equal(s(formatAck(A)), `0031ACK ${A}\n`)
  const acks = reader(`003aACK ${D} continue\n003aACK ${A} continue\n0008NAK\n0031ACK ${A}\n`)
  assert.deepEqual(await readAck(acks), { type: 'ack', id: D, status: 'continue' })
  assert.deepEqual(await readAck(acks), { type: 'ack', id: A, status: 'continue' })
  assert.deepEqual(await readAck(acks), { type: 'nak' })
  assert.deepEqual(await readAck(acks), { type: 'ack', id: A })
  assert.throws(() => parseAck(`ACK ${A} maybe`), { code: 'LARIX_PROTOCOL' })
  await rejectsWith(readAck(reader(`${pl('ERR not our ref\n')}`)), 'LARIX_REMOTE', /not our ref/)

  // The want example of the HTTP protocol document.
  assert.equal(s(formatUploadRequest({ wants: ['0a53e9ddeaddad63ad106860237bbf53411d11a7'] })), '0032want 0a53e9ddeaddad63ad106860237bbf53411d11a7\n0000')
})

test('upload-pack v0: shallow requests and updates; bad requests refused', async () => {
  const wire = formatUploadRequest({ wants: [A], capabilities: ['shallow'], shallow: [B], deepen: 3, deepenNot: ['refs/heads/old'], filter: 'blob:none' })
  assert.equal(s(wire), `${pl(`want ${A} shallow\n`)}${pl(`shallow ${B}\n`)}${pl(`deepen 3\n`)}${pl(`deepen-not refs/heads/old\n`)}${pl(`filter blob:none\n`)}0000`)
  const req = await readUploadRequest(reader(wire))
  assert.deepEqual(req, { wants: [A], capabilities: req!.capabilities, shallow: [B], deepen: 3, deepenNot: ['refs/heads/old'], filter: 'blob:none' })
  assert.equal(await readUploadRequest(reader('0000')), null, 'a lone flush: the client wants nothing')
  assert.equal(await readUploadRequest(reader('')), null)
  const update = formatShallowUpdate({ shallow: [A], unshallow: [B] })
  assert.deepEqual(await readShallowUpdate(reader(update)), { shallow: [A], unshallow: [B] })
  const bad: [string, RegExp][] = [
    [`${pl(`want ${A.toUpperCase().slice(0, 39)}x\n`)}0000`, /bad object id/],
    [`${pl(`want ${A}\n`)}${pl(`want ${B} shallow\n`)}0000`, /bad want line/],
    [`${pl(`deepen 0\n`)}0000`, /bad depth/],
    [`${pl(`deepen -1\n`)}0000`, /bad depth/],
    [`${pl(`shallow ${A}\n`)}0000`, /without a want/],
    [`${pl(`have\n`)}0000`, /unexpected line/],
    [`${pl(`want ${A}\n`)}`, /stream ended/],
    [`${pl(`want ${A}\n`)}0001`, /delim/],
  ]
  for (const [w, message] of bad) await rejectsWith(readUploadRequest(reader(w)), 'LARIX_PROTOCOL', message)
  assert.deepEqual((await readUploadRequest(reader(`${pl(`want ${A.toUpperCase()}\n`)}0000`)))?.wants, [A], 'ids are case-insensitive on the wire')
  assert.throws(() => formatUploadRequest({ wants: [] }), { code: 'LARIX_BAD_ARGUMENT' })
  assert.throws(() => formatUploadRequest({ wants: [A], deepen: 0 }), { code: 'LARIX_BAD_ARGUMENT' })
  await rejectsWith(readHaves(reader(`${pl(`have ${A}\n`)}`)), 'LARIX_PROTOCOL')
})

// ---------------------------------------------------------------------------------------------- v2

test('v2: command requests, ls-refs and fetch arguments round-trip and refuse unknown lines', async () => {
  const lsArgs = formatLsRefsArgs({ peel: true, symrefs: true, unborn: true, refPrefixes: ['HEAD', 'refs/heads/', 'refs/tags/'] })
  const lsRefs = formatCommandRequest({ command: 'ls-refs', capabilities: ['agent=git/2.39.5', 'object-format=sha1'], args: lsArgs })
  // What git 2.39 sends, except that Git leaves the LF off its capability lines (receivers must not mind).
  assert.equal(s(lsRefs), '0014command=ls-refs\n0015agent=git/2.39.5\n0017object-format=sha1\n00010009peel\n000csymrefs\n000bunborn\n0014ref-prefix HEAD\n001bref-prefix refs/heads/\n001aref-prefix refs/tags/\n0000')
  const gitSent = '0014command=ls-refs\n0014agent=git/2.39.50016object-format=sha100010009peel\n000csymrefs\n000bunborn\n0014ref-prefix HEAD\n001bref-prefix refs/heads/\n001aref-prefix refs/tags/\n0000'
  const fromGit = await readCommandRequest(reader(gitSent))
  assert.deepEqual(fromGit?.capabilities.toArray(), ['agent=git/2.39.5', 'object-format=sha1'])
  assert.deepEqual(fromGit?.args, lsArgs)
  const r = reader(cat(lsRefs, FLUSH_PKT), 11)
  const req = await readCommandRequest(r)
  assert.equal(req?.command, 'ls-refs')
  assert.equal(req?.capabilities.get('agent'), 'git/2.39.5')
  assert.deepEqual(parseLsRefsArgs(req!.args), { symrefs: true, peel: true, unborn: true, refPrefixes: ['HEAD', 'refs/heads/', 'refs/tags/'] })
  assert.equal(await readCommandRequest(r), null, 'an empty request ends the session')
  assert.equal(await readCommandRequest(r), null)

  const fetch: FetchArgs = {
    wants: [A, B], haves: [C], done: true, thinPack: true, noProgress: true, includeTag: true, ofsDelta: true, shallow: [D],
    deepen: 1, deepenRelative: true, deepenNot: [], filter: 'blob:limit=1024', wantRefs: ['refs/heads/main'], sidebandAll: false, waitForDone: false,
  }
  assert.deepEqual(parseFetchArgs(formatFetchArgs(fetch)), fetch)
  assert.deepEqual(formatFetchArgs({ thinPack: true, noProgress: true, includeTag: true, ofsDelta: true, deepen: 1, wants: [A], done: true }),
    ['thin-pack', 'no-progress', 'include-tag', 'ofs-delta', 'deepen 1', 'want ' + A, 'done'])
  for (const bad of ['want ' + A.slice(1), 'have', 'done now', 'deepen 1x', 'deepen 0', 'frobnicate', 'want-ref refs/heads/a b', 'filter ']) {
    assert.throws(() => parseFetchArgs([bad]), { code: 'LARIX_PROTOCOL' }, bad)
  }
  assert.throws(() => parseFetchArgs(['deepen 1', 'deepen-since 5']), { code: 'LARIX_PROTOCOL' })
  assert.throws(() => parseLsRefsArgs(['peel', 'ref-prefix']), { code: 'LARIX_PROTOCOL' })
  assert.throws(() => parseLsRefsArgs(['tags']), { code: 'LARIX_PROTOCOL' })
  await rejectsWith(readCommandRequest(reader(`${pl('command=\n')}0000`)), 'LARIX_PROTOCOL')
  await rejectsWith(readCommandRequest(reader(`${pl('fetch\n')}0000`)), 'LARIX_PROTOCOL', /command=/)
  await rejectsWith(readCommandRequest(reader(`${pl('command=fetch\n')}00010001`)), 'LARIX_PROTOCOL')
  await rejectsWith(readCommandRequest(reader(`${pl('command=fetch\n')}`)), 'LARIX_PROTOCOL', /ended/)
})

const fetchArgsArb: fc.Arbitrary<FetchArgs> = fc.record({
  wants: fc.array(idArb, { maxLength: 3 }), haves: fc.array(idArb, { maxLength: 3 }), done: fc.boolean(), thinPack: fc.boolean(),
  noProgress: fc.boolean(), includeTag: fc.boolean(), ofsDelta: fc.boolean(), shallow: fc.array(idArb, { maxLength: 2 }),
  deepenRelative: fc.boolean(), deepenNot: fc.array(refArb, { maxLength: 2 }), wantRefs: fc.array(refArb, { maxLength: 2 }),
  sidebandAll: fc.boolean(), waitForDone: fc.boolean(),
}).chain(a => fc.record({
  deepen: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
  filter: fc.option(fc.constantFrom('blob:none', 'tree:0', 'blob:limit=1024'), { nil: undefined }),
}).map(o => {
  const out: FetchArgs = { ...a }
  if (o.deepen !== undefined && a.deepenNot.length === 0) out.deepen = o.deepen
  if (o.filter !== undefined) out.filter = o.filter
  return out
}))

test('v2 property: fetch and ls-refs requests round-trip through a command request', async () => {
  await fc.assert(fc.asyncProperty(fetchArgsArb, fc.array(capArb, { maxLength: 4 }), fc.integer({ min: 1, max: 40 }), async (args, caps, chunk) => {
    const wire = formatCommandRequest({ command: 'fetch', capabilities: caps, args: formatFetchArgs(args) })
    const req = await readCommandRequest(reader(wire, chunk))
    assert.deepEqual(req?.capabilities.toArray(), caps)
    assert.deepEqual(parseFetchArgs(req!.args), args)
  }), { numRuns: 150 })
})

test('v2: ls-refs output with unborn HEAD, symref targets and peeled tags', async () => {
  const refs: LsRef[] = [
    { name: 'HEAD', id: null, symrefTarget: 'refs/heads/main' },
    { name: 'refs/heads/dev', id: A },
    { name: 'refs/tags/v1', id: B, peeled: C },
  ]
  const wire = formatLsRefsResponse(refs)
  assert.equal(s(wire), `${pl(`unborn HEAD symref-target:refs/heads/main\n`)}${pl(`${A} refs/heads/dev\n`)}${pl(`${B} refs/tags/v1 peeled:${C}\n`)}0000`)
  assert.deepEqual(await readLsRefsResponse(reader(wire, 6)), refs)
  await rejectsWith(readLsRefsResponse(reader(`${pl(`${A} refs/tags/v1 sorted\n`)}0000`)), 'LARIX_PROTOCOL', /attribute/)
  await rejectsWith(readLsRefsResponse(reader(`${pl(`${A}\n`)}0000`)), 'LARIX_PROTOCOL')
})

test('v2: fetch responses — acknowledgments only, and sections before the packfile', async () => {
  const acksOnly = formatFetchResponse({ acknowledgments: { nak: false, acks: [A, B], ready: false } })
  assert.equal(s(acksOnly), `${pl(`acknowledgments\n`)}${pl(`ACK ${A}\n`)}${pl(`ACK ${B}\n`)}0000`)
  const a = await readFetchResponse(reader(acksOnly))
  assert.deepEqual(a, { acknowledgments: { nak: false, acks: [A, B], ready: false } })

  const head = formatFetchResponse({
    acknowledgments: { nak: false, acks: [A], ready: true }, shallowInfo: { shallow: [B], unshallow: [C] },
    wantedRefs: [{ id: D, name: 'refs/heads/main' }], packfile: true,
  })
  const pack = new Uint8Array(100_000).map((_, i) => (i * 31) & 255)
  const progress: string[] = []
  const wire = cat(head, encodeSideband(2, 'Enumerating objects: 3\n'), encodeSideband(1, pack), FLUSH_PKT)
  const res = await readFetchResponse(reader(wire, 4093), { onProgress: m => progress.push(m) })
  assert.deepEqual(res.acknowledgments, { nak: false, acks: [A], ready: true })
  assert.deepEqual(res.shallowInfo, { shallow: [B], unshallow: [C] })
  assert.deepEqual(res.wantedRefs, [{ id: D, name: 'refs/heads/main' }])
  assert.deepEqual(await collect(res.packfile!), pack)
  assert.deepEqual(progress, ['Enumerating objects: 3\n'])

  const bad: [string, RegExp][] = [
    [`${pl(`acknowledgments\n`)}${pl(`NAK\n`)}${pl(`ACK ${A}\n`)}0000`, /unexpected acknowledgment/],
    [`${pl('acknowledgments\n')}${pl('ready\n')}0000`, /expected a packfile after "ready"/],
    [`${pl('acknowledgments\n')}${pl('NAK\n')}0001${pl('packfile\n')}0000`, /without "ready"/],
    [`${pl('shallow-info\n')}0001${pl('packfile\n')}0001`, /out of order|delim/],
    [`${pl('packfile\n')}${pl('shallow-info\n')}`, /.*/],
    [`${pl('unknown\n')}0000`, /unknown fetch response section/],
    [`${pl('shallow-info\n')}0000`, /delim/],
    [`${pl('acknowledgments\n')}${pl('ready\n')}${pl('NAK\n')}0001`, /after "ready"/],
  ]
  for (const [w, message] of bad) {
    await rejectsWith((async () => { const r = await readFetchResponse(reader(w)); if (r.packfile) await collect(r.packfile) })(), 'LARIX_PROTOCOL', message)
  }
  await rejectsWith((async () => {
    const r = await readFetchResponse(reader(cat(b(`${pl('packfile\n')}`), encodeSideband(3, 'fatal: out of memory\n'))))
    await collect(r.packfile!)
  })(), 'LARIX_REMOTE', /out of memory/)
  assert.throws(() => formatFetchResponse({ acknowledgments: { nak: true, acks: [A], ready: false } }), { code: 'LARIX_BAD_ARGUMENT' })
  assert.throws(() => formatFetchResponse({ acknowledgments: { nak: true, acks: [], ready: false }, packfile: true }), { code: 'LARIX_BAD_ARGUMENT' })
})

// ------------------------------------------------------------------------------------------ receive-pack

test('receive-pack: the push example of gitprotocol-pack, byte for byte, with the raw pack after it', async () => {
  const commands = `0067${B} ${A} refs/heads/debug\n0068${A} ${C} refs/heads/master\n0000`
  // The document's example carries no capabilities; Git always sends a NUL on the first command.
  const ours = formatReceiveRequest({ commands: [{ oldId: B, newId: A, ref: 'refs/heads/debug' }, { oldId: A, newId: C, ref: 'refs/heads/master' }] })
  assert.equal(s(ours), commands.replace(`0067${B} ${A} refs/heads/debug\n`, `0068${B} ${A} refs/heads/debug\0\n`))
  const pack = cat(b('PACK'), new Uint8Array([0, 0, 0, 2, 0, 0, 0, 0]), new Uint8Array(20).fill(9))
  for (const chunk of [0, 1, 7]) {
    const r = reader(cat(b(commands), pack), chunk)
    const req = await readReceiveRequest(r)
    assert.deepEqual(req?.commands, [{ oldId: B, newId: A, ref: 'refs/heads/debug' }, { oldId: A, newId: C, ref: 'refs/heads/master' }])
    assert.deepEqual(await collect(r.rest()), pack)
  }
  const report = '000eunpack ok\n0018ok refs/heads/debug\n002ang refs/heads/master non-fast-forward\n0000'
  const status: ReportStatus = { unpackOk: true, refs: [{ ref: 'refs/heads/debug', ok: true }, { ref: 'refs/heads/master', ok: false, reason: 'non-fast-forward' }] }
  assert.equal(s(formatReportStatus(status)), report)
  assert.deepEqual(await readReportStatus(reader(report, 5)), status)
})

test('receive-pack: capabilities, push options, report-status-v2 options; garbage refused', async () => {
  const wire = formatReceiveRequest({
    commands: [{ oldId: ZERO_ID, newId: A, ref: 'refs/heads/new' }, { oldId: B, newId: ZERO_ID, ref: 'refs/tags/old' }],
    capabilities: ['report-status-v2', 'side-band-64k', 'push-options', 'atomic'], pushOptions: ['ci.skip', 'reviewer=ann'], shallow: [C],
  })
  const req = await readReceiveRequest(reader(wire, 3))
  assert.deepEqual(req?.shallow, [C])
  assert.deepEqual(req?.pushOptions, ['ci.skip', 'reviewer=ann'])
  assert.ok(req?.capabilities.has('atomic'))
  assert.equal(req?.commands[1].newId, ZERO_ID)
  assert.equal(await readReceiveRequest(reader('0000')), null)

  const v2: ReportStatus = {
    unpackOk: true,
    refs: [
      { ref: 'refs/for/main', ok: true, options: { refname: 'refs/changes/1/head', oldId: ZERO_ID, newId: A, forcedUpdate: true } },
      { ref: 'refs/heads/x', ok: false, reason: 'hook declined' },
    ],
  }
  assert.deepEqual(await readReportStatus(reader(formatReportStatus(v2))), v2)
  const failed: ReportStatus = { unpackOk: false, unpackError: 'index-pack abnormal exit', refs: [{ ref: 'refs/heads/x', ok: false, reason: 'unpacker error' }] }
  assert.deepEqual(await readReportStatus(reader(formatReportStatus(failed))), failed)

  const bad: [string, RegExp][] = [
    [`${pl(`${B} ${A} refs/heads/a b\n`)}0000`, /bad ref name/],
    [`${pl(`${B} ${A} refs/heads/a\n`)}0000`.replace(B, B.slice(0, 39) + 'z'), /bad object id/],
    [`${pl(`${B} ${A}\n`)}0000`, /expected/],
    [`${pl(`push-cert\0report-status\n`)}0000`, /push certificates/],
  ]
  for (const [w, message] of bad) await rejectsWith(readReceiveRequest(reader(w)), 'LARIX_PROTOCOL', message)
  await rejectsWith(readReportStatus(reader(`${pl('unpack ok\n')}${pl('option foo\n')}0000`)), 'LARIX_PROTOCOL', /follow an ok/)
  await rejectsWith(readReportStatus(reader(`${pl('hello\n')}0000`)), 'LARIX_PROTOCOL', /unpack/)
  assert.throws(() => formatReceiveRequest({ commands: [{ oldId: A, newId: B, ref: 'main' }] }), { code: 'LARIX_BAD_REF' })
  assert.throws(() => formatReceiveRequest({ commands: [{ oldId: A, newId: B, ref: 'refs/heads/m' }], pushOptions: ['x'] }), { code: 'LARIX_BAD_ARGUMENT' })
})

// ------------------------------------------------------------------------------------------- git://

test('git:// request lines: the examples of gitprotocol-pack and gitprotocol-v2, byte for byte', async () => {
  const examples: [string, Parameters<typeof formatGitProtoRequest>[0]][] = [
    ['0033git-upload-pack /project.git\0host=myserver.com\0', { service: 'git-upload-pack', path: '/project.git', host: 'myserver.com', extraParameters: [] }],
    ['003egit-upload-pack /project.git\0host=myserver.com\0\0version=1\0', { service: 'git-upload-pack', path: '/project.git', host: 'myserver.com', extraParameters: ['version=1'] }],
    ['003egit-upload-pack /project.git\0host=myserver.com\0\0version=2\0', { service: 'git-upload-pack', path: '/project.git', host: 'myserver.com', extraParameters: ['version=2'] }],
    ['0045git-upload-pack /schacon/gitbook.git\0host=example.com\0\0version=1\0', { service: 'git-upload-pack', path: '/schacon/gitbook.git', host: 'example.com', extraParameters: ['version=1'] }],
    [`${pl('git-receive-pack /r\0\0version=2\0')}`, { service: 'git-receive-pack', path: '/r', extraParameters: ['version=2'] }],
  ]
  for (const [wire, req] of examples) {
    assert.equal(s(formatGitProtoRequest(req)), wire)
    const got = await readGitProtoRequest(reader(wire, 5))
    assert.deepEqual(got, req)
  }
  for (const bad of ['git-upload-pack /p', 'upload-pack /p\0', 'git-upload-pack /p\0host=x', 'git-upload-pack \0', 'git-upload-pack /p\0junk\0\0version=2\0']) {
    assert.throws(() => parseGitProtoRequest(bad), { code: 'LARIX_PROTOCOL' }, JSON.stringify(bad))
  }
  await rejectsWith(readGitProtoRequest(reader('0000')), 'LARIX_PROTOCOL')
  assert.deepEqual(parseProtocolParameters('version=2:object-format=sha1'), ['version=2', 'object-format=sha1'])
  assert.equal(protocolVersion(parseProtocolParameters('version=2')), 2)
  assert.equal(protocolVersion(['version=1']), 1)
  assert.equal(protocolVersion(['version=3', 'foo']), 0)
  assert.equal(protocolVersion([]), 0)
})

// ------------------------------------------------------------------------------------ parser fuzzing

test('message parser fuzz: random or mutated input gives a result or a LARIX_* error, never another exception or a hang', async () => {
  const valid = [
    formatRefAdvertisement({ refs: [{ name: 'HEAD', id: A }, { name: 'refs/tags/v1', id: B, peeled: C }], capabilities: ['symref=HEAD:refs/heads/main', 'ofs-delta'], shallow: [D] }),
    formatV2Advertisement(['agent=x', 'fetch=shallow']),
    formatUploadRequest({ wants: [A, B], capabilities: ['side-band-64k'], deepen: 2 }),
    formatHaves([A, B], 'done'),
    formatCommandRequest({ command: 'fetch', capabilities: ['agent=x'], args: formatFetchArgs({ wants: [A], haves: [B], done: true }) }),
    formatLsRefsResponse([{ name: 'HEAD', id: null, symrefTarget: 'refs/heads/main' }, { name: 'refs/tags/v', id: A, peeled: B }]),
    cat(formatFetchResponse({ acknowledgments: { nak: false, acks: [A], ready: true }, shallowInfo: { shallow: [A], unshallow: [] }, packfile: true }), encodeSideband(1, 'PACK'), FLUSH_PKT),
    formatReceiveRequest({ commands: [{ oldId: A, newId: B, ref: 'refs/heads/main' }], capabilities: ['report-status', 'push-options'], pushOptions: ['x'] }),
    formatReportStatus({ unpackOk: true, refs: [{ ref: 'refs/heads/main', ok: true, options: { newId: A } }] }),
    formatGitProtoRequest({ service: 'git-upload-pack', path: '/x', host: 'h', extraParameters: ['version=2'] }),
  ]
  const parsers: ((r: PktLineReader) => Promise<unknown>)[] = [
    r => readAdvertisement(r), r => readUploadRequest(r), r => readHaves(r), r => readAck(r), r => readShallowUpdate(r),
    r => readCommandRequest(r), r => readLsRefsResponse(r),
    async r => { const x = await readFetchResponse(r); if (x.packfile) await collect(x.packfile); return x },
    r => readReceiveRequest(r), r => readReportStatus(r), r => readGitProtoRequest(r),
    async r => collect(demuxSideband(r)),
  ]
  // Mutations of valid messages reach deep into the parsers; plain random bytes test the framing.
  const mutated = fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
    .map(([msg, flips, cut]) => {
      const m = Uint8Array.from(msg)
      for (const [i, v] of flips) m[i % m.length] = v
      return cut % 3 === 0 ? m.subarray(0, cut % (m.length + 1)) : m
    })
  const lines = fc.array(fc.oneof(
    fc.constantFrom('want ' + A, 'have ' + B, 'done', 'shallow ' + C, 'deepen 1', 'ACK ' + A, 'NAK', 'ready', 'packfile', 'acknowledgments',
      'shallow-info', 'unshallow ' + A, 'command=fetch', 'version 2', 'unpack ok', 'ok refs/heads/x', 'ng refs/heads/x no', 'option refname refs/heads/y',
      `${A} refs/heads/main`, `${A} refs/heads/main^{}`, `${ZERO_ID} capabilities^{}\0a b`, `${A} ${B} refs/heads/m\0report-status`, 'ERR boom'),
    fc.string({ maxLength: 20 }),
  ).map(t => encodeTextLine(t)), { maxLength: 8 }).chain(ls => fc.array(fc.constantFrom(FLUSH_PKT, DELIM_PKT, RESPONSE_END_PKT), { maxLength: 2 }).map(sp => cat(...ls, ...sp)))
  const inputs = fc.oneof(mutated, lines, fc.uint8Array({ maxLength: 120 }))
  await fc.assert(fc.asyncProperty(inputs, fc.integer({ min: 1, max: 30 }), async (bytes, chunk) => {
    for (const parse of parsers) {
      try {
        await withTimeout(parse(reader(bytes, chunk)))
      } catch (e) {
        assert.ok(e instanceof LarixError && /^LARIX_(BAD_PKT_LINE|PROTOCOL|REMOTE)$/.test(e.code), `unexpected ${String(e)} on ${JSON.stringify(s(bytes))}`)
      }
    }
  }), { numRuns: 400 })
})

// ------------------------------------------------------------------------------- interop with git

const tmp = mkdtempSync(join(tmpdir(), 'larix-wire-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const baseEnv = {
  ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_AUTHOR_NAME: 'Ann', GIT_AUTHOR_EMAIL: 'ann@example.org',
  GIT_COMMITTER_NAME: 'Ann', GIT_COMMITTER_EMAIL: 'ann@example.org', GIT_AUTHOR_DATE: '1700000000 +0000', GIT_COMMITTER_DATE: '1700000000 +0000',
}
/** Run git; its stdout as a plain Uint8Array (also when it fails: `allowFailure` keeps what it printed). */
function git(args: string[], opts: { cwd?: string; input?: Uint8Array; env?: Record<string, string>; allowFailure?: boolean } = {}): Uint8Array {
  let out: Buffer
  try {
    out = execFileSync('git', args, { cwd: opts.cwd ?? tmp, input: opts.input, env: { ...baseEnv, ...opts.env }, maxBuffer: 1 << 26, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (e) {
    if (!opts.allowFailure) throw e
    out = (e as { stdout: Buffer }).stdout
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}
const gitText = (args: string[], cwd?: string): string => s(git(args, { cwd })).trim()

let repo = ''
let ids: Record<string, string> = {}
function setup(): void {
  if (repo) return
  repo = join(tmp, 'src.git')
  const work = join(tmp, 'work')
  git(['init', '-q', '-b', 'main', work])
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(work, 'f.txt'), `line ${i}\n`)
    git(['add', 'f.txt'], { cwd: work })
    git(['commit', '-q', '-m', `c${i}`], { cwd: work })
  }
  git(['branch', 'dev', 'HEAD~1'], { cwd: work })
  git(['branch', 'feature/x', 'HEAD~2'], { cwd: work })
  git(['tag', 'light', 'HEAD~1'], { cwd: work })
  git(['tag', '-a', '-m', 'annotated', 'v1'], { cwd: work })
  git(['clone', '-q', '--bare', work, repo])
  ids = {
    main: gitText(['rev-parse', 'main'], repo), dev: gitText(['rev-parse', 'dev'], repo), feature: gitText(['rev-parse', 'feature/x'], repo),
    v1: gitText(['rev-parse', 'v1'], repo), root: gitText(['rev-parse', 'main~2'], repo),
  }
}

/** Run `git http-backend` as a CGI, the way a web server would; returns the body. */
function httpBackend(path: string, opts: { query?: string; body?: Uint8Array; protocol?: string; user?: string } = {}): { status: string; contentType: string; body: Uint8Array } {
  const out = git(['http-backend'], {
    input: opts.body ?? new Uint8Array(0), allowFailure: true,
    env: {
      GIT_PROJECT_ROOT: tmp, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: path, QUERY_STRING: opts.query ?? '',
      REQUEST_METHOD: opts.body ? 'POST' : 'GET', CONTENT_LENGTH: String(opts.body?.length ?? 0),
      CONTENT_TYPE: opts.body ? `application/x-${path.split('/').pop()}-request` : '',
      ...(opts.protocol ? { HTTP_GIT_PROTOCOL: opts.protocol } : {}), ...(opts.user ? { REMOTE_USER: opts.user } : {}),
    },
  })
  const split = Buffer.from(out).indexOf('\r\n\r\n')
  const headers = s(out.subarray(0, split))
  return { status: /^Status: (.*)$/m.exec(headers)?.[1] ?? '200 OK', contentType: /^Content-Type: (.*)$/m.exec(headers)?.[1]?.trim() ?? '', body: out.subarray(split + 4) }
}

/** A pack's last 20 bytes are the SHA-1 of the rest; `git index-pack` accepts it. */
function checkPack(pack: Uint8Array, indexPack = false): void {
  assert.equal(s(pack.subarray(0, 4)), 'PACK')
  const digest = createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest('hex')
  assert.equal(Buffer.from(pack.subarray(pack.length - 20)).toString('hex'), digest)
  if (indexPack) {
    const file = join(tmp, `p${Math.random().toString(36).slice(2)}.pack`)
    writeFileSync(file, pack)
    git(['index-pack', file], { cwd: repo })
  }
}

function emptyPack(): Uint8Array {
  const head = cat(b('PACK'), new Uint8Array([0, 0, 0, 2, 0, 0, 0, 0]))
  return cat(head, createHash('sha1').update(head).digest())
}

test('interop: advertisements printed by git upload-pack and receive-pack (v0, v1, v2, smart HTTP, empty repositories)', async () => {
  setup()
  const v0 = await readAdvertisement(reader(git(['upload-pack', '--advertise-refs', repo]), 13)) as RefAdvertisement
  assert.equal(v0.version, 0)
  assert.deepEqual(v0.refs, [
    { name: 'HEAD', id: ids.main },
    { name: 'refs/heads/dev', id: ids.dev },
    { name: 'refs/heads/feature/x', id: ids.feature },
    { name: 'refs/heads/main', id: ids.main },
    { name: 'refs/tags/light', id: ids.dev },
    { name: 'refs/tags/v1', id: ids.v1, peeled: ids.main },
  ])
  assert.equal(v0.symrefs.get('HEAD'), 'refs/heads/main')
  for (const c of ['multi_ack_detailed', 'side-band-64k', 'ofs-delta', 'shallow', 'no-done', 'include-tag']) assert.ok(v0.capabilities.has(c), c)
  assert.match(v0.capabilities.get('agent') ?? '', /^git\//)
  assert.equal(v0.capabilities.get('object-format'), 'sha1')
  // Our formatter reproduces Git's advertisement byte for byte.
  assert.deepEqual(formatRefAdvertisement({ refs: v0.refs, capabilities: v0.capabilities }), git(['upload-pack', '--advertise-refs', repo]))

  const v1 = await readAdvertisement(reader(git(['upload-pack', '--advertise-refs', repo], { env: { GIT_PROTOCOL: 'version=1' } }))) as RefAdvertisement
  assert.equal(v1.version, 1)
  assert.deepEqual(v1.refs, v0.refs)

  const v2wire = git(['upload-pack', '--advertise-refs', '--stateless-rpc', repo], { env: { GIT_PROTOCOL: 'version=2' } })
  const v2 = await readAdvertisement(reader(v2wire)) as V2Advertisement
  assert.equal(v2.version, 2)
  assert.ok(v2.capabilities.has('ls-refs'))
  assert.ok(v2.capabilities.features('fetch').includes('shallow'))
  assert.ok(v2.capabilities.has('server-option'))
  assert.equal(v2.capabilities.get('object-format'), 'sha1')
  assert.deepEqual(formatV2Advertisement(v2.capabilities), v2wire)
  const info = git(['upload-pack', '--http-backend-info-refs', repo], { env: { GIT_PROTOCOL: 'version=2' } })
  assert.deepEqual(info, v2wire)

  const rp = await readAdvertisement(reader(git(['receive-pack', '--advertise-refs', repo]))) as RefAdvertisement
  assert.deepEqual(rp.refs.map(r => r.name), ['refs/heads/dev', 'refs/heads/feature/x', 'refs/heads/main', 'refs/tags/light', 'refs/tags/v1'])
  for (const c of ['report-status', 'report-status-v2', 'delete-refs', 'side-band-64k', 'atomic', 'ofs-delta']) assert.ok(rp.capabilities.has(c), c)

  const empty = join(tmp, 'empty.git')
  git(['init', '-q', '--bare', empty])
  const eu = await readAdvertisement(reader(git(['upload-pack', '--advertise-refs', empty]))) as RefAdvertisement
  assert.deepEqual(eu.refs, [])
  const er = await readAdvertisement(reader(git(['receive-pack', '--advertise-refs', empty]))) as RefAdvertisement
  assert.deepEqual(er.refs, [])
  assert.ok(er.capabilities.has('report-status'))

  // Smart HTTP through git http-backend: the `# service=` preamble for v0, none for v2.
  const http0 = httpBackend('/src.git/info/refs', { query: 'service=git-upload-pack' })
  assert.equal(http0.contentType, 'application/x-git-upload-pack-advertisement')
  assert.match(s(http0.body.subarray(0, 5)), /^[0-9a-f]{4}#/, 'clients must check the first five bytes')
  const h0 = await readAdvertisement(reader(http0.body, 100), { service: 'git-upload-pack' }) as RefAdvertisement
  assert.equal(h0.service, 'git-upload-pack')
  assert.deepEqual(h0.refs, v0.refs)
  assert.deepEqual(formatRefAdvertisement({ service: 'git-upload-pack', refs: h0.refs, capabilities: h0.capabilities }), http0.body)
  const http2 = httpBackend('/src.git/info/refs', { query: 'service=git-upload-pack', protocol: 'version=2' })
  assert.equal((await readAdvertisement(reader(http2.body), { service: 'git-upload-pack' })).version, 2)
})

/** Wrap git upload-pack / receive-pack to record what the real client sends and the server answers. */
function recorder(service: 'upload-pack' | 'receive-pack'): string {
  const script = join(tmp, `record-${service}.sh`)
  writeFileSync(script, `#!/bin/sh\ntee "$WIRE.in" | git ${service} "$@" | tee "$WIRE.out"\n`)
  chmodSync(script, 0o755)
  return script
}

test('interop: what git clone sends and receives in protocol v0 (want lines, done, NAK, side-band pack)', async () => {
  setup()
  const wire = join(tmp, 'clone-v0')
  git(['-c', 'protocol.version=0', 'clone', '-q', '--no-local', `--upload-pack=${recorder('upload-pack')}`, repo, join(tmp, 'c0')], { env: { WIRE: wire } })
  const sent = reader(readFileSync(wire + '.in'), 17)
  const req = await readUploadRequest(sent)
  assert.ok(req)
  assert.deepEqual(new Set(req.wants), new Set([ids.main, ids.dev, ids.feature, ids.v1]))
  assert.ok(req.capabilities.has('side-band-64k'))
  assert.ok(req.capabilities.has('ofs-delta'))
  assert.match(req.capabilities.get('agent') ?? '', /^git\//)
  assert.deepEqual(await readHaves(sent), { haves: [], done: true })
  // Re-formatting what we parsed gives Git's exact bytes.
  assert.deepEqual(cat(formatUploadRequest(req), formatHaves([], 'done')), Uint8Array.from(readFileSync(wire + '.in')))

  const got = reader(readFileSync(wire + '.out'), 4096)
  const adv = await readAdvertisement(got) as RefAdvertisement
  assert.equal(adv.refs.length, 6)
  assert.deepEqual(await readAck(got), { type: 'nak' })
  const pack = await collect(demuxSideband(got))
  checkPack(pack, true)
  assert.equal((await got.read()).type, 'end')
})

test('interop: what git clone sends and receives in protocol v2 (ls-refs, shallow fetch, shallow-info, packfile)', async () => {
  setup()
  const wire = join(tmp, 'clone-v2')
  git(['-c', 'protocol.version=2', 'clone', '-q', '--depth', '1', `--upload-pack=${recorder('upload-pack')}`, 'file://' + repo, join(tmp, 'c2')], { env: { WIRE: wire } })
  const sentBytes = Uint8Array.from(readFileSync(wire + '.in'))
  const sent = reader(sentBytes, 5)
  const ls = await readCommandRequest(sent)
  assert.equal(ls?.command, 'ls-refs')
  assert.equal(ls?.capabilities.get('object-format'), 'sha1')
  const lsArgs = parseLsRefsArgs(ls!.args)
  assert.ok(lsArgs.symrefs && lsArgs.peel)
  assert.ok(lsArgs.refPrefixes.includes('refs/heads/'))
  const fetch = await readCommandRequest(sent)
  assert.equal(fetch?.command, 'fetch')
  const args = parseFetchArgs(fetch!.args)
  assert.equal(args.deepen, 1)
  assert.ok(args.done && args.ofsDelta && args.thinPack)
  assert.ok(args.wants.includes(ids.main))
  assert.equal(await readCommandRequest(sent), null, 'the client ends with an empty request')
  // Our formatters say the same thing (Git leaves the LF off some lines, so compare what is said, not the bytes).
  const ours = reader(cat(
    formatCommandRequest({ command: 'ls-refs', capabilities: ls!.capabilities, args: formatLsRefsArgs(lsArgs) }),
    formatCommandRequest({ command: 'fetch', capabilities: fetch!.capabilities, args: formatFetchArgs(args) }),
  ))
  assert.deepEqual(await readCommandRequest(ours), ls)
  assert.deepEqual(await readCommandRequest(ours), fetch)
  assert.deepEqual(formatFetchArgs(args), fetch!.args, 'and the fetch arguments in the order Git sends them')

  const got = reader(readFileSync(wire + '.out'), 1000)
  assert.equal((await readAdvertisement(got)).version, 2)
  const refs = await readLsRefsResponse(got)
  assert.deepEqual(refs.find(r => r.name === 'HEAD'), { name: 'HEAD', id: ids.main, symrefTarget: 'refs/heads/main' })
  assert.deepEqual(refs.find(r => r.name === 'refs/tags/v1'), { name: 'refs/tags/v1', id: ids.v1, peeled: ids.main })
  const res = await readFetchResponse(got)
  assert.equal(res.acknowledgments, undefined, 'a request with done gets no acknowledgments')
  assert.ok(res.shallowInfo?.shallow.includes(ids.main))
  checkPack(await collect(res.packfile!), true)
})

test('interop: git http-backend answers the requests we format (v0 and v2 fetch, ls-refs, acknowledgments)', async () => {
  setup()
  // v0 stateless: wants, flush, done → NAK and a side-band pack.
  const v0 = httpBackend('/src.git/git-upload-pack', {
    body: cat(formatUploadRequest({ wants: [ids.main], capabilities: ['multi_ack_detailed', 'side-band-64k', 'ofs-delta', 'no-progress', 'agent=larix/test'] }), formatHaves([], 'done')),
  })
  assert.equal(v0.contentType, 'application/x-git-upload-pack-result')
  const r0 = reader(v0.body, 999)
  assert.deepEqual(await readAck(r0), { type: 'nak' })
  checkPack(await collect(demuxSideband(r0)))

  // v0 with a common have and done: ACK <id>.
  const v0b = reader(httpBackend('/src.git/git-upload-pack', {
    body: cat(formatUploadRequest({ wants: [ids.main], capabilities: ['side-band-64k'] }), formatHaves([ids.dev], 'done')),
  }).body)
  assert.deepEqual(await readAck(v0b), { type: 'ack', id: ids.dev })
  checkPack(await collect(demuxSideband(v0b)))

  // v2 ls-refs.
  const caps = ['agent=larix/test', 'object-format=sha1']
  const lsBody = formatCommandRequest({ command: 'ls-refs', capabilities: caps, args: formatLsRefsArgs({ symrefs: true, peel: true, refPrefixes: ['refs/tags/'] }) })
  const refs = await readLsRefsResponse(reader(httpBackend('/src.git/git-upload-pack', { body: lsBody, protocol: 'version=2' }).body))
  assert.deepEqual(refs, [{ name: 'refs/tags/light', id: ids.dev }, { name: 'refs/tags/v1', id: ids.v1, peeled: ids.main }])

  // v2 fetch without done: acknowledgments (common have, ready) then the packfile.
  const fetchBody = formatCommandRequest({ command: 'fetch', capabilities: caps, args: formatFetchArgs({ wants: [ids.main], haves: [ids.dev], ofsDelta: true }) })
  const res = await readFetchResponse(reader(httpBackend('/src.git/git-upload-pack', { body: fetchBody, protocol: 'version=2' }).body, 50))
  assert.deepEqual(res.acknowledgments?.acks, [ids.dev])
  assert.equal(res.acknowledgments?.ready, true)
  checkPack(await collect(res.packfile!), true)

  // v2 fetch of an unknown object: Git answers with an ERR line, which is LARIX_REMOTE.
  const missing = formatCommandRequest({ command: 'fetch', capabilities: caps, args: formatFetchArgs({ wants: ['1'.repeat(40)], done: true }) })
  const bad = httpBackend('/src.git/git-upload-pack', { body: missing, protocol: 'version=2' })
  await rejectsWith((async () => { const r = await readFetchResponse(reader(bad.body)); if (r.packfile) await collect(r.packfile) })(), 'LARIX_REMOTE', /not our ref/)
})

test('interop: git push — the commands git sends, side-band report-status, and git receive-pack answering ours', async () => {
  setup()
  // What git push sends and receives (recorded through a wrapper around git receive-pack).
  const dst = join(tmp, 'dst.git')
  git(['init', '-q', '--bare', dst])
  git(['config', 'receive.denyNonFastForwards', 'true'], { cwd: dst })
  const wire = join(tmp, 'push')
  git(['push', '-q', `--receive-pack=${recorder('receive-pack')}`, dst, 'main', 'dev', 'v1'], { cwd: repo, env: { WIRE: wire } })
  const sent = reader(readFileSync(wire + '.in'), 7)
  const req = await readReceiveRequest(sent)
  assert.deepEqual(req?.commands.map(c => [c.ref, c.oldId, c.newId]).sort(), [
    ['refs/heads/dev', ZERO_ID, ids.dev], ['refs/heads/main', ZERO_ID, ids.main], ['refs/tags/v1', ZERO_ID, ids.v1],
  ])
  assert.ok(req?.capabilities.has('report-status-v2') || req?.capabilities.has('report-status'))
  assert.ok(req?.capabilities.has('side-band-64k'))
  checkPack(await collect(sent.rest()))
  const got = reader(readFileSync(wire + '.out'), 3)
  await readAdvertisement(got)
  const report = await readReportStatus(new PktLineReader(demuxSideband(got)))
  assert.equal(report.unpackOk, true)
  assert.deepEqual(report.refs.map(r => `${r.ok} ${r.ref}`).sort(), ['true refs/heads/dev', 'true refs/heads/main', 'true refs/tags/v1'])

  // A forced non-fast-forward push refused by the server: its message on channel 2, `ng` in the report.
  assert.throws(() => git(['push', '-q', '--force', `--receive-pack=${recorder('receive-pack')}`, dst, 'main~1:main'], { cwd: repo, env: { WIRE: wire } }))
  const refused = reader(readFileSync(wire + '.out'))
  await readAdvertisement(refused)
  const progress: string[] = []
  const ng = await readReportStatus(new PktLineReader(demuxSideband(refused, { onProgress: m => progress.push(m) })))
  assert.deepEqual(ng, { unpackOk: true, refs: [{ ref: 'refs/heads/main', ok: false, reason: 'non-fast-forward' }] })
  assert.match(progress.join(''), /denying non-fast-forward/)

  // git receive-pack (through http-backend) answering the push requests we format.
  const push = (body: Uint8Array): Promise<ReportStatus> => {
    const res = httpBackend('/dst.git/git-receive-pack', { body, user: 'ann' })
    assert.equal(res.contentType, 'application/x-git-receive-pack-result')
    return readReportStatus(new PktLineReader(demuxSideband(reader(res.body, 10))))
  }
  const capList = ['report-status', 'side-band-64k', 'delete-refs', 'agent=larix/test']
  assert.deepEqual(await push(cat(formatReceiveRequest({ commands: [{ ref: 'refs/heads/new', oldId: ZERO_ID, newId: ids.dev }], capabilities: capList }), emptyPack())),
    { unpackOk: true, refs: [{ ref: 'refs/heads/new', ok: true }] })
  assert.equal(gitText(['rev-parse', 'refs/heads/new'], dst), ids.dev)
  const rewind = await push(cat(formatReceiveRequest({ commands: [{ ref: 'refs/heads/main', oldId: ids.main, newId: ids.root }], capabilities: capList }), emptyPack()))
  assert.deepEqual(rewind.refs, [{ ref: 'refs/heads/main', ok: false, reason: 'non-fast-forward' }])
  const stale = await push(cat(formatReceiveRequest({ commands: [{ ref: 'refs/heads/dev', oldId: ids.root, newId: ids.main }], capabilities: capList }), emptyPack()))
  assert.equal(stale.refs[0].ok, false, 'a compare-and-set that lost is refused')
  assert.deepEqual(await push(formatReceiveRequest({ commands: [{ ref: 'refs/tags/v1', oldId: ids.v1, newId: ZERO_ID }], capabilities: capList })),
    { unpackOk: true, refs: [{ ref: 'refs/tags/v1', ok: true }] }, 'a delete-only push sends no pack')
  assert.throws(() => gitText(['rev-parse', '--verify', '-q', 'refs/tags/v1'], dst))
})
