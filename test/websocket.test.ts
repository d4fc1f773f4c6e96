// WebSocket transports against `startServer` on 127.0.0.1: clone and push over ws:// (one binary message per
// chunk), tokens (header, URL credentials, and the `larix.bearer.` subprotocol browsers use; a read-only token
// cannot push, none at all is refused at the upgrade); the watch channel (msgpack): heads on connect, head
// changes made through the store and through a push, in order, subscribe, a malformed message answered with
// an error on a socket that stays usable; watchRemote reconnecting after the server restarts.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Packr } from 'msgpackr'
import WebSocket from 'ws'
import { clone, memoryBackend, parseRemoteUrl, push, Repo, startServer, watchRemote } from '../src/index.js'
import type { HeadEvent, RunningServer } from '../src/index.js'
import { bearerSubprotocol, tokenFromSubprotocols } from '../src/sync/transports/websocket.js'
import { LarixError } from '../src/store/errors.js'

const packr = new Packr({ useRecords: false, mapsAsObjects: true })

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(r => setTimeout(r, 5))
  }
}

/** A raw watch-channel client (the `ws` package), collecting decoded messages. */
async function rawWatch(url: string, headers: Record<string, string> = {}, protocols: string[] = ['larix']): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
  const ws = new WebSocket(url, protocols, { headers })
  const messages: Record<string, unknown>[] = []
  ws.on('message', data => messages.push(packr.unpack(data as Buffer) as Record<string, unknown>))
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  return { ws, messages }
}

describe('URLs', () => {
  test('the WebSocket rule: the URL names the server; /git and /api/v1/watch are appended', () => {
    const a = parseRemoteUrl('ws://127.0.0.1:8080/')
    assert.equal(a.kind, 'ws')
    assert.equal(a.kind === 'ws' && a.url, 'ws://127.0.0.1:8080/git')
    assert.equal(a.kind === 'ws' && a.watchUrl, 'ws://127.0.0.1:8080/api/v1/watch')
    const b = parseRemoteUrl('wss://ann:tok%2Fen@example.org/larix/git')
    assert.ok(b.kind === 'ws')
    assert.equal(b.url, 'wss://example.org/larix/git')
    assert.equal(b.port, 443)
    assert.equal(b.display, 'wss://example.org/larix/')
    assert.deepEqual(b.headers, { Authorization: 'Basic ' + btoa('ann:tok/en') })
    assert.throws(() => parseRemoteUrl('ftp://example.org/'), (e: LarixError) => {
      assert.equal(e.code, 'LARIX_BAD_ARGUMENT')
      for (const s of ['http://', 'https://', 'git://', 'larix+tls://', 'ws://', 'wss://']) assert.ok(e.message.includes(s), e.message)
      return true
    })
  })

  test('a token survives the subprotocol encoding', () => {
    for (const token of ['s3cret-token', 'ünïcode/+=?token', 'a'.repeat(100)]) {
      const p = bearerSubprotocol(token)
      assert.match(p, /^larix\.bearer\.[A-Za-z0-9_-]+$/)
      assert.equal(tokenFromSubprotocols(`larix, ${p}`), token)
    }
    assert.equal(tokenFromSubprotocols('larix'), undefined)
    assert.equal(tokenFromSubprotocols('larix.bearer.!!!'), undefined)
  })
})

