// Refs of a .git directory with Git's own protocol: loose ref files, packed-refs (with peeled `^` lines), symbolic
// refs (`ref: refs/heads/main`), and updates under `<ref>.lock` files created exclusively, then renamed over the ref.
import {
  closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync,
  writeSync,
} from 'node:fs'
import { open as openFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { RefChange, RefStore } from '../../../store/backend.js'
import type { StoredObject } from '../../../store/objects.js'
import { Mutex, Watchers } from '../../../store/backend.js'
import { BackendError, BadIdError, BadRefError } from '../../../store/errors.js'
import { refNameProblem } from '../../../store/refs.js'
import { fsyncDir } from './object-store.js'
import type { GitObjectStore } from './object-store.js'

const ID_RE = /^[0-9a-f]{40}$/
/** How recent a change must be for its stat to be untrustworthy as a cache key (timestamps are coarse). */
const RACY_MS = 1000

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code
}
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

/** Byte order of ref names, as Git sorts them. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

interface PackedRefs {
  stamp: string
  header: string
  refs: Map<string, string>
  peeled: Map<string, string>
  /** Every directory prefix of a packed ref name (refs/heads/a for refs/heads/a/x), computed when first needed. */
  dirs?: Set<string>
}

export interface RefStoreOptions {
  fsync: boolean
  /** How long to wait for another writer's lock on a ref before giving up (Git's core.filesRefLockTimeout: 100 ms). */
  lockTimeoutMs: number
}

/** What reading one loose ref file found. */
type Loose = { kind: 'id'; id: string } | { kind: 'symref'; target: string } | { kind: 'absent' } | { kind: 'dir' }

/** A held `<file>.lock` (`fd` -1 once closed, `held` false once renamed or removed), or why it could not be taken. */
type Held = { fd: number; path: string; held: boolean }
type Lock = Held | 'busy' | 'conflict'

/**
 * A ref update acknowledged through the write-ahead journal and not yet on disk. The ref's `.lock` stays held
 * (tagged as the journal's) until its newest pending value is: no other writer can move the ref meanwhile.
 */
export interface PendingRef { id: string; lock: Held; published: boolean }

/** What the ref store needs of the backend's write-ahead journal (git/write-ahead.ts). */
export interface RefJournal {
  /** The content of the `.lock` files this journal holds: recovery knows them by it. */
  readonly lockTag: string
  /** A scratch file name, in the same file system as the refs, for writing a ref before renaming it in place. */
  readonly tmpPath: string
  /** Waits while the journal is too long. */
  room(): Promise<void>
  /** Journal `objects` and the ref update (one record, one write), make the objects readable. Throws on failure. */
  append(objects: readonly StoredObject[], ref: { name: string; id: string } | undefined): void
  /** Waits until everything journaled is on disk and every lock released. */
  drain(): Promise<void>
}

/** Refs kept per work tree (HEAD, bisect, …): written the classic way, never through the journal. */
function perWorktree(name: string): boolean {
  return name === 'HEAD' || name.startsWith('refs/bisect/') || name.startsWith('refs/worktree/') || name.startsWith('refs/rewritten/')
}

function writeAll(fd: number, content: string): void {
  const buf = Buffer.from(content)
  let o = 0
  while (o < buf.length) o += writeSync(fd, buf, o, buf.length - o)
}

export class GitRefStore implements RefStore {
  readonly watchers = new Watchers<RefChange>()
  private readonly mutex = new Mutex()
  private packedCache: PackedRefs | undefined
  private gitDir = ''
  private commonDir = ''
  /** Acknowledged updates not on disk yet, by ref name (see PendingRef). */
  readonly pending = new Map<string, PendingRef>()
  /** Set by the backend once open: updates go through its journal. */
  journal: RefJournal | undefined

  constructor(private readonly guard: (op: string) => void, private readonly opts: RefStoreOptions, private readonly store: GitObjectStore) {}

  load(gitDir: string, commonDir: string): void {
    this.gitDir = gitDir
    this.commonDir = commonDir
    this.packedCache = undefined
    this.pending.clear()
    this.journal = undefined
  }

