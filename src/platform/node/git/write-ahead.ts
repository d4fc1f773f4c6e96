// The git backend's write-ahead journal. A commit (its new objects and its ref update) is appended to a journal
// file under `<git dir>/larix/` with one write(2) and acknowledged; the ref's `.lock` is held meanwhile, so no other
// Git writer can move it. A background flusher then puts everything acknowledged so far on disk the way Git keeps
// it: all new objects as ONE pack + .idx, then each ref renamed into place, then the locks released (group commit:
// a flush starts as soon as there is work and the previous flush is done). Until then reads find the pending
// objects and refs in memory. Small packs are merged into one when they pile up.
//
// Crash safety. Each open backend has its own journal, `larix/<owner>.<tag>.journal`; `<owner>` names the process
// (pid and start time) and `<tag>` is what that journal writes into the `.lock` files it holds. On open, journals
// whose owner is dead are claimed (renamed to our owner: only one claimer wins) and replayed: objects not yet
// stored go into a pack; each `.lock` carrying the journal's tag gets its ref's last journaled value, then is
// released. A lock released before the crash no longer carries the tag, so an update already on disk (and perhaps
// superseded by Git since) is never replayed over a newer one. A torn last record was never acknowledged: dropped.
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fromUtf8, toHex, utf8 } from '../../../store/bytes.js'
import { BackendError } from '../../../store/errors.js'
import { OBJECT_TYPES } from '../../../store/objects.js'
import type { StoredObject } from '../../../store/objects.js'
import { FileJournal } from '../journal.js'
import type { GitObjectStore } from './object-store.js'
import { buildPack, mergePacks } from './pack.js'
import type { PackReader } from './pack.js'
import type { GitRefStore, RefJournal } from './refs.js'

/** Past this many bytes in the journal, a writer waits for a flush to empty it. */
const MAX_JOURNAL = 64 << 20
/** More packs than this (of whole objects, below MERGE_MAX_BYTES, in the repository's own objects/pack) are merged. */
const MERGE_ABOVE = 16
const MERGE_MAX_BYTES = 8 << 20

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code
}

/** When process `pid` started (clock ticks since boot, Linux), to tell it from a later process with the same pid. */
function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0'
  } catch { return '0' }
}

const selfStart = processStart(process.pid)
/** The owners of the journals open in this process. */
const openHere = new Set<string>()
/** The journals open in this process: if it exits without closing them, they are flushed on the way out. */
const live = new Set<WriteAhead>()
let exitHook = false
function flushAllOnExit(): void {
  for (const w of live) {
    try { w.flushSync() } catch { /* the journal stays: the next open replays it */ }
  }
}

/** Whether the backend that owns journals named `owner` (`<pid>-<start>-<random>`) may still be running. */
function ownerAlive(owner: string): boolean {
  const m = /^(\d+)-(\d+)-[0-9a-z]+$/.exec(owner)
  if (!m) return true
  const pid = Number(m[1])
  if (pid === process.pid && m[2] === selfStart) return openHere.has(owner)
  try { process.kill(pid, 0) } catch (e) { return code(e) === 'EPERM' }
  return m[2] === '0' || processStart(pid) === m[2]
}

// Record: [u8 flags: 1 = has a ref update][ref: u16 name length, name (UTF-8), 20-byte id]
//         [u32 object count][per object: u8 type index, 20-byte id, u32 body length, body]. Little-endian.
export function encodeRecord(objects: readonly StoredObject[], ref: { name: string; id: string } | undefined): Uint8Array {
  const name = ref ? utf8(ref.name) : undefined
  let size = 1 + (name ? 2 + name.length + 20 : 0) + 4
  for (const o of objects) size += 25 + o.body.length
  const out = Buffer.allocUnsafe(size)
  let at = 0
  out[at++] = ref ? 1 : 0
  if (ref && name) {
    out.writeUInt16LE(name.length, at)
    out.set(name, at + 2)
    at += 2 + name.length
    at += out.write(ref.id, at, 'hex')
  }
  out.writeUInt32LE(objects.length, at)
  at += 4
  for (const o of objects) {
    out[at] = OBJECT_TYPES.indexOf(o.type)
    out.write(o.id, at + 1, 'hex')
    out.writeUInt32LE(o.body.length, at + 21)
    out.set(o.body, at + 25)
    at += 25 + o.body.length
  }
  return out
}