describe('git over ws://', () => {
  let origin: Repo
  let running: RunningServer
  const RW = 'read-write-token-1'
  const RO = 'read-only-token-1'
  before(async () => {
    origin = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
    for (let i = 0; i < 3; i++) await origin.branch('main').set(`k/${i}`, i, { message: `k${i}` })
    running = await startServer(origin.backend, { http: 0, auth: { tokens: [{ token: RW, scope: 'read-write' }, { token: RO, scope: 'read' }] } })
  })
  after(async () => {
    await running?.close()
    await origin?.close()
  })

  test('clone and push with tokens; a read-only token cannot push; no token is refused with 401', async () => {
    const ws = running.websocket!.url
    assert.match(ws, /^ws:\/\/127\.0\.0\.1:\d+\/$/)
    await assert.rejects(clone(ws, { backend: memoryBackend() }), (e: LarixError) => {
      assert.equal(e.code, 'LARIX_TRANSPORT')
      assert.match(e.message, /401/)
      assert.match(e.message, /token/)
      return true
    })
    await assert.rejects(clone(ws, { backend: memoryBackend(), headers: { Authorization: 'Bearer not-a-valid-token' } }), { code: 'LARIX_TRANSPORT', message: /401/ })

    // Read-only, as a header: clone works, push is refused on its request line, the remote is unchanged.
    const copy = await clone(ws, { backend: memoryBackend(), headers: { Authorization: `Bearer ${RO}` }, author: 'Bob <bob@example.org>' })
    assert.deepEqual(await copy.branch('main').get('k/2'), 2)
    const before = (await origin.branch('main').head())!.id
    await copy.branch('main').set('k/3', 3, { message: 'k3' })
    await assert.rejects(push(copy, ws, { branch: 'main', headers: { Authorization: `Bearer ${RO}` } }), (e: LarixError) => {
      assert.match(e.message, /read-only/)
      return true
    })
    assert.equal((await origin.branch('main').head())!.id, before)

    // Read-write, in the URL: the push lands.
    const url = ws.replace('ws://', `ws://replica:${RW}@`)
    const r = await push(copy, url, { branch: 'main' })
    assert.equal(r.status, 'updated')
    assert.equal(r.url, ws)
    assert.deepEqual(await origin.branch('main').get('k/3'), 3)
    await copy.close()
  })

  test('a token as a subprotocol (what browsers send) opens the watch channel; the token is not echoed', async () => {
    const base = running.websocket!.url
    const { ws, messages } = await rawWatch(`${base}api/v1/watch`, {}, ['larix', bearerSubprotocol(RO)])
    assert.equal(ws.protocol, 'larix')
    await waitFor(() => messages.length > 0)
    assert.equal(messages[0]!.type, 'heads')
    ws.close()
    const refused = new WebSocket(`${base}api/v1/watch`, ['larix', bearerSubprotocol('wrong-token-123')])
    refused.on('error', () => {})
    const status = await new Promise<number>(resolve => refused.on('unexpected-response', (req, res) => { resolve(res.statusCode!); req.destroy() }))
    assert.equal(status, 401)
    const nowhere = new WebSocket(`${base}elsewhere`, { headers: { Authorization: `Bearer ${RW}` } })
    nowhere.on('error', () => {})
    const status404 = await new Promise<number>(resolve => nowhere.on('unexpected-response', (req, res) => { resolve(res.statusCode!); req.destroy() }))
    assert.equal(status404, 404)
  })
})

