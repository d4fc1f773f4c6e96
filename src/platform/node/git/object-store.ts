// The objects of a .git directory: loose objects (objects/xx/yyyy…, zlib) and packs (objects/pack/*.pack + .idx),
// plus any alternate object directories (objects/info/alternates), read-only.
import {
  closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync,
  unlinkSync, writeSync,
} from 'node:fs'
import { open as openFile, rename, unlink } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import type { ObjectStore } from '../../../store/backend.js'
import { toHex, utf8 } from '../../../store/bytes.js'
import { BackendError, CorruptObjectError } from '../../../store/errors.js'
import { LRU } from '../../../store/lru.js'
import { OBJECT_TYPES } from '../../../store/objects.js'
import type { GitObject, ObjectType, StoredObject } from '../../../store/objects.js'
import { applyDelta } from './delta.js'
import { buildPack, CODE_TYPE, OFS_DELTA } from './pack.js'
import type { BuiltPack } from './pack.js'
import { PackIndex } from './pack-index.js'
import { PackReader } from './pack.js'
import { zlibDecode, zlibEncode } from './zlib.js'

const ID_RE = /^[0-9a-f]{40}$/
let tmpCounter = 0

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code
}

/** A name for a temporary file that no other writer (in this process or another) picks. */
export function tmpSuffix(): string {
  return `${process.pid.toString(36)}${Date.now().toString(36)}${(tmpCounter++).toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`
}

