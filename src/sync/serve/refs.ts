// The refs a server shows: every ref under refs/, sorted, annotated tags with what they peel to, and HEAD,
// the symbolic ref a clone checks out. larix stores have no symbolic refs, so HEAD is chosen: the server's
// `head` option when given (the git backend passes what its HEAD file says), else main, else master, else
// the first branch; in an empty store HEAD is an unborn main.
import type { RefStore, ObjectStore } from '../../store/backend.js'
import { decodeTag } from '../../store/objects.js'
import type { AdvertisedRef } from '../wire/index.js'

/** Where HEAD points: a ref name such as `refs/heads/main`, or undefined to let the server choose. */
export type HeadOption = string | (() => string | undefined | Promise<string | undefined>)

/** The refs as advertised: HEAD (its target and, unless unborn, its id) and the rest, sorted by name. */
export interface RefListing {
  head: { target: string; id: string | undefined }
  refs: AdvertisedRef[]
}

/** The branch HEAD points at (it may not exist yet). */
export async function headTarget(refs: RefStore, option: HeadOption | undefined): Promise<string> {
  const given = typeof option === 'function' ? await option() : option
  if (given !== undefined) return given
  for (const name of ['refs/heads/main', 'refs/heads/master']) if (await refs.get(name)) return name
  const heads = await refs.list('refs/heads/')
  return heads[0]?.name ?? 'refs/heads/main'
}

/** What an annotated tag finally points at (tags of tags are followed), or undefined for a plain ref. */
export async function peeledId(objects: ObjectStore, id: string): Promise<string | undefined> {
  let peeled: string | undefined
  for (let depth = 0; depth < 16; depth++) {
    const o = await objects.get(id)
    if (!o || o.type !== 'tag') return peeled
    try { id = decodeTag(o.body).object } catch { return peeled }
    peeled = id
  }
  return peeled
}

/**
 * List the refs to advertise. `peel`: look up which refs under refs/tags/ are annotated tags. `prefixes`:
 * only refs (and HEAD) whose name starts with one of them.
 */
export async function listRefs(refs: RefStore, objects: ObjectStore, head: HeadOption | undefined, opts: { peel?: boolean; prefixes?: readonly string[] } = {}): Promise<RefListing> {
  const wanted = (name: string) => !opts.prefixes || opts.prefixes.length === 0 || opts.prefixes.some(p => name.startsWith(p))
  const all = await refs.list('refs/')
  const out: AdvertisedRef[] = []
  for (const r of all) {
    if (!wanted(r.name)) continue
    const ref: AdvertisedRef = { name: r.name, id: r.id }
    if (opts.peel !== false && r.name.startsWith('refs/tags/')) {
      const p = await peeledId(objects, r.id)
      if (p !== undefined) ref.peeled = p
    }
    out.push(ref)
  }
  const target = await headTarget(refs, head)
  const id = all.find(r => r.name === target)?.id
  return { head: { target, id }, refs: out }
}
