// The JavaScript inflater (src/platform/browser/zlib.ts; the Node flavour uses it for objects up to
// 16 KiB) against native zlib itself: node:zlib's inflateSync, never the adapter that may delegate back to
// the inflater under test. Stored, fixed and dynamic Huffman blocks (zlib strategies and levels force each),
// streams followed by other bytes, and damaged or cut streams.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { constants, deflateSync, inflateSync } from 'node:zlib'
import fc from 'fast-check'
import { inflate, inflateAt } from '../src/platform/browser/zlib.js'
import { LarixError } from '../src/store/index.js'

const STRATEGIES = [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FILTERED]

/** Bytes of several shapes: random, few symbols, long repeats (far and near distances), text. */
const bodies = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.array(fc.constantFrom(...'abcdefgh {}":,0123\n'), { maxLength: 3000 }).map(a => new TextEncoder().encode(a.join(''))),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 60 })).map(([u, n]) => new Uint8Array(Array.from({ length: n }, () => [...u]).flat())),
  fc.tuple(fc.uint8Array({ maxLength: 40000 }), fc.nat(255)).map(([u, b]) => u.map((x, i) => (i % 7 === 0 ? x : b))),
)

/** How native zlib sees `bytes`: the data and the bytes of input it used, "short" or "bad". */
function native(bytes: Uint8Array): string {
  try {
    const r = inflateSync(bytes, { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } }
    return `ok ${createHash('sha1').update(r.buffer).digest('hex')} ${r.buffer.length} ${r.engine.bytesWritten}`
  } catch (e) {
    return (e as { code?: string }).code === 'Z_BUF_ERROR' ? 'short' : 'bad'
  }
}

/** The same for the JavaScript inflater, told to expect `size` bytes. */
function mine(bytes: Uint8Array, size: number): string {
  try {
    const r = inflateAt(bytes, 0, size)
    return r === undefined ? 'short' : `ok ${createHash('sha1').update(r.data).digest('hex')} ${r.data.length} ${r.consumed}`
  } catch (e) {
    assert.ok(e instanceof LarixError && e.code === 'LARIX_BAD_ZLIB', `not a typed error: ${(e as Error).stack}`)
    return /more than/.test(e.message) ? 'too big' : 'bad'
  }
}

test('inflater: inflates exactly what native zlib deflated, every block kind and level, and says where the stream ends', () => {
  fc.assert(fc.property(bodies, fc.integer({ min: 0, max: 9 }), fc.constantFrom(...STRATEGIES), fc.uint8Array({ maxLength: 8 }), (body, level, strategy, tail) => {
    const packed = deflateSync(body, { level, strategy })
    const framed = new Uint8Array(packed.length + tail.length)
    framed.set(packed)
    framed.set(tail, packed.length)
    const r = inflateAt(framed, 0, body.length)
    assert.ok(r, 'a whole stream is not "need more"')
    assert.equal(r.consumed, packed.length)
    assert.deepEqual(Buffer.from(r.data), Buffer.from(body))
    assert.deepEqual(Buffer.from(inflate(packed)), Buffer.from(body))
    assert.equal(mine(framed, body.length), native(framed))
  }), { numRuns: 300 })
})

test('inflater: every cut of a stream is "need more", at any offset in a bigger buffer', () => {
  fc.assert(fc.property(bodies, fc.constantFrom(...STRATEGIES), fc.nat(5), (body, strategy, lead) => {
    const packed = deflateSync(body, { strategy })
    const buf = new Uint8Array(lead + packed.length)
    buf.set(packed, lead)
    const step = Math.max(1, Math.floor(packed.length / 40))
    for (let cut = 0; cut < packed.length; cut += step) assert.equal(inflateAt(buf.subarray(0, lead + cut), lead, body.length), undefined, `cut at ${cut}`)
    assert.equal(inflateAt(buf.subarray(0, buf.length - 1), lead, body.length), undefined)
  }), { numRuns: 150 })
})

test('inflater: damaged streams give what native zlib gives, or a typed error', () => {
  fc.assert(fc.property(bodies, fc.constantFrom(...STRATEGIES), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), (body, strategy, flips, cut) => {
    const packed = Buffer.from(deflateSync(body, { strategy }))
    for (const [pos, xor] of flips) packed[pos % packed.length] ^= xor
    const bad = cut ? packed.subarray(0, packed.length - 1 - (flips[0][0] % packed.length)) : packed
    const theirs = native(bad)
    // Tell the inflater the size native zlib produced, so only damage that native zlib sees makes a difference.
    const size = theirs.startsWith('ok ') ? Number(theirs.split(' ')[2]) : body.length
    const got = mine(bad, size)
    // A stream that is both too big and cut may be reported as either; so may a cut one that asks for a
    // preset dictionary (native zlib wants the dictionary's id first; a pack's stream never has one).
    if (theirs === 'short' && (got === 'too big' || (got === 'bad' && bad.length > 1 && (bad[1] & 0x20) !== 0))) return
    assert.equal(got.replace('too big', 'bad'), theirs)
  }), { numRuns: Number(process.env.ZLIB_RUNS ?? 1500) })
})

test('inflater: random bytes and block headers of every kind are data, "need more" or a typed error, as native zlib says', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }), fc.integer({ min: 0, max: 3 }), (raw, kind) => {
    // A valid zlib header, then a first block of the chosen kind (stored, fixed, dynamic, reserved), then noise.
    const bytes = new Uint8Array(raw.length + 2)
    bytes[0] = 0x78; bytes[1] = 0x9c
    bytes.set(raw, 2)
    bytes[2] = (bytes[2] & ~7) | (kind << 1) | (raw[1] & 1)
    const theirs = native(bytes)
    const size = theirs.startsWith('ok ') ? Number(theirs.split(' ')[2]) : 100
    const got = mine(bytes, size)
    if (got === 'too big' && theirs === 'short') return
    assert.equal(got.replace('too big', 'bad'), theirs)
  }), { numRuns: 3000 })
})

test('inflater: slab outputs stay intact while later calls (good, cut, corrupt, scratch) go on', () => {
  fc.assert(fc.property(fc.array(fc.tuple(bodies, fc.constantFrom('good', 'cut', 'corrupt', 'scratch')), { minLength: 1, maxLength: 40 }), (steps) => {
    const kept: [Uint8Array, Uint8Array][] = []
    for (const [body, how] of steps) {
      const packed = deflateSync(body)
      if (how === 'cut') { assert.equal(inflateAt(packed.subarray(0, packed.length - 1), 0, body.length, 'slab'), undefined); continue }
      if (how === 'corrupt') {
        const bad = Buffer.from(packed)
        bad[bad.length - 1] ^= 1 // the Adler-32
        assert.throws(() => inflateAt(bad, 0, body.length, 'slab'), (e: unknown) => e instanceof LarixError && e.code === 'LARIX_BAD_ZLIB')
        continue
      }
      const r = inflateAt(packed, 0, body.length, how === 'scratch' ? 'scratch' : 'slab')
      assert.ok(r)
      assert.deepEqual(Buffer.from(r.data), Buffer.from(body))
      if (how === 'good') kept.push([r.data, body])
    }
    for (const [data, body] of kept) assert.deepEqual(Buffer.from(data), Buffer.from(body))
  }), { numRuns: 200 })
})