/** Write `chunks` to a new file at `path` (which must not exist), optionally fsync'ed. */
export function writeNewFile(path: string, chunks: readonly Uint8Array[], fsync: boolean, mode = 0o444): void {
  const fd = openSync(path, 'wx', mode)
  const write = (c: Uint8Array) => {
    let o = 0
    while (o < c.length) o += writeSync(fd, c, o, c.length - o)
  }
  try {
    // Many small chunks (pack entries) are gathered into writes of about 1 MiB.
    let batch: Uint8Array[] = [], size = 0
    for (const c of chunks) {
      batch.push(c)
      size += c.length
      if (size >= 1 << 20) { write(batch.length === 1 ? batch[0] : Buffer.concat(batch)); batch = []; size = 0 }
    }
    if (batch.length) write(batch.length === 1 ? batch[0] : Buffer.concat(batch))
    if (fsync) fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** writeNewFile through libuv's threads: the chunks in one write. */
export async function writeNewFileAsync(path: string, chunks: readonly Uint8Array[], fsync: boolean, mode = 0o444): Promise<void> {
  const fh = await openFile(path, 'wx', mode)
  try {
    await fh.writeFile(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    if (fsync) await fh.sync()
  } finally {
    await fh.close()
  }
}

/** fsync a directory, so that a rename or a new name in it is durable. Best effort (some platforms cannot). */
export function fsyncDir(path: string): void {
  let fd: number
  try { fd = openSync(path, 'r') } catch { return }
  try { fsyncSync(fd) } catch { /* not supported for directories here */ } finally { closeSync(fd) }
}

/** One objects/ directory: its loose objects and its packs. */
class ObjectDir {
  packs: PackReader[] = []
  private stamp = ''
  constructor(readonly path: string) {}

  /** Load packs that appeared and drop packs that went away. True when the set of packs changed. */
  scanPacks(): boolean {
    const dir = join(this.path, 'pack')
    const st = statSync(dir, { bigint: true, throwIfNoEntry: false })
    const stamp = st ? `${st.ino}:${st.mtimeNs}:${st.ctimeNs}` : 'none'
    if (stamp === this.stamp) return false
    // A directory changed moments ago may change again within the same timestamp tick: look again next time.
    this.stamp = st && Date.now() - Number(st.mtimeMs) < 1000 ? 'racy' : stamp
    let names: string[] = []
    try { names = readdirSync(dir) } catch (e) { if (code(e) !== 'ENOENT' && code(e) !== 'ENOTDIR') throw e }
    const present = new Set(names)
    const byPath = new Map(this.packs.map(p => [p.path, p]))
    const next: { pack: PackReader; mtime: number }[] = []
    let changed = false
    for (const name of names) {
      if (!name.startsWith('pack-') || !name.endsWith('.idx')) continue
      const packName = name.slice(0, -4) + '.pack'
      if (!present.has(packName)) continue
      const path = join(dir, packName)
      let pack = byPath.get(path)
      byPath.delete(path)
      let mtime = 0
      try { mtime = statSync(path).mtimeMs } catch { continue }
      if (!pack) {
        try {
          pack = new PackReader(path, new PackIndex(readFileSync(join(dir, name)), join(dir, name)))
        } catch {
          // A pack that cannot be read (corrupt, or removed while we looked) is skipped, as Git skips it.
          continue
        }
        changed = true
      }
      next.push({ pack, mtime })
    }
    for (const gone of byPath.values()) { gone.close(); changed = true }
    // Newest first: recent objects are the likeliest to be asked for.
    next.sort((a, b) => b.mtime - a.mtime)
    this.packs = next.map(x => x.pack)
    return changed
  }

  loosePath(id: string): string {
    return join(this.path, id.slice(0, 2), id.slice(2))
  }

  readLoose(id: string): GitObject | undefined {
    let z: Buffer
    try { z = readFileSync(this.loosePath(id)) } catch (e) {
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return undefined
      throw e
    }
    let raw: Buffer
    try { const r = zlibDecode(z); raw = Buffer.from(r.buffer, r.byteOffset, r.byteLength) } catch (e) {
      throw new CorruptObjectError(`loose object ${id} does not inflate: ${(e as Error).message}`, { id })
    }
    const sp = raw.indexOf(0x20)
    const nul = raw.indexOf(0, sp + 1)
    const type = raw.toString('latin1', 0, sp) as ObjectType
    if (sp < 0 || nul < 0 || nul > 32 || !OBJECT_TYPES.includes(type)) throw new CorruptObjectError(`loose object ${id} has a bad header`, { id })
    const size = Number(raw.toString('latin1', sp + 1, nul))
    const body = raw.subarray(nul + 1)
    if (size !== body.length) throw new CorruptObjectError(`loose object ${id} says ${size} bytes, holds ${body.length}`, { id, type })
    return { type, body }
  }

  hasLoose(id: string): boolean {
    return existsSync(this.loosePath(id))
  }

  close(): void {
    for (const p of this.packs) p.close()
    this.packs = []
    this.stamp = ''
  }
}

/** Object directories named in objects/info/alternates (recursively), relative paths resolved against `objectsDir`. */
function alternatesOf(objectsDir: string, seen: Set<string>): string[] {
  let text: string
  try { text = readFileSync(join(objectsDir, 'info', 'alternates'), 'utf8') } catch { return [] }
  const out: string[] = []
  for (const line of text.split('\n')) {
    const l = line.trim()
    if (!l || l.startsWith('#')) continue
    const p = isAbsolute(l) ? l : resolve(objectsDir, l)
    if (seen.has(p)) continue
    seen.add(p)
    out.push(p, ...alternatesOf(p, seen))
  }
  return out
}

export interface ObjectStoreOptions {
  /** fsync every object file and pack before it is named (default false, as the level backend's writes are not synced). */
  fsync: boolean
  /** A batch of more than this many new objects is written as one pack; smaller batches as loose objects. */
  packThreshold: number
  /** Bytes of resolved delta bases to keep (default 32 MiB). */
  deltaCacheBytes: number
}

/** The object store of a Git repository. All file access is synchronous: each call is a few small reads or writes. */
export class GitObjectStore implements ObjectStore {
  private dirs: ObjectDir[] = []
  private readonly bases: LRU<string, GitObject>
  private readonly fanouts = new Set<string>()
  /** Objects acknowledged through the write-ahead journal and not in a pack yet (readable from here until then). */
  readonly pending = new Map<string, StoredObject>()
  /** The pending objects no flush has taken yet, in the order they came. */
  private queue: StoredObject[] = []
  /** Set by the backend: small batches go to its journal instead of loose files. */
  journal: ((objects: StoredObject[]) => Promise<void>) | undefined

  constructor(private readonly guard: (op: string) => void, private readonly opts: ObjectStoreOptions) {
    this.bases = new LRU(opts.deltaCacheBytes, o => o.body.length + 64)
  }

  /** Open the objects directory `objectsDir` (and its alternates). */
  load(objectsDir: string): void {
    this.unload()
    const seen = new Set([resolve(objectsDir)])
    this.dirs = [new ObjectDir(objectsDir), ...alternatesOf(objectsDir, seen).map(p => new ObjectDir(p))]
    for (const d of this.dirs) d.scanPacks()
  }

  unload(): void {
    for (const d of this.dirs) d.close()
    this.dirs = []
    this.bases.clear()
    this.fanouts.clear()
    this.pending.clear()
    this.queue = []
  }

  private get primary(): ObjectDir {
    return this.dirs[0]
  }

  /** The objects/ directory written to. */
  get objectsDir(): string {
    return this.primary.path
  }

  /** The packs of the objects/ directory written to, newest first. */
  get ownPacks(): readonly PackReader[] {
    return this.primary.packs
  }

  /** Make `objects` (already journaled) readable until a flush packs them. */
  addPending(objects: readonly StoredObject[]): void {
    for (const o of objects) {
      if (this.pending.has(o.id)) continue
      this.pending.set(o.id, o)
      this.queue.push(o)
    }
  }

  /** The pending objects not yet taken by a flush; they stay readable from `pending` until `packed` is called. */
  takeQueue(): StoredObject[] {
    const q = this.queue
    this.queue = []
    return q
  }

  /** True while there are journaled objects that no flush has taken. */
  get queued(): boolean {
    return this.queue.length > 0
  }

  /**
   * `pack` (at `packPath`, index `index`) now holds `objects`: read them from there. With `replaces`, those packs
   * (merged into this one) are dropped.
   */
  packed(objects: readonly StoredObject[], packPath: string, index: Uint8Array, replaces: readonly PackReader[] = []): void {
    const dir = this.primary
    if (!dir.packs.some(p => p.path === packPath)) dir.packs.unshift(new PackReader(packPath, new PackIndex(index, packPath.replace(/\.pack$/, '.idx'))))
    if (replaces.length) {
      const gone = new Set(replaces)
      dir.packs = dir.packs.filter(p => !gone.has(p))
      for (const p of replaces) p.close()
    }
    for (const o of objects) if (this.pending.get(o.id) === o) this.pending.delete(o.id)
  }

  /**
   * What of `objects` needs storing: distinct, valid ids, neither pending nor in a known pack. Loose copies are
   * not looked for: a pack may repeat a loose object (Git allows it), and the look costs a system call each.
   */
  fresh(objects: readonly StoredObject[], op: string): StoredObject[] {
    const out: StoredObject[] = []
    const seen = new Set<string>()
    for (const o of objects) {
      if (seen.has(o.id)) continue
      seen.add(o.id)
      if (!ID_RE.test(o.id)) throw new BackendError(`not an object id: ${String(o.id).slice(0, 50)}`, op)
      if (!this.pending.has(o.id) && !this.findPacked(Buffer.from(o.id, 'hex'))) out.push(o)
    }
    return out
  }

  /** Look for packs that appeared since the last look (git gc, git repack, a fetch by git). */
  private rescan(): boolean {
    let changed = false
    for (const d of this.dirs) if (d.scanPacks()) changed = true
    return changed
  }

  private findPacked(id: Uint8Array): { pack: PackReader; offset: number } | undefined {
    for (const d of this.dirs) {
      for (const pack of d.packs) {
        const offset = pack.index.find(id)
        if (offset >= 0) return { pack, offset }
      }
    }
    return undefined
  }

  /** Read the object at `offset` of `pack`, applying its chain of deltas. Resolved bases are cached. */
  private readPacked(pack: PackReader, offset: number): GitObject {
    const chain: { pack: PackReader; offset: number; delta: Uint8Array }[] = []
    let obj: GitObject | undefined
    let p = pack, off = offset
    for (;;) {
      const cached = this.bases.get(`${p.key}:${off}`)
      if (cached) { obj = cached; break }
      const e = p.read(off)
      const type = CODE_TYPE[e.type]
      if (type) {
        obj = { type, body: e.data }
        if (chain.length > 0) this.bases.set(`${p.key}:${off}`, obj)
        break
      }
      chain.push({ pack: p, offset: off, delta: e.data })
      if (chain.length > 10_000) throw new CorruptObjectError(`${p.path}: delta chain too long at ${offset}`)
      if (e.type === OFS_DELTA) { off = e.baseOffset!; continue }
      const same = p.index.find(e.baseId!)
      if (same >= 0) { off = same; continue }
      const elsewhere = this.findPacked(e.baseId!)
      if (elsewhere) { p = elsewhere.pack; off = elsewhere.offset; continue }
      const baseId = toHex(e.baseId!)
      obj = this.readLooseAny(baseId)
      if (!obj) throw new CorruptObjectError(`${p.path}: delta base ${baseId} is missing`, { id: baseId })
      break
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      obj = { type: obj.type, body: applyDelta(obj.body, chain[i].delta) }
      // The object asked for is cached by the caller's own caches; its bases are what other deltas need.
      if (i > 0) this.bases.set(`${chain[i].pack.key}:${chain[i].offset}`, obj)
    }
    return obj
  }

  private readLooseAny(id: string): GitObject | undefined {
    for (const d of this.dirs) {
      const o = d.readLoose(id)
      if (o) return o
    }
    return undefined
  }

  private lookup(id: string, raw: Uint8Array): GitObject | undefined {
    const at = this.findPacked(raw)
    if (at) return this.readPacked(at.pack, at.offset)
    return this.readLooseAny(id)
  }

  private wrap(op: string, e: unknown): never {
    if (e instanceof BackendError || e instanceof CorruptObjectError) throw e
    throw new BackendError(`git store ${op} failed: ${(e as Error)?.message ?? e}`, op, e)
  }

  async get(id: string): Promise<GitObject | undefined> {
    this.guard('get')
    const p = this.pending.get(id)
    if (p) return { type: p.type, body: p.body }
    if (!ID_RE.test(id)) return undefined
    const raw = Buffer.from(id, 'hex')
    try {
      const o = this.lookup(id, raw)
      if (o) return o
      // Not here: maybe `git gc` moved it into a new pack since we last looked.
      if (this.rescan()) return this.lookup(id, raw)
      return undefined
    } catch (e) { this.wrap('get', e) }
  }

  /** Present in a known pack or as a loose object (no rescan). */
  private present(id: string, raw: Uint8Array): boolean {
    if (this.findPacked(raw)) return true
    for (const d of this.dirs) if (d.hasLoose(id)) return true
    return false
  }

  async has(id: string): Promise<boolean> {
    this.guard('has')
    if (this.pending.has(id)) return true
    if (!ID_RE.test(id)) return false
    const raw = Buffer.from(id, 'hex')
    try {
      if (this.present(id, raw)) return true
      return this.rescan() && this.findPacked(raw) !== undefined
    } catch (e) { this.wrap('has', e) }
  }

  async findPrefix(prefix: string): Promise<string[]> {
    this.guard('findPrefix')
    if (!/^[0-9a-f]{1,40}$/.test(prefix)) return []
    const out = new Set<string>()
    for (const id of this.pending.keys()) if (id.startsWith(prefix)) out.add(id)
    try {
      this.rescan()
      for (const d of this.dirs) {
        for (const pack of d.packs) for (const id of pack.index.findPrefix(prefix, 16)) out.add(id)
        const fans = prefix.length >= 2 ? [prefix.slice(0, 2)] : Array.from({ length: 16 }, (_, i) => prefix + i.toString(16))
        for (const fan of fans) {
          let names: string[]
          try { names = readdirSync(join(d.path, fan)) } catch { continue }
          const rest = prefix.slice(2)
          for (const n of names) if (n.length === 38 && n.startsWith(rest) && /^[0-9a-f]{38}$/.test(n)) out.add(fan + n)
        }
      }
    } catch (e) { this.wrap('findPrefix', e) }
    return [...out].sort().slice(0, 16)
  }

  async putMany(objects: readonly StoredObject[]): Promise<void> {
    this.guard('putMany')
    if (this.journal) {
      let fresh: StoredObject[]
      try { fresh = this.fresh(objects, 'putMany') } catch (e) { this.wrap('putMany', e) }
      if (fresh.length === 0) return
      if (fresh.length <= this.opts.packThreshold) {
        try { return await this.journal(fresh) } catch (e) { this.wrap('putMany', e) }
      }
      try { this.writePack(fresh) } catch (e) { this.wrap('putMany', e) }
      return
    }
    this.write(objects)
  }

  /** Store what is not stored yet: loose objects for small batches, one pack for large ones. Synchronous. */
  write(objects: readonly StoredObject[]): void {
    const fresh: StoredObject[] = []
    const seen = new Set<string>()
    try {
      for (const o of objects) {
        if (seen.has(o.id)) continue
        seen.add(o.id)
        if (!ID_RE.test(o.id)) throw new BackendError(`not an object id: ${String(o.id).slice(0, 50)}`, 'putMany')
        if (!this.findPacked(Buffer.from(o.id, 'hex'))) fresh.push(o)
      }
      // A pack may repeat an object that is also loose (Git allows it), so only small batches look for loose copies.
      if (fresh.length > this.opts.packThreshold) { this.writePack(fresh); return }
      const dirs = new Set<string>()
      for (const o of fresh) {
        if (this.dirs.some(d => d.hasLoose(o.id))) continue
        dirs.add(this.writeLoose(o))
      }
      if (this.opts.fsync) for (const d of dirs) fsyncDir(d)
    } catch (e) { this.wrap('putMany', e) }
  }

  /** Write one loose object: a temporary file in its fan-out directory, then a hard link to its name. */
  private writeLoose(o: StoredObject): string {
    const dir = join(this.primary.path, o.id.slice(0, 2))
    const final = join(dir, o.id.slice(2))
    const data = zlibEncode([utf8(`${o.type} ${o.body.length}\0`), o.body])
    let tmp = join(dir, `tmp_obj_${tmpSuffix()}`)
    for (let attempt = 0; ; attempt++) {
      if (!this.fanouts.has(dir)) { mkdirSync(dir, { recursive: true }); this.fanouts.add(dir) }
      try {
        writeNewFile(tmp, [data], this.opts.fsync)
        break
      } catch (e) {
        // The fan-out directory may have been removed (git prune-packed removes empty ones): make it again.
        if (code(e) === 'ENOENT' && attempt < 3) { this.fanouts.delete(dir); continue }
        if (code(e) === 'EEXIST' && attempt < 3) { tmp = join(dir, `tmp_obj_${tmpSuffix()}`); continue }
        throw e
      }
    }
    try {
      // A link never replaces an existing object (EEXIST: someone stored it meanwhile, with the same bytes).
      linkSync(tmp, final)
    } catch (e) {
      if (code(e) !== 'EEXIST') {
        // File systems without hard links: rename, as Git falls back to.
        try { renameSync(tmp, final); return dir } catch (e2) { try { unlinkSync(tmp) } catch { /* gone */ } throw e2 }
      }
    }
    unlinkSync(tmp)
    return dir
  }

  /** Write `objects` as one pack and its index; both are named only when complete, so Git sees all or nothing. */
  writePack(objects: StoredObject[]): void {
    const built = buildPack(objects)
    const files = this.packFiles(built)
    try {
      writeNewFile(files.tmpPack, built.chunks, this.opts.fsync)
      writeNewFile(files.tmpIdx, [built.index], this.opts.fsync)
      // The .pack first: Git (and we) only look at packs that have an .idx.
      renameSync(files.tmpPack, files.packPath)
      renameSync(files.tmpIdx, files.idxPath)
    } finally {
      for (const t of [files.tmpPack, files.tmpIdx]) try { unlinkSync(t) } catch { /* renamed */ }
    }
    if (this.opts.fsync) fsyncDir(files.dir)
    this.packed(objects, files.packPath, built.index)
  }

  /**
   * writePack without blocking: the files are written by libuv's threads while commits go on. `replaces`: packs
   * whose objects `built` holds (a consolidation), dropped once it is named, then deleted (the .idx first, so no
   * reader finds an index without its pack).
   */
  async writePackAsync(built: BuiltPack, objects: readonly StoredObject[], replaces: readonly PackReader[] = [], tmpTag?: string): Promise<void> {
    const files = this.packFiles(built, tmpTag)
    try {
      await writeNewFileAsync(files.tmpPack, built.chunks, this.opts.fsync)
      await writeNewFileAsync(files.tmpIdx, [built.index], this.opts.fsync)
      await rename(files.tmpPack, files.packPath)
      await rename(files.tmpIdx, files.idxPath)
    } catch (e) {
      for (const t of [files.tmpPack, files.tmpIdx]) await unlink(t).catch(() => {})
      throw e
    }
    if (this.opts.fsync) fsyncDir(files.dir)
    this.packed(objects, files.packPath, built.index, replaces)
    for (const old of replaces) {
      if (old.path === files.packPath) continue
      for (const f of [old.path.replace(/\.pack$/, '.idx'), old.path]) await unlink(f).catch(() => {})
    }
  }

  /** `tmpTag`: names the temporary files (`tmp_pack_<tag>…`), so that a crashed writer's can be told and removed. */
  private packFiles(built: BuiltPack, tmpTag?: string): { dir: string; tmpPack: string; tmpIdx: string; packPath: string; idxPath: string } {
    const dir = join(this.primary.path, 'pack')
    if (!this.fanouts.has(dir)) { mkdirSync(dir, { recursive: true }); this.fanouts.add(dir) }
    const suffix = tmpTag ? `${tmpTag}${(tmpCounter++).toString(36)}` : tmpSuffix()
    return {
      dir, tmpPack: join(dir, `tmp_pack_${suffix}`), tmpIdx: join(dir, `tmp_idx_${suffix}`),
      packPath: join(dir, `pack-${built.checksum}.pack`), idxPath: join(dir, `pack-${built.checksum}.idx`),
    }
  }
}
