// The git backend: a larix store inside a real Git repository, readable and writable by the `git` CLI at the same
// time. Objects are packs (and loose files), refs are files under Git's lock-file protocol; commits are acknowledged
// once in a write-ahead journal and reach the repository a few milliseconds later (git/write-ahead.ts). See ./git/.
import { join } from 'node:path'
import type { Backend } from '../../store/backend.js'
import { BackendError } from '../../store/errors.js'
import type { StoredObject } from '../../store/objects.js'
import { locateRepository } from './git/layout.js'
import { GitObjectStore } from './git/object-store.js'
import { GitRefStore } from './git/refs.js'
import { WriteAhead } from './git/write-ahead.js'

export interface GitBackendOptions {
  /**
   * fsync objects, packs and refs before naming them (default false). Without it, a write is ordered (objects are
   * named before the ref moves) but, like the level backend's, not forced to disk before it returns.
   */
  fsync?: boolean
  /** Batches of more than this many new objects are written as one pack, smaller ones as loose objects (default 256). */
  packThreshold?: number
  /** How long a ref update waits for another writer's `.lock` before it reports failure (default 100 ms, as Git). */
  lockTimeoutMs?: number
  /** Bytes of resolved delta bases kept in memory (default 32 MiB). */
  deltaCacheBytes?: number
}

export interface GitBackend extends Backend {
  /** The directory given to gitBackend (a repository, a work tree, or where one was created). */
  readonly dir: string
  /** The git directory in use (`<dir>/.git` for a work tree, `dir` for a bare repository); known once open. */
  readonly gitDir: string | undefined
  /**
   * Wait until every acknowledged write is in the repository for Git to see (objects in a pack, refs moved, ref
   * locks released). It happens by itself within milliseconds of a commit; close() does it too.
   */
  flush(): Promise<void>
}

/**
 * A backend in a real Git repository: `dir` is a bare repository, a work tree (its `.git` is used), or a missing or
 * empty directory, where a bare repository is created (HEAD on refs/heads/main). `git log`, `git show`, `git fsck`
 * and `git gc` work on it while larix uses it, and commits made with `git` are visible to larix.
 * @example const repo = await Repo.open({ backend: gitBackend('./data.git') })
 */
export function gitBackend(dir: string, options: GitBackendOptions = {}): GitBackend {
  if (typeof dir !== 'string' || dir === '') throw new BackendError('gitBackend needs a directory', 'open')
  let open = false
  let gitDir: string | undefined
  const guard = (op: string) => {
    if (!open) throw new BackendError('the git store is not open', op)
  }
  const fsync = options.fsync ?? false
  const objects = new GitObjectStore(guard, {
    fsync,
    packThreshold: options.packThreshold ?? 256,
    deltaCacheBytes: options.deltaCacheBytes ?? 32 * 1024 * 1024,
  })
  const refs = new GitRefStore(guard, { fsync, lockTimeoutMs: options.lockTimeoutMs ?? 100 }, objects)
  let ahead: WriteAhead | undefined
  return {
    name: 'git',
    dir,
    get gitDir() { return gitDir },
    objects,
    refs,
    /** Objects and the ref update are journaled together under the ref's lock; the objects reach disk before the ref moves. */
    atomicWrite(objs: readonly StoredObject[], ref: { name: string; expected: string | undefined; next: string | undefined }) {
      return refs.update(ref.name, ref.expected, ref.next, objs)
    },
    async flush() {
      guard('flush')
      await ahead?.drain()
    },
    async open() {
      if (open) return
      let layout
      try { layout = locateRepository(dir) } catch (e) {
        if (e instanceof BackendError) throw e
        throw new BackendError(`cannot open the git store at ${dir}: ${(e as Error).message}`, 'open', e)
      }
      try { objects.load(join(layout.commonDir, 'objects')) } catch (e) {
        throw new BackendError(`cannot read the objects of ${layout.commonDir}: ${(e as Error).message}`, 'open', e)
      }
      refs.load(layout.gitDir, layout.commonDir)
      const wal = new WriteAhead(objects, refs, { fsync })
      try {
        wal.open(layout.commonDir)
        ahead = wal
        objects.journal = objs => wal.store(objs)
        refs.journal = wal
      } catch (e) {
        // A repository we may not write to (another user's, a read-only mount) is still read; writes then take the
        // classic path, and fail there with the file system's error.
        const code = (e as NodeJS.ErrnoException)?.code
        if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') {
          objects.unload()
          if (e instanceof BackendError) throw e
          throw new BackendError(`cannot replay the journal of the git store at ${layout.commonDir}: ${(e as Error).message}`, 'open', e)
        }
      }
      gitDir = layout.gitDir
      open = true
    },
    async close() {
      if (!open) return
      open = false
      // Everything acknowledged goes into the repository first; if that fails, the journal keeps it for the next open.
      try { await ahead?.close() } finally {
        ahead = undefined
        objects.journal = undefined
        refs.journal = undefined
        objects.unload()
      }
    },
  }
}
