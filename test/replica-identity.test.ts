// Two replicas that make the very same change on the same parent in the same second make byte-identical
// commits unless they name themselves (RepoOptions.replica): content addressing then counts a counter's two
// increments once. With names, the commits differ, the merge sees both, and Git still reads the commits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repo, memoryBackend, mergers } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import { cloneInto, pull } from '../src/sync/index.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-replica-id-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const NOW = () => 1_700_000_000_000
const MERGE = { 'counters/**': mergers.counter }

async function twoReplicas(names: [string | undefined, string | undefined]) {
  const open = (replica: string | undefined) => Repo.open({ backend: memoryBackend(), merge: MERGE, author: 'Ann <ann@example.org>', now: NOW, ...(replica ? { replica } : {}) })
  const a = await open(names[0]), b = await open(names[1])
  await a.branch('main').set('counters/x', 10, { message: 'base' })
  const server = await startServer(a.backend, { http: 0 })
  await cloneInto(b, server.http!.url)
  // The same increment on both, on the same parent, at the same second.
  for (const r of [a, b]) await r.branch('main').transaction(async tx => { tx.set('counters/x', ((await tx.get('counters/x')) as number) + 1) }, { message: 'count' })
  return { a, b, server }
}

test('without replica names, the same increment on two replicas is one commit: counted once', async () => {
  const { a, b, server } = await twoReplicas([undefined, undefined])
  try {
    assert.equal((await a.branch('main').head())!.id, (await b.branch('main').head())!.id)
    await pull(b, server.http!.url)
    assert.equal(await b.branch('main').get('counters/x'), 11)
  } finally {
    await server.close()
  }
})

test('with replica names, both increments are commits of their own, and both are counted', async () => {
  const { a, b, server } = await twoReplicas(['r-a', 'r-b'])
  try {
    const [ha, hb] = [(await a.branch('main').head())!, (await b.branch('main').head())!]
    assert.notEqual(ha.id, hb.id)
    assert.equal(ha.tree, hb.tree)
    const r = await pull(b, server.http!.url)
    assert.equal(r.merge?.status ?? 'merged', 'merged')
    assert.equal(await b.branch('main').get('counters/x'), 12)
    // Git reads the commits, header and all, and fsck --strict is clean.
    const bServer = await startServer(b.backend, { http: 0 })
    try {
      const dir = join(tmp, 'clone')
      // Not execFileSync: the server answering git is in this process.
      await promisify(execFile)('git', ['clone', '--quiet', '--bare', bServer.http!.url, dir], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp } })
      execFileSync('git', ['fsck', '--strict'], { cwd: dir, stdio: 'pipe' })
      const raw = execFileSync('git', ['cat-file', 'commit', hb.id], { cwd: dir, encoding: 'utf8' })
      assert.match(raw, /^larix-replica r-b$/m)
    } finally {
      await bServer.close()
    }
  } finally {
    await server.close()
  }
})

test('a bad replica name is refused', async () => {
  for (const bad of ['', 'has space', 'x'.repeat(65), 'new\nline']) {
    await assert.rejects(Repo.open({ backend: memoryBackend(), replica: bad }), { code: 'LARIX_BAD_ARGUMENT' })
  }
})
