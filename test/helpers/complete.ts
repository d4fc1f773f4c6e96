// Store invariants for fault tests, and a backend whose "disk" fills up.
//  - assertComplete(backend): every ref points at an object whose whole closure (a commit's tree and parents,
//    a tree's entries, a tag's target) is present and hashes to its id. A shallow store's boundary commits
//    (refs/larix/shallow) need not have their parents.
//  - fullDiskBackend(inner): writes succeed until a budget of objects is spent, then every write throws a
//    BackendError caused by an ENOSPC error, writing nothing of that call (as an atomic LevelDB batch does).
import assert from 'node:assert/strict'
import type { Backend, ObjectStore, RefStore } from '../../src/store/backend.js'
import { BackendError } from '../../src/store/errors.js'
import { decodeCommit, decodeTag, forEachTreeEntry, objectId } from '../../src/store/objects.js'
import type { StoredObject } from '../../src/store/objects.js'
import { SHALLOW_REF } from '../../src/sync/client/shallow.js'

export interface Completeness {
  refs: Record<string, string>
  objects: number
}

/** Walk every ref's closure; fail the test (naming the ref and the missing object) if anything is absent. */
export async function assertComplete(backend: Backend): Promise<Completeness> {
  const refs = await backend.refs.list()
  const shallow = new Set<string>()
  for (const r of refs) {
    if (r.name !== SHALLOW_REF) continue
    const o = await backend.objects.get(r.id)
    assert.ok(o, `${SHALLOW_REF} points at ${r.id}, which is missing`)
    for (const id of new TextDecoder().decode(o.body).split(/\s+/)) if (id) shallow.add(id)
  }
  const seen = new Set<string>()
  for (const r of refs) {
    if (r.name === SHALLOW_REF) continue
    const stack: { id: string; from: string }[] = [{ id: r.id, from: r.name }]
    while (stack.length > 0) {
      const { id, from } = stack.pop()!
      if (seen.has(id)) continue
      const o = await backend.objects.get(id)
      assert.ok(o, `ref ${r.name} is incomplete: ${id} (reached from ${from}) is missing`)
      assert.equal(objectId(o.type, o.body), id, `object ${id} does not hash to its id`)
      seen.add(id)
      if (o.type === 'commit') {
        const c = decodeCommit(o.body)
        stack.push({ id: c.tree, from: `commit ${id}` })
        if (!shallow.has(id)) for (const p of c.parents) stack.push({ id: p, from: `commit ${id}` })
      } else if (o.type === 'tree') {
        forEachTreeEntry(o.body, (_name, mode, child) => {
          if (mode !== '160000') stack.push({ id: child, from: `tree ${id}` })
        })
      } else if (o.type === 'tag') {
        stack.push({ id: decodeTag(o.body).object, from: `tag ${id}` })
      }
    }
  }
  return { refs: Object.fromEntries(refs.map(r => [r.name, r.id])), objects: seen.size }
}

/** The refs of a store, as a plain object (for comparing before and after). */
export async function refsOf(backend: Backend): Promise<Record<string, string>> {
  return Object.fromEntries((await backend.refs.list()).map(r => [r.name, r.id]))
}

export interface FullDisk {
  backend: Backend
  /** From now on, allow `objects` more objects (a ref update counts as one) and then fail every write. */
  fill(objects: number): void
  /** The disk has room again. */
  free(): void
  /** Writes refused so far. */
  readonly refused: number
  /** Objects written through this wrapper. */
  readonly written: number
}

function enospc(op: string): BackendError {
  const cause = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  return new BackendError(`${op} failed: no space left on device (free some disk space, then retry)`, op, cause)
}

/** Wrap `inner` with a simulated disk that can fill up. Reads always work. */
export function fullDiskBackend(inner: Backend): FullDisk {
  let budget = Infinity
  let refused = 0
  let written = 0
  const spend = (n: number, op: string) => {
    if (n > budget) {
      refused++
      budget = 0
      throw enospc(op)
    }
    budget -= n
  }
  const objects = new Proxy(inner.objects, {
    get(t, p, r) {
      if (p === 'putMany') {
        return async (objs: readonly StoredObject[]) => {
          spend(objs.length, 'putMany')
          await t.putMany(objs)
          written += objs.length
        }
      }
      const v = Reflect.get(t, p, r)
      return typeof v === 'function' ? v.bind(t) : v
    },
  }) as ObjectStore
  const refs = new Proxy(inner.refs, {
    get(t, p, r) {
      if (p === 'cas') {
        return async (name: string, expected: string | undefined, next: string | undefined) => {
          if ((await t.get(name)) === expected) spend(1, 'ref update')
          return t.cas(name, expected, next)
        }
      }
      const v = Reflect.get(t, p, r)
      return typeof v === 'function' ? v.bind(t) : v
    },
  }) as RefStore
  const backend: Backend = {
    name: inner.name,
    objects,
    refs,
    open: () => inner.open(),
    close: () => inner.close(),
  }
  if (inner.atomicWrite) {
    const atomic = inner.atomicWrite.bind(inner)
    backend.atomicWrite = async (objs, ref) => {
      if ((await inner.refs.get(ref.name)) === ref.expected) spend(objs.length + 1, 'commit')
      const ok = await atomic(objs, ref)
      if (ok) written += objs.length
      return ok
    }
  }
  return {
    backend,
    fill(n) { budget = n },
    free() { budget = Infinity },
    get refused() { return refused },
    get written() { return written },
  }
}