  private check(name: string): string {
    if (name === 'HEAD') return name
    const p = refNameProblem(name)
    if (p) throw new BadRefError(`bad ref name ${JSON.stringify(name)}: it ${p}`, name)
    if (!name.startsWith('refs/')) throw new BadRefError(`bad ref name ${JSON.stringify(name)}: refs live under refs/`, name)
    return name
  }

  /** HEAD (and other per-work-tree refs) live in the git dir; the rest in the common dir (they differ only in linked work trees). */
  private pathOf(name: string): string {
    return join(perWorktree(name) ? this.gitDir : this.commonDir, name)
  }

  private get packedPath(): string {
    return join(this.commonDir, 'packed-refs')
  }

  private readonly readBuf = Buffer.alloc(4096)

  /** The content of a loose ref file: one open, one read, one close (refs are read on every branch access). */
  private readRefFile(path: string): string | 'absent' | 'dir' {
    let fd: number
    try { fd = openSync(path, 'r') } catch (e) {
      if (code(e) === 'EISDIR') return 'dir'
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return 'absent'
      throw e
    }
    try {
      const n = readSync(fd, this.readBuf, 0, this.readBuf.length, 0)
      return n < this.readBuf.length ? this.readBuf.toString('latin1', 0, n) : readFileSync(path, 'latin1')
    } catch (e) {
      if (code(e) === 'EISDIR') return 'dir'
      throw e
    } finally { closeSync(fd) }
  }

  private readLoose(name: string): Loose {
    const text = this.readRefFile(this.pathOf(name))
    if (text === 'absent' || text === 'dir') return { kind: text }
    const t = text.trim()
    if (t.startsWith('ref:')) return { kind: 'symref', target: t.slice(4).trim() }
    if (ID_RE.test(t)) return { kind: 'id', id: t }
    // A ref file being written by a tool that does not use lock files, or damaged: Git calls it broken.
    throw new BackendError(`ref ${name} is broken (${JSON.stringify(t.slice(0, 50))})`, 'ref read')
  }

  /** packed-refs, re-read when the file changed (a rewrite is a rename, so the inode changes). */
  private packed(): PackedRefs {
    const st = statSync(this.packedPath, { bigint: true, throwIfNoEntry: false })
    let stamp = st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : 'none'
    if (this.packedCache?.stamp === stamp) return this.packedCache
    // A file changed within the last moments may change again within the same timestamp tick (and reuse an inode)
    // without its stat changing: such a read is used once, not cached (Git's "racy" rule).
    if (st && Date.now() - Number(st.mtimeMs) < RACY_MS) stamp = 'racy'
    const p: PackedRefs = { stamp, header: '', refs: new Map(), peeled: new Map() }
    if (st) {
      let text = ''
      try { text = readFileSync(this.packedPath, 'utf8') } catch (e) { if (code(e) !== 'ENOENT') throw e }
      let last: string | undefined
      for (const line of text.split('\n')) {
        if (line === '') continue
        if (line.startsWith('#')) { if (!p.header) p.header = line; continue }
        if (line.startsWith('^')) {
          if (last !== undefined) p.peeled.set(last, line.slice(1, 41))
          continue
        }
        const id = line.slice(0, 40), name = line.slice(41)
        if (!ID_RE.test(id) || line[40] !== ' ' || !name) continue
        p.refs.set(name, id)
        last = name
      }
    }
    this.packedCache = p
    return p
  }

  /** The id `name` points at, following symbolic refs; with the name of the ref that holds the id. */
  private resolve(name: string, depth = 0): { ref: string; id: string | undefined } {
    const p = this.pending.get(name)
    if (p) return { ref: name, id: p.id }
    const l = this.readLoose(name)
    if (l.kind === 'id') return { ref: name, id: l.id }
    if (l.kind === 'symref') {
      if (depth >= 5 || (l.target !== 'HEAD' && !l.target.startsWith('refs/'))) throw new BackendError(`symbolic ref ${name} points at ${l.target}`, 'ref read')
      return this.resolve(l.target, depth + 1)
    }
    return { ref: name, id: this.packed().refs.get(name) }
  }

  private wrap(op: string, e: unknown): never {
    if (e instanceof BackendError || e instanceof BadRefError || e instanceof BadIdError) throw e
    throw new BackendError(`git refs ${op} failed: ${(e as Error)?.message ?? e}`, op, e)
  }

