// The level backend's journal in Node: commits are acknowledged once appended to the journal, and reach
// LevelDB in the background. These tests kill a process right after its last acknowledged commit, damage
// the journal's tail, and check that nothing acknowledged is lost and nothing half-written shows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Repo, levelBackend } from '../src/index.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-journal-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const indexUrl = new URL('../src/index.js', import.meta.url).href
let n = 0

/** In a child process: open `dir`, make `commits` single-key commits, then SIGKILL itself at once. */
function commitThenDie(dir: string, commits: number): { status: number | null; signal: string | null; stdout: string } {
  const script = `
    import { Repo, levelBackend } from ${JSON.stringify(indexUrl)}
    const repo = await Repo.open({ backend: levelBackend(${JSON.stringify(dir)}) })
    const main = repo.branch('main')
    for (let i = 0; i < ${commits}; i++) await main.set('k/' + i, { i }, { message: 'c' + i })
    process.stdout.write(JSON.stringify({ head: (await main.head()).id }))
    process.kill(process.pid, 'SIGKILL')
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, signal: r.signal, stdout: r.stdout }
}

test('level journal: commits acknowledged just before a SIGKILL are all there after reopening', async () => {
  const dir = join(tmp, `db${n++}`)
  const r = commitThenDie(dir, 300)
  assert.equal(r.signal, 'SIGKILL')
  const { head } = JSON.parse(r.stdout) as { head: string }
  // The kill came before the background apply finished (or the journal would be empty by now).
  assert.ok(statSync(join(dir, 'larix-journal')).size > 0, 'the journal should still hold batches when the process is killed at once')
  const repo = await Repo.open({ backend: levelBackend(dir) })
  try {
    const main = repo.branch('main')
    assert.equal((await main.head())?.id, head)
    for (let i = 0; i < 300; i++) assert.deepEqual(await main.get(`k/${i}`), { i })
    let count = 0
    for await (const _ of main.log()) count++
    assert.equal(count, 300)
  } finally {
    await repo.close()
  }
  // Closing applied everything and emptied the journal.
  assert.equal(statSync(join(dir, 'larix-journal')).size, 0)
})

test('level journal: a torn or corrupt tail is dropped, the complete records before it are kept', async () => {
  const dir = join(tmp, `db${n++}`)
  const r = commitThenDie(dir, 20)
  const { head } = JSON.parse(r.stdout) as { head: string }
  const journal = join(dir, 'larix-journal')
  const good = readFileSync(journal)
  assert.ok(good.length > 0)
  // A record header that promises more bytes than follow: a write cut short by the kill.
  appendFileSync(journal, Uint8Array.from([0xff, 0x00, 0x00, 0x00, 1, 2, 3, 4, 9, 9]))
  let repo = await Repo.open({ backend: levelBackend(dir) })
  assert.equal((await repo.branch('main').head())?.id, head)
  await repo.close()

  // A flipped byte inside the last record: its checksum fails, so that batch (and only it) is dropped.
  const dir2 = join(tmp, `db${n++}`)
  const r2 = commitThenDie(dir2, 20)
  const head2 = (JSON.parse(r2.stdout) as { head: string }).head
  const j2 = join(dir2, 'larix-journal')
  const bytes = readFileSync(j2)
  bytes[bytes.length - 3] ^= 0xff
  writeFileSync(j2, bytes)
  repo = await Repo.open({ backend: levelBackend(dir2) })
  try {
    const main = repo.branch('main')
    const h = await main.head()
    // Either the last batch was already in LevelDB (head unchanged) or it was dropped whole: the head is then
    // an earlier complete commit, never a ref to missing objects.
    assert.ok(h !== undefined)
    if (h.id !== head2) assert.equal(await main.get('k/19'), undefined)
    for await (const c of main.log()) assert.ok(c.tree)
    assert.deepEqual(await main.get('k/0'), { i: 0 })
  } finally {
    await repo.close()
  }
})

test('level journal: reads see acknowledged writes before they reach LevelDB, and scans wait for them', async () => {
  const dir = join(tmp, `db${n++}`)
  const repo = await Repo.open({ backend: levelBackend(dir) })
  try {
    const main = repo.branch('main')
    const ids: string[] = []
    for (let i = 0; i < 50; i++) ids.push((await main.set(`a/${i}`, i)).id)
    // No await between the commit and these reads: they must come from the pending batches or LevelDB.
    for (let i = 0; i < 50; i++) assert.equal(await main.get(`a/${i}`), i)
    const lcas = await repo.lcas(ids[10]!, ids[40]!)
    assert.deepEqual(lcas, { status: "ok", lcas: [ids[10]] })
    await repo.fork('main', 'other')
    await repo.branch('other').remove('a/3')
    assert.equal(await repo.branch('other').get('a/3'), undefined)
    assert.equal(await main.get('a/3'), 3)
  } finally {
    await repo.close()
  }
})
