// Property tests for the pure codecs: Git objects, value codecs, paths and ref names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decodeCommit, decodeTag, decodeTree, encodeCommit, encodeTag, encodeTree, objectId, EMPTY_TREE_ID,
} from '../src/store/objects.js'
import type { TreeEntry, Person } from '../src/store/objects.js'
import { canonicalJson, json, msgpack, string, bytes } from '../src/store/contents.js'
import { parsePath } from '../src/store/path.js'
import { branchRef } from '../src/store/refs.js'
import { LarixError } from '../src/store/errors.js'

const hex40 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(b => Buffer.from(b).toString('hex'))
const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter(s => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..' && s.toLowerCase() !== '.git')

test('the empty tree has Git\'s well-known id', () => {
  assert.equal(objectId('tree', encodeTree([])), EMPTY_TREE_ID)
  assert.equal(objectId('blob', new TextEncoder().encode('hello\n')), 'ce013625030ba8dba906f756967f9e9ca394464a')
})

test('trees: decode(encode(entries)) gives the entries in Git order, whatever order they came in', () => {
  const entry = fc.record({ name: segment, mode: fc.constantFrom('100644', '40000', '100755') as fc.Arbitrary<TreeEntry['mode']>, id: hex40 })
  fc.assert(fc.property(fc.uniqueArray(entry, { selector: e => e.name, maxLength: 30 }), (entries) => {
    const body = encodeTree(entries)
    const back = decodeTree(body)
    assert.equal(back.length, entries.length)
    assert.deepEqual(new Set(back.map(e => `${e.mode} ${e.name} ${e.id}`)), new Set(entries.map(e => `${e.mode} ${e.name} ${e.id}`)))
    assert.deepEqual(encodeTree([...entries].reverse()), body, 'order of input does not matter')
    assert.deepEqual(encodeTree(back), body, 're-encoding is stable')
  }), { numRuns: 300 })
})

test('trees: directories sort as if their names ended in "/"', () => {
  const id = 'a'.repeat(40)
  const names = decodeTree(encodeTree([
    { name: 'foo', mode: '40000', id }, { name: 'foo.txt', mode: '100644', id }, { name: 'foo-bar', mode: '100644', id },
  ])).map(e => e.name)
  assert.deepEqual(names, ['foo-bar', 'foo.txt', 'foo'])
})

test('trees: duplicate names are refused', () => {
  assert.throws(() => encodeTree([{ name: 'a', mode: '100644', id: '1'.repeat(40) }, { name: 'a', mode: '40000', id: '2'.repeat(40) }]), { code: 'LARIX_CORRUPT' })
})

test('trees: random bytes decode or fail with LARIX_CORRUPT, never anything else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    try { decodeTree(b) } catch (e) { assert.equal((e as LarixError).code, 'LARIX_CORRUPT') }
  }), { numRuns: 500 })
})

const person: fc.Arbitrary<Person> = fc.record({
  name: fc.string({ maxLength: 20 }).filter(s => !/[<>\n\0]/.test(s) && s.trim() === s && s.length > 0),
  email: fc.string({ maxLength: 20 }).filter(s => !/[<>\n\0]/.test(s)),
  timestamp: fc.integer({ min: 0, max: 4_000_000_000 }),
  timezoneOffset: fc.integer({ min: -720, max: 840 }),
})

test('commits and tags: decode(encode(x)) = x', () => {
  fc.assert(fc.property(hex40, fc.array(hex40, { maxLength: 3 }), person, person, fc.string({ maxLength: 80 }), (tree, parents, author, committer, message) => {
    const c = { tree, parents, author: { ...author }, committer: { ...committer }, message }
    assert.deepEqual(decodeCommit(encodeCommit(c)), c)
  }), { numRuns: 300 })
  fc.assert(fc.property(hex40, person, fc.string({ maxLength: 60 }), (object, tagger, message) => {
    const t = { object, type: 'commit' as const, tag: 'v1.0', tagger: { ...tagger }, message }
    assert.deepEqual(decodeTag(encodeTag(t)), t)
  }), { numRuns: 100 })
})

test('commits: extra headers (gpgsig with continuation lines) round-trip byte for byte', () => {
  const body = new TextEncoder().encode(`tree ${'a'.repeat(40)}\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\ngpgsig -----BEGIN-----\n line2\n -----END-----\n\nmsg\n`)
  assert.deepEqual(encodeCommit(decodeCommit(body)), body)
})