  async get(name: string): Promise<string | undefined> {
    this.guard('get')
    this.check(name)
    try { return this.resolve(name).id } catch (e) { this.wrap('get', e) }
  }

  /** The peeled id of an annotated tag ref, when packed-refs records it. */
  peeled(name: string): string | undefined {
    return this.packed().peeled.get(name)
  }

  async list(prefix = ''): Promise<{ name: string; id: string }[]> {
    this.guard('list')
    const found = new Map<string, string>()
    try {
      for (const [name, id] of this.packed().refs) if (name.startsWith(prefix)) found.set(name, id)
      // Walk only the directories that can hold names with this prefix.
      const walk = (rel: string) => {
        let entries
        try { entries = readdirSync(join(this.commonDir, rel), { withFileTypes: true }) } catch { return }
        for (const e of entries) {
          const name = `${rel}/${e.name}`
          if (e.isDirectory()) { if ((name + '/').startsWith(prefix) || prefix.startsWith(name + '/')) walk(name); continue }
          if (!name.startsWith(prefix) || e.name.endsWith('.lock') || refNameProblem(name)) continue
          try {
            const id = this.resolve(name).id
            if (id) found.set(name, id)
            else found.delete(name)
          } catch { /* broken refs are left out of listings, as git for-each-ref does */ }
        }
      }
      if ('refs/'.startsWith(prefix) || prefix.startsWith('refs/')) walk('refs')
      // Pending refs may not have a file yet (a new branch).
      for (const [name, p] of this.pending) if (name.startsWith(prefix)) found.set(name, p.id)
    } catch (e) { this.wrap('list', e) }
    return [...found].sort(([a], [b]) => compareNames(a, b)).map(([name, id]) => ({ name, id }))
  }

  watch(fn: (c: RefChange) => void): () => void {
    return this.watchers.add(fn)
  }

  /** Take `<path>.lock` with O_EXCL, waiting up to the lock timeout for another holder to finish. */
  private async lock(path: string): Promise<Lock> {
    const lockPath = path + '.lock'
    const deadline = Date.now() + this.opts.lockTimeoutMs
    let wait = 1
    for (;;) {
      try {
        return { fd: openSync(lockPath, 'wx', 0o666), path: lockPath, held: true }
      } catch (e) {
        if (code(e) === 'ENOENT') {
          try { mkdirSync(dirname(lockPath), { recursive: true }) } catch (e2) {
            if (code(e2) === 'ENOTDIR' || code(e2) === 'EEXIST') return 'conflict'
            throw e2
          }
          continue
        }
        if (code(e) === 'ENOTDIR' || code(e) === 'EISDIR') return 'conflict'
        if (code(e) !== 'EEXIST') throw e
        if (Date.now() >= deadline) return 'busy'
        await sleep(Math.min(wait, Math.max(1, deadline - Date.now())))
        wait = Math.min(wait * 2, 20) * (0.75 + Math.random() / 2)
      }
    }
  }

  /** Release a lock we still hold. Idempotent: after a rename the lock path may already be someone else's lock. */
  private unlock(l: Lock): void {
    if (typeof l === 'string') return
    if (l.fd >= 0) { try { closeSync(l.fd) } catch { /* closed already */ } l.fd = -1 }
    if (l.held) { l.held = false; try { unlinkSync(l.path) } catch { /* gone */ } }
  }

  /** Write `content` into the held lock and rename it over `path`. Afterwards the lock is gone. */
  private commit(l: Held, path: string, content: string): void {
    writeAll(l.fd, content)
    if (this.opts.fsync) fsyncSync(l.fd)
    closeSync(l.fd)
    l.fd = -1
    renameSync(l.path, path)
    l.held = false
    if (this.opts.fsync) fsyncDir(dirname(path))
  }

  /** Remove now-empty directories above a deleted loose ref, up to refs/<kind>/. */
  private pruneDirs(name: string): void {
    const parts = name.split('/')
    for (let n = parts.length - 1; n > 2; n--) {
      try { rmdirSync(join(this.commonDir, ...parts.slice(0, n))) } catch { return }
    }
  }

