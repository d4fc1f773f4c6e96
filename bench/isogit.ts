// isomorphic-git as the peer, on node:fs: the low-level object API a key/value store on it would use.
// Rows 2 and 3 run a bounded sample and are extrapolated (isomorphic-git rereads loose objects from disk).
import fs from 'node:fs'
import * as iso from 'isomorphic-git'
import type { DataSet } from './data.js'
import { countFiles, timed } from './measure.js'

const who = { name: 'Bench', email: 'bench@example.org', timezoneOffset: 0 }
type Entry = { mode: string; path: string; oid: string; type: 'blob' | 'tree' }

export interface IsoRun {
  importMs: number
  importObjects: number
  importTree: string
  commitMs: number
  commits: number
  readMs: number
  reads: number
}

/** Rows 1–3 in a fresh repository at `dir`; `commits` and `reads` bound rows 2 and 3. */
export async function isoRun(ds: DataSet, dir: string, sample: { commits: number; reads: number }): Promise<IsoRun> {
  await iso.init({ fs, dir, defaultBranch: 'main' })
  const objectsDir = `${dir}/.git/objects`
  const before = await countFiles(objectsDir)
  // The trees as entry lists, kept in memory between commits (as larix keeps its tree cache):
  // 'd07/e13' → its blobs, 'd07' → its subtrees, '' → the root.
  const trees = new Map<string, Entry[]>()

  // Row 1: writeBlob for every value, writeTree bottom up, writeCommit, writeRef.
  const imp = await timed(async () => {
    for (let i = 0; i < ds.paths.length; i++) {
      const oid = await iso.writeBlob({ fs, dir, blob: ds.bytes[i] })
      const slash = ds.paths[i].lastIndexOf('/')
      const parent = ds.paths[i].slice(0, slash)
      let list = trees.get(parent)
      if (!list) trees.set(parent, list = [])
      list.push({ mode: '100644', path: ds.paths[i].slice(slash + 1), oid, type: 'blob' })
    }
    const level1 = new Map<string, Entry[]>()
    for (const d2 of ds.dirs2) {
      const oid = await iso.writeTree({ fs, dir, tree: trees.get(d2)! })
      const [d1, name] = d2.split('/')
      let list = level1.get(d1)
      if (!list) level1.set(d1, list = [])
      list.push({ mode: '040000', path: name, oid, type: 'tree' })
    }
    const root: Entry[] = []
    for (const [d1, list] of level1) {
      trees.set(d1, list)
      root.push({ mode: '040000', path: d1, oid: await iso.writeTree({ fs, dir, tree: list }), type: 'tree' })
    }
    trees.set('', root)
    const tree = await iso.writeTree({ fs, dir, tree: root })
    const commit = await iso.writeCommit({ fs, dir, commit: { message: 'import\n', tree, parent: [], author: { ...who, timestamp: 1700000000 }, committer: { ...who, timestamp: 1700000000 } } })
    await iso.writeRef({ fs, dir, ref: 'refs/heads/main', value: commit, force: true })
    return { commit, tree }
  })
  const importObjects = (await countFiles(objectsDir)) - before

  // Row 2: per commit, writeBlob, rewrite the three trees on the path, writeCommit, writeRef.
  const updates = ds.updates.slice(0, sample.commits)
  const com = await timed(async () => {
    let parent = imp.result.commit
    for (let n = 0; n < updates.length; n++) {
      const u = updates[n]
      const [d1, d2, key] = u.path.split('/')
      let oid = await iso.writeBlob({ fs, dir, blob: u.bytes })
      oid = await iso.writeTree({ fs, dir, tree: replace(trees, `${d1}/${d2}`, key, oid) })
      oid = await iso.writeTree({ fs, dir, tree: replace(trees, d1, d2, oid) })
      const tree = await iso.writeTree({ fs, dir, tree: replace(trees, '', d1, oid) })
      const t = 1700000001 + n
      parent = await iso.writeCommit({ fs, dir, commit: { message: `set ${u.path}\n`, tree, parent: [parent], author: { ...who, timestamp: t }, committer: { ...who, timestamp: t } } })
      await iso.writeRef({ fs, dir, ref: 'refs/heads/main', value: parent, force: true })
    }
    return parent
  })

  // Row 3: readBlob by path from the head commit.
  const head = com.result
  const expected = ds.bytes.slice()
  for (const u of updates) expected[u.key] = u.bytes
  const order = ds.readOrder.slice(0, sample.reads)
  const cache = {}
  const got: Uint8Array[] = []
  const rd = await timed(async () => {
    for (const i of order) got.push((await iso.readBlob({ fs, dir, oid: head, filepath: ds.paths[i], cache })).blob)
  })
  order.forEach((i, n) => {
    if (!Buffer.from(got[n]).equals(expected[i])) throw new Error(`isomorphic-git: wrong bytes read at ${ds.paths[i]}`)
  })

  return { importMs: imp.ms, importObjects, importTree: imp.result.tree, commitMs: com.ms, commits: updates.length, readMs: rd.ms, reads: order.length }
}

/** The entry list of tree `dir` with `name` pointing at `oid` (stored back for the next commit). */
function replace(trees: Map<string, Entry[]>, dir: string, name: string, oid: string): Entry[] {
  const list = trees.get(dir)!.map(e => (e.path === name ? { ...e, oid } : e))
  trees.set(dir, list)
  return list
}