test('canonical JSON: key order does not change the bytes; decode(encode(v)) = v', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const a = json.encode(v)
    const back = json.decode(a)
    assert.deepEqual(json.encode(back), a)
    assert.equal(new TextDecoder().decode(a), canonicalJson(JSON.parse(JSON.stringify(v))))
  }), { numRuns: 300 })
  assert.equal(canonicalJson({ b: 1, a: [1, { d: null, c: 'x' }] }), '{"a":[1,{"c":"x","d":null}],"b":1}')
  assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }))
})

test('canonical JSON: values JSON cannot hold fail with LARIX_BAD_VALUE', () => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  for (const bad of [NaN, Infinity, () => 1, Symbol('x'), 10n, new Date(0), new Map(), cyclic, [undefined, () => 1]]) {
    assert.throws(() => json.encode(bad), { code: 'LARIX_BAD_VALUE' }, String(bad))
  }
  assert.throws(() => json.decode(new Uint8Array([0xff, 0xfe])), { code: 'LARIX_BAD_VALUE' })
})

test('msgpack: canonical (key order free) and round-trips', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const a = msgpack.encode(v)
    assert.deepEqual(msgpack.encode(msgpack.decode(a)), a)
  }), { numRuns: 1000 })
  assert.deepEqual(msgpack.encode({ b: 1, a: 2, 10: 'x', 9: 'y' }), msgpack.encode({ 9: 'y', a: 2, 10: 'x', b: 1 }))
  assert.deepEqual(msgpack.decode(msgpack.encode({ x: new Uint8Array([1, 2]) })), { x: new Uint8Array([1, 2]) })
  // A "__proto__" key is data like any other (found by fast-check: msgpackr's object mode dropped it).
  const proto = JSON.parse('{"__proto__":0,"a":{"__proto__":[1]}}')
  assert.deepEqual(Object.keys(msgpack.decode(msgpack.encode(proto)) as object), ['__proto__', 'a'])
  assert.deepEqual(msgpack.encode(msgpack.decode(msgpack.encode(proto))), msgpack.encode(proto))
  assert.deepEqual(msgpack.decode(msgpack.encode(new Map<unknown, unknown>([[1, 'one']]))), new Map([[1, 'one']]))
  assert.throws(() => msgpack.encode({ f: () => 1 }), { code: 'LARIX_BAD_VALUE' })
})

test('string and bytes codecs', () => {
  assert.equal(string.decode(string.encode('héllo')), 'héllo')
  assert.throws(() => string.encode(5 as unknown as string), { code: 'LARIX_BAD_VALUE' })
  assert.throws(() => string.encode('\uD800'), { code: 'LARIX_BAD_VALUE' })
  assert.deepEqual(bytes.decode(bytes.encode(new Uint8Array([0, 255]))), new Uint8Array([0, 255]))
  assert.throws(() => bytes.encode('x' as unknown as Uint8Array), { code: 'LARIX_BAD_VALUE' })
})

test('paths: any input is either a valid path or LARIX_BAD_PATH', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 })), (input) => {
    try {
      const p = parsePath(input)
      for (const s of p) assert.ok(s.length > 0 && !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..')
    } catch (e) { assert.equal((e as LarixError).code, 'LARIX_BAD_PATH') }
  }), { numRuns: 500 })
  for (const bad of ['a//b', '/a', 'a/', 'a/./b', '..', 'a/../b', 'a\0b', ['a', ''], ['a/b'], [1], null, 42, '.git/x']) {
    assert.throws(() => parsePath(bad as never), { code: 'LARIX_BAD_PATH' }, JSON.stringify(bad))
  }
  assert.deepEqual(parsePath('todo/42'), ['todo', '42'])
  assert.deepEqual(parsePath(['todo', '42']), ['todo', '42'])
})

test('branch names follow git check-ref-format', () => {
  for (const good of ['main', 'feature/x', 'v1.2', 'a-b_c']) assert.equal(branchRef(good), 'refs/heads/' + good)
  for (const bad of ['', 'a..b', 'a b', 'a:b', 'a~1', 'x.lock', '.hidden', 'a/', '/a', 'a//b', 'a@{1}', '@', 'a\\b', '-x', 'HEAD', 'a*', 'end.']) {
    assert.throws(() => branchRef(bad), { code: 'LARIX_BAD_REF' }, bad)
  }
})
