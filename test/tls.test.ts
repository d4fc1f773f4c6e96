// Git over TLS with mutual authentication (`larix+tls://`) and HTTPS/wss:// with client certificates, against
// `larix serve` on 127.0.0.1, with a CA, server and client certificates made by the `openssl` CLI: clone,
// pull and push work with a certificate from the server's CA; no certificate, a certificate from another CA,
// or an untrusted server certificate end in a TransportError that says what to do, and the server keeps
// serving. Also the CLI: `larix serve --tls-cert --tls-key --tls-ca --git-tls` and `larix clone larix+tls://`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clone, memoryBackend, parseRemoteUrl, pull, push, Repo, startServer, watchRemote, replicate } from '../src/index.js'
import type { HeadEvent, RunningServer } from '../src/index.js'
import { LarixError } from '../src/store/errors.js'
import { makePki } from './pki.js'
import type { Pki } from './pki.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'larix.js')
const tmp = mkdtempSync(join(tmpdir(), 'larix-tls-'))
let pki: Pki
let origin: Repo
let running: RunningServer
const errors: unknown[] = []

before(async () => {
  pki = makePki(tmp)
  origin = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
  for (let i = 0; i < 5; i++) await origin.branch('main').set(`todo/${i}`, { n: i }, { message: `add ${i}` })
  running = await startServer(origin.backend, {
    http: 0, https: true, gitTls: 0, tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca }, onError: e => errors.push(e),
  })
})

after(async () => {
  await running?.close()
  await origin?.close()
  rmSync(tmp, { recursive: true, force: true })
})

const clientTls = () => ({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })

async function assertTransportError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LarixError, `expected a LarixError, got ${String(e)}`)
    assert.equal(e.code, 'LARIX_TRANSPORT', e.message)
    assert.match(e.message, pattern)
    return true
  })
}

describe('larix+tls:// with mutual TLS', () => {
  test('URLs: default port 9419, no credentials in the URL', () => {
    const loc = parseRemoteUrl('larix+tls://example.org/')
    assert.deepEqual(loc, { kind: 'tls', host: 'example.org', port: 9419, path: '/', display: 'larix+tls://example.org/' })
    assert.throws(() => parseRemoteUrl('larix+tls://ann:pw@example.org/'), { code: 'LARIX_BAD_ARGUMENT', message: /client certificate/ })
  })

  test('clone, pull and push with a client certificate from the server\'s CA', async () => {
    const url = running.gitTls!.url
    assert.match(url, /^larix\+tls:\/\/127\.0\.0\.1:\d+\/$/)
    const copy = await clone(url, { backend: memoryBackend(), tls: clientTls(), author: 'Bob <bob@example.org>' })
    try {
      assert.deepEqual(await copy.branch('main').get('todo/3'), { n: 3 })
      // The origin moves; pull brings it.
      await origin.branch('main').set('todo/9', { n: 9 }, { message: 'origin side' })
      const pulled = await pull(copy, url, { branch: 'main', tls: clientTls() })
      assert.equal(pulled.merge.status, 'fast-forward')
      assert.deepEqual(await copy.branch('main').get('todo/9'), { n: 9 })
      // The copy writes and pushes.
      const c = await copy.branch('main').set('todo/10', { n: 10 }, { message: 'copy side' })
      const pushed = await push(copy, url, { branch: 'main', tls: clientTls() })
      assert.equal(pushed.status, 'updated')
      assert.equal((await origin.branch('main').head())!.id, (await copy.branch('main').head())!.id)
      assert.ok(c)
      assert.deepEqual(await origin.branch('main').get('todo/10'), { n: 10 })
    } finally {
      await copy.close()
    }
  })

  test('a client without a certificate, or with one from another CA, is refused; the server keeps serving', async () => {
    const url = running.gitTls!.url
    await assertTransportError(clone(url, { backend: memoryBackend(), tls: { ca: pki.ca } }), /client certificate|certificate required|refused/i)
    await assertTransportError(clone(url, { backend: memoryBackend(), tls: { ca: pki.ca, cert: pki.otherCert, key: pki.otherKey } }), /certificate/i)
    // A certificate without its key is our mistake, said before connecting.
    await assert.rejects(clone(url, { backend: memoryBackend(), tls: { ca: pki.ca, cert: pki.clientCert } }), { code: 'LARIX_BAD_ARGUMENT', message: /--tls-key/ })
    // Still serving the good client.
    const copy = await clone(url, { backend: memoryBackend(), tls: clientTls() })
    assert.deepEqual(await copy.branch('main').get('todo/0'), { n: 0 })
    await copy.close()
  })

  test('a server certificate we do not trust: a TransportError that names --tls-ca', async () => {
    const url = running.gitTls!.url
    await assertTransportError(clone(url, { backend: memoryBackend(), tls: { cert: pki.clientCert, key: pki.clientKey } }), /--tls-ca/)
    await assertTransportError(clone(url, { backend: memoryBackend(), tls: { ca: pki.otherCa, cert: pki.clientCert, key: pki.clientKey } }), /--tls-ca/)
  })
})

