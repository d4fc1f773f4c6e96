import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { AuthError, Authorizer, parseTokenArgument, tokenFromHeader } from '../src/sync/auth.js'

const basic = (user: string, pass: string) => 'Basic ' + btoa(user + ':' + pass)

test('no token configured: everything is allowed', () => {
  const a = new Authorizer()
  assert.equal(a.enabled, false)
  a.check(undefined, 'write')
  a.check('Bearer whatever', 'read')
})

test('scopes: read tokens read, read-write tokens write, others are refused with typed errors', () => {
  const a = new Authorizer({ tokens: [{ token: 'reader-token-1', scope: 'read' }, { token: 'writer-token-1', scope: 'read-write' }] })
  a.check('Bearer reader-token-1', 'read')
  a.check('Bearer writer-token-1', 'write')
  a.check(basic('git', 'writer-token-1'), 'write')
  const code = (f: () => void) => { try { f(); return 'ok' } catch (e) { assert.ok(e instanceof AuthError); return `${e.code}/${e.status}` } }
  assert.equal(code(() => a.check('Bearer reader-token-1', 'write')), 'LARIX_FORBIDDEN/403')
  assert.equal(code(() => a.check(undefined, 'read')), 'LARIX_UNAUTHORIZED/401')
  assert.equal(code(() => a.check('Bearer wrong-token-1', 'read')), 'LARIX_UNAUTHORIZED/401')
  assert.equal(code(() => a.check('Bearer writer-token-', 'read')), 'LARIX_UNAUTHORIZED/401')
  assert.equal(code(() => a.check('Basic !!!', 'read')), 'LARIX_UNAUTHORIZED/401')
  const open = new Authorizer({ tokens: [{ token: 'writer-token-1', scope: 'read-write' }], anonymousRead: true })
  open.check(undefined, 'read')
  assert.equal(code(() => open.check(undefined, 'write')), 'LARIX_UNAUTHORIZED/401')
})

test('token arguments and headers', () => {
  assert.deepEqual(parseTokenArgument('s3cret-token'), { token: 's3cret-token', scope: 'read-write' })
  assert.deepEqual(parseTokenArgument('read=s3cret-token'), { token: 's3cret-token', scope: 'read' })
  assert.throws(() => parseTokenArgument('short'), { code: 'LARIX_BAD_ARGUMENT' })
  assert.equal(tokenFromHeader('bearer abc'), 'abc')
  assert.equal(tokenFromHeader(basic('u', 'p:q')), 'p:q')
  assert.equal(tokenFromHeader('Digest x'), undefined)
})

test('only the exact token is accepted (fast-check)', () => {
  fc.assert(fc.property(fc.string({ minLength: 8 }), fc.string(), (secret, guess) => {
    const a = new Authorizer({ tokens: [{ token: secret, scope: 'read-write' }] })
    assert.equal(a.scopeOf(guess) !== undefined, guess === secret)
    assert.equal(a.scopeOf(secret), 'read-write')
  }))
})