describe('the watch channel', () => {
  let origin: Repo
  let running: RunningServer
  before(async () => {
    origin = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
    await origin.branch('main').set('a', 1)
    running = await startServer(origin.backend, { http: 0, websocket: { pingIntervalMs: 100 } })
  })
  after(async () => {
    await running?.close()
    await origin?.close()
  })

  test('heads on connect, then every head change in order (store writes and pushes), pings', async () => {
    const { ws, messages } = await rawWatch(`${running.websocket!.url}api/v1/watch`)
    try {
      await waitFor(() => messages.length >= 1)
      const h0 = (await origin.branch('main').head())!.id
      assert.deepEqual(messages[0], { type: 'heads', heads: { main: h0 } })
      const ids: string[] = []
      for (let i = 0; i < 20; i++) ids.push((await origin.branch('main').set('a', i + 2)).id)
      await origin.fork('main', 'side')
      // A push over ws:// moves a head too.
      const copy = await clone(running.websocket!.url, { backend: memoryBackend() })
      const pushedId = (await copy.branch('side').set('b', 1)).id
      await push(copy, running.websocket!.url, { branch: 'side' })
      await copy.close()
      await origin.branch('side').remove('b')
      const heads = () => messages.filter(m => m.type === 'head')
      await waitFor(() => heads().length === 23)
      const got = heads()
      const expected = [h0, ...ids]
      for (let i = 0; i < 20; i++) assert.deepEqual(got[i], { type: 'head', branch: 'main', commit: expected[i + 1], previous: expected[i] })
      assert.deepEqual(got[20], { type: 'head', branch: 'side', commit: ids[19], previous: null })
      assert.deepEqual(got[21], { type: 'head', branch: 'side', commit: pushedId, previous: ids[19] })
      assert.equal(got[22]!.previous, pushedId)
      await waitFor(() => messages.some(m => m.type === 'ping'))
    } finally {
      ws.close()
    }
  })

  test('subscribe narrows the changes; a malformed message gets an error and the socket stays usable', async () => {
    const { ws, messages } = await rawWatch(`${running.websocket!.url}api/v1/watch`)
    try {
      await waitFor(() => messages.length >= 1)
      ws.send(packr.pack({ type: 'subscribe', branches: ['only'] }))
      ws.send(Buffer.from([0xc1, 0xff, 0x00])) // not msgpack
      ws.send('text is not allowed')
      ws.send(packr.pack({ type: 'subscribe', branches: 'only' }))
      ws.send(packr.pack({ type: 'dance' }))
      ws.send(packr.pack({ type: 'ping' }))
      await waitFor(() => messages.some(m => m.type === 'pong'))
      const errors = messages.filter(m => m.type === 'error')
      assert.equal(errors.length, 4, JSON.stringify(errors))
      for (const e of errors) assert.equal(e.code, 'LARIX_BAD_MESSAGE')
      await origin.branch('main').set('x', 1)
      const onlyId = (await origin.branch('only').set('y', 1)).id
      await waitFor(() => messages.some(m => m.type === 'head'))
      await new Promise(r => setTimeout(r, 50))
      assert.deepEqual(messages.filter(m => m.type === 'head'), [{ type: 'head', branch: 'only', commit: onlyId, previous: null }])
      // An oversized message closes the socket (1009); the server keeps serving others.
      const closed = new Promise<number>(resolve => ws.once('close', code => resolve(code)))
      ws.send(Buffer.alloc(70_000))
      assert.equal(await closed, 1009)
      const again = await rawWatch(`${running.websocket!.url}api/v1/watch`)
      await waitFor(() => again.messages.length >= 1)
      again.ws.close()
    } finally {
      ws.terminate()
    }
  })
})

describe('watchRemote', () => {
  test('reports heads, changes, and after a server restart what changed while it was down', async () => {
    const origin = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
    const first = (await origin.branch('main').set('a', 1)).id
    let running = await startServer(origin.backend, { http: 0 })
    const port = running.http!.port
    const events: HeadEvent[] = []
    const errors: unknown[] = []
    let connects = 0
    const watch = watchRemote(`http://127.0.0.1:${port}/`, {
      onHead: ev => events.push(ev), onError: e => errors.push(e), onConnect: () => { connects++ }, minDelayMs: 20, maxDelayMs: 100,
    })
    try {
      await waitFor(() => connects === 1)
      assert.deepEqual(events, [{ branch: 'main', commit: first, previous: null }])
      const second = (await origin.branch('main').set('a', 2)).id
      await waitFor(() => events.length === 2)
      assert.deepEqual(events[1], { branch: 'main', commit: second, previous: first })
      assert.equal(watch.connected, true)

      await running.close()
      await waitFor(() => !watch.connected)
      const third = (await origin.branch('main').set('a', 3)).id
      const side = (await origin.fork('main', 'side'))
      assert.ok(side)
      await new Promise(r => setTimeout(r, 150)) // a few failed attempts while down
      running = await startServer(origin.backend, { http: port })
      await waitFor(() => connects === 2)
      assert.deepEqual(events.slice(2), [
        { branch: 'main', commit: third, previous: second },
        { branch: 'side', commit: third, previous: null },
      ])
      assert.deepEqual(watch.heads(), { main: third, side: third })
      assert.ok(errors.length >= 1, 'the outage was reported')
      assert.ok(errors.every(e => e instanceof LarixError), String(errors.find(e => !(e instanceof LarixError))))
    } finally {
      await watch.close()
      await running.close()
      await origin.close()
    }
    assert.equal(watch.connected, false)
  })

  test('a bad URL is refused at once', () => {
    assert.throws(() => watchRemote('git://127.0.0.1/', { onHead: () => {} }), { code: 'LARIX_BAD_ARGUMENT' })
    assert.throws(() => watchRemote('nope', { onHead: () => {} }), { code: 'LARIX_BAD_ARGUMENT' })
  })
})