  private formatPacked(p: PackedRefs, header: string): string {
    let s = header + '\n'
    for (const name of [...p.refs.keys()].sort(compareNames)) {
      s += `${p.refs.get(name)} ${name}\n`
      const peeled = p.peeled.get(name)
      if (peeled) s += `^${peeled}\n`
    }
    return s
  }

  /**
   * Rewrite packed-refs with `changes` applied (undefined removes a ref), under packed-refs.lock. With `expect`,
   * only if that ref's packed value is as expected. False when the lock is busy or the value differs.
   */
  private async rewritePacked(changes: Map<string, string | undefined>, expect?: { name: string; value: string | undefined }): Promise<boolean> {
    const l = await this.lock(this.packedPath)
    if (typeof l === 'string') return false
    try {
      this.packedCache = undefined
      const p = this.packed()
      if (expect && p.refs.get(expect.name) !== expect.value) return false
      const refs = new Map(p.refs), peeled = new Map(p.peeled)
      let header = p.header || '# pack-refs with: peeled fully-peeled sorted '
      for (const [name, id] of changes) {
        peeled.delete(name)
        if (id === undefined) { refs.delete(name); continue }
        refs.set(name, id)
        // We do not know whether the new id is an annotated tag, so no longer promise that peeled lines are complete.
        header = '# pack-refs with: sorted '
      }
      this.commit(l, this.packedPath, this.formatPacked({ ...p, refs, peeled }, header))
      this.packedCache = undefined
      return true
    } finally { this.unlock(l) }
  }