function decodeRecord(data: Uint8Array): { objects: StoredObject[]; ref: { name: string; id: string } | undefined } {
  const bad = () => new BackendError('the git store journal holds a malformed record', 'open')
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let at = 1
  let ref: { name: string; id: string } | undefined
  if (data.length < 5) throw bad()
  if (data[0] === 1) {
    const len = view.getUint16(at, true)
    if (at + 2 + len + 24 > data.length) throw bad()
    ref = { name: fromUtf8(data.subarray(at + 2, at + 2 + len)), id: toHex(data, at + 2 + len, at + 22 + len) }
    at += 22 + len
  }
  const count = view.getUint32(at, true)
  at += 4
  const objects: StoredObject[] = []
  for (let i = 0; i < count; i++) {
    if (at + 25 > data.length) throw bad()
    const type = OBJECT_TYPES[data[at]]
    const len = view.getUint32(at + 21, true)
    if (!type || at + 25 + len > data.length) throw bad()
    objects.push({ type, id: toHex(data, at + 1, at + 21), body: data.slice(at + 25, at + 25 + len) })
    at += 25 + len
  }
  return { objects, ref }
}

export class WriteAhead implements RefJournal {
  private readonly owner = `${process.pid}-${selfStart}-${Math.floor(Math.random() * 2 ** 48).toString(36)}`
  readonly lockTag = `larix journal ${this.owner}\n`
  private dir = ''
  private journal: FileJournal | undefined
  private flushing: Promise<void> | undefined
  private failed: unknown
  /** Packs found not to be mergeable (they hold deltas: Git's). */
  private readonly unmergeable = new Set<string>()

  constructor(private readonly objects: GitObjectStore, private readonly refs: GitRefStore, private readonly opts: { fsync: boolean }) {}

  /** Names this flusher's temporary pack files. */
  private get tmpTag(): string {
    return `larix-${this.owner}_`
  }

  get tmpPath(): string {
    return join(this.dir, `tmp-${this.owner}`)
  }

  /** Replay the journals of dead backends on this repository, then start our own. */
  open(commonDir: string): void {
    this.dir = join(commonDir, 'larix')
    mkdirSync(this.dir, { recursive: true })
    for (const name of readdirSync(this.dir)) {
      const m = /^([^.]+)\.([^.]+)\.journal$/.exec(name)
      if (m && !ownerAlive(m[1])) this.replay(name, m[2])
      // A dead flusher's scratch file.
      const t = /^tmp-([^.]+)$/.exec(name)
      if (t && !ownerAlive(t[1])) try { unlinkSync(join(this.dir, name)) } catch { /* gone */ }
    }
    this.removeTmpPacks(owner => !ownerAlive(owner))
    this.journal = new FileJournal(join(this.dir, `${this.owner}.${this.owner}.journal`), { flags: 'wx+', fsync: this.opts.fsync })
    openHere.add(this.owner)
    live.add(this)
    if (!exitHook) { exitHook = true; process.on('exit', flushAllOnExit) }
  }

  /**
   * Everything pending, written synchronously (the process is exiting without having closed the backend): the
   * pending objects as one pack, then the refs. A flush in flight is abandoned: what it wrote is written again.
   */
  flushSync(): void {
    const journal = this.journal
    if (!journal) return
    this.objects.takeQueue()
    const objects = [...this.objects.pending.values()]
    if (objects.length > 0) this.objects.writePack(objects)
    for (const [name, entry] of [...this.refs.pending]) this.refs.publishSync(name, entry, this.tmpPath)
    this.removeTmpPacks(owner => owner === this.owner)
    this.forget()
    unlinkSync(journal.path)
  }

  /** Half-written packs (of a flush cut short) whose writer's owner id passes `whose`. */
  private removeTmpPacks(whose: (owner: string) => boolean): void {
    const packDir = join(this.objects.objectsDir, 'pack')
    let names: string[] = []
    try { names = readdirSync(packDir) } catch { /* no packs yet */ }
    for (const name of names) {
      const t = /^tmp_(?:pack|idx)_larix-([^_]+)_/.exec(name)
      if (t && whose(t[1])) try { unlinkSync(join(packDir, name)) } catch { /* gone */ }
    }
  }

  /** This journal is closed: no longer ours to flush. */
  private forget(): void {
    this.journal?.close()
    this.journal = undefined
    openHere.delete(this.owner)
    live.delete(this)
  }

  private replay(file: string, tag: string): void {
    const claimed = join(this.dir, `${this.owner}.${tag}.journal`)
    try { renameSync(join(this.dir, file), claimed) } catch (e) {
      if (code(e) === 'ENOENT') return // another process claimed it first
      throw e
    }
    const j = new FileJournal(claimed)
    let records: Uint8Array[]
    try { records = j.recover() } finally { j.close() }
    const all: StoredObject[] = []
    const finals = new Map<string, string>()
    for (const r of records) {
      const { objects, ref } = decodeRecord(r)
      for (const o of objects) all.push(o)
      if (ref) finals.set(ref.name, ref.id)
    }
    const fresh = this.objects.fresh(all, 'open')
    if (fresh.length > 0) this.objects.writePack(fresh)
    this.refs.takeOverLocks(`larix journal ${tag}\n`, finals, this.tmpPath)
    unlinkSync(claimed)
  }

