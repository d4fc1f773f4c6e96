// The git backend: a larix store inside a real Git repository, readable and writable by the `git` CLI at the same
// time. Objects are loose files and packs, refs are files under Git's lock-file protocol; see ./git/ for each part.
import { join } from 'node:path'
import type { Backend } from '../../store/backend.js'
import { BackendError } from '../../store/errors.js'
import type { StoredObject } from '../../store/objects.js'
import { locateRepository } from './git/layout.js'
import { GitObjectStore } from './git/object-store.js'
import { GitRefStore } from './git/refs.js'

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
  const refs = new GitRefStore(guard, { fsync, lockTimeoutMs: options.lockTimeoutMs ?? 100 })
  return {
    name: 'git',
    dir,
    get gitDir() { return gitDir },
    objects,
    refs,
    /** Objects are written (and, with `fsync`, synced) while the ref's lock is held, before the ref moves. */
    atomicWrite(objs: readonly StoredObject[], ref: { name: string; expected: string | undefined; next: string | undefined }) {
      return refs.update(ref.name, ref.expected, ref.next, () => objects.write(objs))
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
      gitDir = layout.gitDir
      open = true
    },
    async close() {
      open = false
      objects.unload()
    },
  }
}