  /** True when `name` and a packed ref cannot both exist as files (one is a directory prefix of the other). */
  private conflictsInPacked(name: string): boolean {
    const p = this.packed()
    for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) if (p.refs.has(name.slice(0, i))) return true
    if (!p.dirs) {
      p.dirs = new Set()
      for (const n of p.refs.keys()) for (let i = n.indexOf('/'); i >= 0; i = n.indexOf('/', i + 1)) p.dirs.add(n.slice(0, i))
    }
    return p.dirs.has(name)
  }

  /** Loose refs in the way of `name`: a ref file where one of its directories would be, or ref files below `name/`. */
  private looseConflicts(name: string): string[] {
    const out: string[] = []
    const parts = name.split('/')
    for (let n = 2; n < parts.length; n++) {
      const prefix = parts.slice(0, n).join('/')
      if (statSync(this.pathOf(prefix), { throwIfNoEntry: false })?.isFile()) out.push(prefix)
    }
    const walk = (rel: string) => {
      let entries
      try { entries = readdirSync(this.pathOf(rel), { withFileTypes: true }) } catch { return }
      for (const e of entries) {
        const child = `${rel}/${e.name}`
        if (e.isDirectory()) walk(child)
        else if (!e.name.endsWith('.lock') && !refNameProblem(child)) out.push(child)
      }
    }
    walk(name)
    return out
  }

  async cas(name: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    return this.update(name, expected, next)
  }

  /**
   * Compare-and-set `name`, storing `objects` first (atomicWrite). With the journal, the ref's lock is taken (or is
   * already held), the value checked against the pending or on-disk one, and objects + update go into the journal
   * in one record; the flusher puts them on disk. Deletions, and refs Git can only keep in packed-refs, take the
   * classic path once the journal is drained: objects stored, then the ref moved under Git's lock-file protocol.
   */
  async update(name: string, expected: string | undefined, next: string | undefined, objects: readonly StoredObject[] = []): Promise<boolean> {
    this.guard('cas')
    this.check(name)
    if (expected !== undefined && !ID_RE.test(expected)) throw new BadIdError(expected)
    if (next !== undefined && !ID_RE.test(next)) throw new BadIdError(next)
    return this.mutex.run(async () => {
      this.guard('cas')
      try {
        let target = name
        try { target = this.resolve(name).ref } catch { /* a broken ref is replaced as it is */ }
        let changed: false | 'same' | 'moved' | 'classic' = 'classic'
        if (this.journal && next !== undefined && !perWorktree(target)) changed = await this.updateAhead(target, expected, next, objects)
        if (changed === 'classic') {
          if (this.journal && (this.pending.size > 0 || this.store.pending.size > 0)) await this.journal.drain()
          changed = await this.updateLocked(target, expected, next, objects.length ? () => this.store.write(objects) : undefined)
        }
        if (changed === false) return false
        if (changed === 'moved') this.watchers.emit({ name: target, old: expected, new: next })
        return true
      } catch (e) { this.wrap('cas', e) }
    })
  }

  /** The journaled update of `name` (see update); 'classic' when the ref needs the classic path. */
  private async updateAhead(name: string, expected: string | undefined, next: string, objects: readonly StoredObject[]): Promise<false | 'same' | 'moved' | 'classic'> {
    const journal = this.journal!
    await journal.room()
    const held = this.pending.get(name)
    if (held) return held.id === expected ? this.journalUpdate(name, held.id, next, objects, held.lock) : false
    // refs/heads/a pending and refs/heads/a/x asked for (or the reverse): only the classic path can keep both.
    for (const p of this.pending.keys()) if (p.startsWith(name + '/') || name.startsWith(p + '/')) return 'classic'
    const l = await this.lock(this.pathOf(name))
    if (l === 'busy') return false
    if (l === 'conflict') return 'classic'
    let kept = false
    try {
      // Tag the lock as this journal's before anything is acknowledged under it: recovery takes over exactly those.
      writeAll(l.fd, journal.lockTag)
      if (this.opts.fsync) fsyncSync(l.fd)
      closeSync(l.fd)
      l.fd = -1
      const loose = this.readLoose(name)
      if (loose.kind === 'symref') return false
      if (loose.kind === 'dir' || this.conflictsInPacked(name)) return 'classic'
      const cur = loose.kind === 'id' ? loose.id : this.packed().refs.get(name)
      if (cur !== expected) return false
      const r = this.journalUpdate(name, cur, next, objects, l)
      kept = r === 'moved'
      return r
    } finally { if (!kept) this.unlock(l) }
  }

  /** Journal objects + the move of `name` from `cur` (checked) to `next`; the lock `l` stays held while it is pending. */
  private journalUpdate(name: string, cur: string | undefined, next: string, objects: readonly StoredObject[], l: Held): 'same' | 'moved' {
    const fresh = objects.length ? this.store.fresh(objects, 'cas') : []
    if (cur === next) {
      if (fresh.length) this.journal!.append(fresh, undefined)
      return 'same'
    }
    this.journal!.append(fresh, { name, id: next })
    this.pending.set(name, { id: next, lock: l, published: false })
    return 'moved'
  }

  /** Pending updates not on disk yet, newest value per ref. */
  unpublished(): [string, PendingRef][] {
    const out: [string, PendingRef][] = []
    for (const e of this.pending) if (!e[1].published) out.push(e)
    return out
  }

  /**
   * Put a pending value on disk: written to a scratch file, renamed over the ref while the lock is still held. If no
   * newer update came meanwhile, the lock is then released. Its objects must be on disk already.
   */
  async publish(name: string, entry: PendingRef, tmpPath: string): Promise<void> {
    const fh = await openFile(tmpPath, 'w', 0o666)
    try {
      await fh.writeFile(entry.id + '\n')
      if (this.opts.fsync) await fh.sync()
    } finally { await fh.close() }
    await rename(tmpPath, this.pathOf(name))
    if (this.opts.fsync) fsyncDir(dirname(this.pathOf(name)))
    this.published(name, entry)
  }

  /** `entry` is on disk: unless a newer update of the ref came meanwhile, it stops pending and its lock goes. */
  private published(name: string, entry: PendingRef): void {
    entry.published = true
    if (this.pending.get(name) === entry) {
      this.pending.delete(name)
      this.unlock(entry.lock)
    }
  }

  /** publish(), synchronously: for a process about to exit. */
  publishSync(name: string, entry: PendingRef, tmpPath: string): void {
    this.placeSync(name, entry.id, tmpPath)
    this.published(name, entry)
  }

  /** Write `id` into the ref `name` (whose lock is held) through a scratch file renamed in place. */
  private placeSync(name: string, id: string, tmpPath: string): void {
    writeFileSync(tmpPath, id + '\n')
    if (this.opts.fsync) { const fd = openSync(tmpPath, 'r'); try { fsyncSync(fd) } finally { closeSync(fd) } }
    renameSync(tmpPath, this.pathOf(name))
  }

  /**
   * After a crash: the `.lock` files tagged `lockTag` are a dead journal's. Each of its refs gets its last journaled
   * value (`finals`), then the lock is released; a lock with no complete record is just released (that update was
   * never acknowledged). Locks are found by walking refs/, as a torn last record names no ref.
   */
  takeOverLocks(lockTag: string, finals: ReadonlyMap<string, string>, tmpPath: string): void {
    const walk = (rel: string) => {
      let entries
      try { entries = readdirSync(join(this.commonDir, rel), { withFileTypes: true }) } catch { return }
      for (const e of entries) {
        const child = `${rel}/${e.name}`
        if (e.isDirectory()) { walk(child); continue }
        if (!e.name.endsWith('.lock')) continue
        const lockPath = join(this.commonDir, child)
        let content: string
        try { content = readFileSync(lockPath, 'utf8') } catch { continue }
        if (content !== lockTag) continue
        const name = child.slice(0, -'.lock'.length)
        const id = finals.get(name)
        if (id !== undefined) this.placeSync(name, id, tmpPath)
        unlinkSync(lockPath)
      }
    }
    walk('refs')
  }

  private async updateLocked(name: string, expected: string | undefined, next: string | undefined, beforeMove?: () => void): Promise<false | 'same' | 'moved'> {
    const path = this.pathOf(name)
    const l = await this.lock(path)
    if (l === 'busy') return false
    if (l === 'conflict') {
      // A loose ref file sits where a directory of `name` would be: `name` can only be packed.
      const cur = this.packed().refs.get(name)
      if (cur !== expected) return false
      beforeMove?.()
      if (cur === next) return 'same'
      return await this.movePacked(name, expected, next, this.looseConflicts(name), false) ? 'moved' : false
    }
    try {
      const loose = this.readLoose(name)
      if (loose.kind === 'symref') return false
      const cur = loose.kind === 'id' ? loose.id : this.packed().refs.get(name)
      if (cur !== expected) return false
      // Objects first: they must be stored before the ref can point at them.
      beforeMove?.()
      if (cur === next) return 'same'
      if (next === undefined) {
        // packed-refs first: removing the loose file first would briefly show an older packed value.
        if (this.packed().refs.has(name) && !(await this.rewritePacked(new Map([[name, undefined]])))) return false
        if (loose.kind === 'id') { unlinkSync(path); this.unlock(l); this.pruneDirs(name) }
        return 'moved'
      }
      let inTheWay = false
      if (loose.kind === 'dir') {
        // An empty directory left by deleted refs is removed (as Git does); a non-empty one holds other refs.
        try { rmdirSync(path) } catch { inTheWay = true }
      }
      if (inTheWay || this.conflictsInPacked(name)) {
        // refs/heads/a next to refs/heads/a/x: Git cannot have both as files, so both go to packed-refs.
        return await this.movePacked(name, expected, next, this.looseConflicts(name), loose.kind === 'id') ? 'moved' : false
      }
      this.commit(l, path, next + '\n')
      return 'moved'
    } finally { this.unlock(l) }
  }

  /**
   * Set `name` in packed-refs together with the loose refs `movers` that conflict with it (each taken under its own
   * lock, written to packed-refs, then its loose file removed), as `git pack-refs` does. `looseSelf`: `name` also has
   * a loose file (already checked under its lock) to remove.
   */
  private async movePacked(name: string, expected: string | undefined, next: string | undefined, movers: string[], looseSelf: boolean): Promise<boolean> {
    const held: Lock[] = []
    try {
      const changes = new Map<string, string | undefined>()
      for (const r of movers) {
        const l = await this.lock(this.pathOf(r))
        held.push(l)
        if (typeof l === 'string') return false
        const v = this.readLoose(r)
        if (v.kind !== 'id') return false
        changes.set(r, v.id)
      }
      changes.set(name, next)
      if (!(await this.rewritePacked(changes, looseSelf ? undefined : { name, value: expected }))) return false
      for (const r of movers) unlinkSync(this.pathOf(r))
      if (looseSelf) unlinkSync(this.pathOf(name))
      return true
    } finally {
      for (const l of held) this.unlock(l)
      for (const r of [...movers, name]) this.pruneDirs(r)
    }
  }
}