  async room(): Promise<void> {
    if (this.journal && this.journal.size > MAX_JOURNAL) await this.drain()
  }

  append(objects: readonly StoredObject[], ref: { name: string; id: string } | undefined): void {
    if (this.failed !== undefined) throw new BackendError(`the git store cannot write: an earlier flush failed (${(this.failed as Error)?.message ?? this.failed})`, 'write', this.failed)
    const journal = this.journal
    if (!journal) throw new BackendError('the git store is not open', 'write')
    if (objects.length === 0 && !ref) return
    journal.append(encodeRecord(objects, ref))
    this.objects.addPending(objects)
    // After this tick: the caller registers its pending ref update first, so one flush takes both.
    if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flush())
  }

  /** Objects alone (a small putMany): journaled like a commit, no ref. */
  async store(objects: StoredObject[]): Promise<void> {
    await this.room()
    this.append(objects, undefined)
  }

  /** Flush until nothing is pending; then empty the journal. A failure stops the flusher: the journal keeps it all. */
  private async flush(): Promise<void> {
    try {
      for (;;) {
        const objects = this.objects.takeQueue()
        const refs = this.refs.unpublished()
        if (objects.length === 0 && refs.length === 0) break
        if (objects.length > 0) await this.objects.writePackAsync(buildPack(objects), objects, [], this.tmpTag)
        for (const [name, entry] of refs) await this.refs.publish(name, entry, this.tmpPath)
        await this.mergeSmallPacks()
      }
      if (this.objects.pending.size === 0 && this.refs.pending.size === 0) this.journal?.reset()
    } catch (e) {
      this.failed = e
    } finally {
      this.flushing = undefined
    }
  }

  /**
   * Many small packs slow every lookup (Git's too): past MERGE_ABOVE, the smallest are merged into one. The new pack
   * is named before the old ones go, so a concurrent reader (Git or larix) always finds every object. The set
   * merged grows while the next pack is no bigger than twice what is merged, so sizes stay geometric and an object
   * is copied O(log n) times.
   */
  private async mergeSmallPacks(): Promise<void> {
    const candidates = this.objects.ownPacks.filter(p => p.size < MERGE_MAX_BYTES && !this.unmergeable.has(p.path))
    if (candidates.length <= MERGE_ABOVE) return
    const packDir = join(this.objects.objectsDir, 'pack')
    if (existsSync(join(packDir, 'multi-pack-index'))) return
    // Packs with a .keep, .promisor, .mtimes (cruft) or .bitmap are Git's business.
    const plain = candidates.filter(p => {
      const base = p.path.slice(0, -'.pack'.length)
      if (['.keep', '.promisor', '.mtimes', '.bitmap'].some(ext => existsSync(base + ext))) { this.unmergeable.add(p.path); return false }
      return true
    })
    if (plain.length <= MERGE_ABOVE) return
    plain.sort((a, b) => a.size - b.size)
    let k = plain.length - MERGE_ABOVE / 2
    let sum = 0
    for (let i = 0; i < k; i++) sum += plain[i].size
    while (k < plain.length && plain[k].size <= 2 * sum) sum += plain[k++].size
    const chosen: PackReader[] = plain.slice(0, k)
    try {
      const merged = mergePacks(chosen)
      if ('hasDeltas' in merged) { this.unmergeable.add(merged.hasDeltas.path); return }
      await this.objects.writePackAsync(merged.built, [], chosen, this.tmpTag)
    } catch {
      // Merging is an optimisation: the packs stay as they are (and every object in them), and are not tried again.
      for (const p of chosen) this.unmergeable.add(p.path)
    }
  }

  /** Wait until everything acknowledged is on disk (refs moved, locks released). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
    if (this.failed !== undefined) throw new BackendError(`the git store could not write what it acknowledged (the journal keeps it for the next open): ${(this.failed as Error)?.message ?? this.failed}`, 'flush', this.failed)
  }

  /** Flush, then remove the journal. If the flush fails, the journal stays for the next open to replay. */
  async close(): Promise<void> {
    const journal = this.journal
    try {
      await this.drain()
      journal?.close()
      if (journal) unlinkSync(journal.path)
    } finally {
      this.forget()
    }
  }
}