describe('HTTPS and wss:// with client certificates', () => {
  test('clone, push and replicate over https:// with a private CA and a client certificate; refused without one', async () => {
    const https = running.http!.url
    assert.match(https, /^https:\/\/127\.0\.0\.1:\d+\/$/)
    const copy = await clone(https, { backend: memoryBackend(), tls: clientTls() })
    try {
      assert.deepEqual(await copy.branch('main').get('todo/2'), { n: 2 })
      await copy.branch('main').set('todo/https', 'over https', { message: 'https push' })
      const r = await push(copy, https, { tls: clientTls() })
      assert.equal(r.status, 'updated')
      assert.equal(await origin.branch('main').get('todo/https'), 'over https')
      // The same link as a replication peer (what `larix serve --peer https://…` uses).
      const rep = replicate(copy, { peers: [https], branches: ['main'], tls: clientTls(), watchRemote: false, pollMs: 0 })
      try {
        await origin.branch('main').set('todo/from-origin', 1, { message: 'for the replica' })
        await rep.syncNow()
        assert.equal(await copy.branch('main').get('todo/from-origin'), 1)
        assert.ok(rep.status()[0]!.healthy, JSON.stringify(rep.status()[0]))
      } finally {
        await rep.stop()
      }
    } finally {
      await copy.close()
    }
    // Without our client certificate, or without the CA, the server refuses / we refuse the server.
    await assertTransportError(clone(https, { backend: memoryBackend(), tls: { ca: pki.ca } }), /127\.0\.0\.1/)
    await assertTransportError(clone(https, { backend: memoryBackend(), tls: { cert: pki.clientCert, key: pki.clientKey } }), /--tls-ca/)
  })

  test('clone over wss:// and watch over wss://; refused without a client certificate', async () => {
    const ws = running.websocket!.url
    assert.match(ws, /^wss:\/\/127\.0\.0\.1:\d+\/$/)
    const copy = await clone(ws, { backend: memoryBackend(), tls: clientTls() })
    assert.deepEqual(await copy.branch('main').get('todo/1'), { n: 1 })
    await copy.close()
    await assertTransportError(clone(ws, { backend: memoryBackend(), tls: { ca: pki.ca } }), /wss:\/\/127\.0\.0\.1/)

    const events: HeadEvent[] = []
    let connected!: () => void
    const up = new Promise<void>(resolve => { connected = resolve })
    const watch = watchRemote(running.http!.url, { tls: clientTls(), onHead: ev => events.push(ev), onConnect: () => connected() })
    try {
      await up
      const head = (await origin.branch('main').head())!.id
      assert.deepEqual(events, [{ branch: 'main', commit: head, previous: null }])
      const next = await origin.branch('main').set('todo/20', 20, { message: 'watched' })
      await waitFor(() => events.length === 2)
      assert.deepEqual(events[1], { branch: 'main', commit: next.id, previous: head })
    } finally {
      await watch.close()
    }
  })
})

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(r => setTimeout(r, 10))
  }
}

describe('the command line', () => {
  function larix(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }>; out: () => string } {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout!.setEncoding('utf8').on('data', d => { stdout += d })
    child.stderr!.setEncoding('utf8').on('data', d => { stderr += d })
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', code => resolve({ code, stdout, stderr }))
    })
    return { child, done, out: () => stdout }
  }

  test('larix serve --git-tls with mutual TLS; larix clone, push larix+tls:// with --tls-cert/--tls-key/--tls-ca', async () => {
    const f = pki.files
    const store = join(tmp, 'served')
    assert.equal((await larix(['--store', store, 'set', 'a', '1']).done).code, 0)
    const server = larix(['--store', store, '--json', 'serve', '--git-tls', '0', '--tls-cert', f.serverCert, '--tls-key', f.serverKey, '--tls-ca', f.ca])
    try {
      await waitFor(() => server.out().includes('\n'), 10_000)
      const urls = JSON.parse(server.out().split('\n')[0]!) as { gitTls: string; http?: string }
      assert.match(urls.gitTls, /^larix\+tls:\/\/127\.0\.0\.1:\d+\/$/)
      assert.equal(urls.http, undefined, 'only the listener asked for')
      const dir = join(tmp, 'cli-copy')
      const cloned = await larix(['clone', urls.gitTls, dir, '--tls-cert', f.clientCert, '--tls-key', f.clientKey, '--tls-ca', f.ca]).done
      assert.equal(cloned.code, 0, cloned.stderr)
      assert.equal((await larix(['--store', dir, 'set', 'b', '2']).done).code, 0)
      const pushed = await larix(['--store', dir, 'push', '--tls-cert', f.clientCert, '--tls-key', f.clientKey, '--tls-ca', f.ca]).done
      assert.equal(pushed.code, 0, pushed.stderr)
      const refused = await larix(['--store', dir, 'pull', '--tls-ca', f.ca]).done
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /LARIX_TRANSPORT/)
      assert.match(refused.stderr, /--tls-cert/)
      const missing = await larix(['--store', dir, 'pull', '--tls-cert', join(tmp, 'nope.crt'), '--tls-key', f.clientKey]).done
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /cannot read --tls-cert .*nope\.crt: ENOENT/)
    } finally {
      server.child.kill('SIGTERM')
      await server.done
    }
    const got = await larix(['--store', store, 'get', 'b']).done
    assert.equal(got.stdout.trim(), '2')
    const noKey = await larix(['--store', store, 'serve', '--git-tls', '0']).done
    assert.equal(noKey.code, 1)
    assert.match(noKey.stderr, /--git-tls needs .*--tls-cert FILE --tls-key FILE/)
  })
})
