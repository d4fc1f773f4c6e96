// The JSON API of a replica, as a hono app over one Repo (web standards only: it runs wherever hono runs).
//
//   GET    /api/v1/branches                              { branches: [{ name, head }] }
//   GET    /api/v1/branches/:branch/tree[/*path]         { path, value, commit } or { path, entries: [{ name, kind }], commit }
//   PUT    /api/v1/branches/:branch/tree/*path           body { value, message?, author? }  → { commit }
//   DELETE /api/v1/branches/:branch/tree/*path           body (optional) { message?, author? } → { commit }
//   GET    /api/v1/branches/:branch/log?path=&limit=     { commits: [{ id, parents, tree, message, author, committer, timestamp, timezoneOffset }] }
//   POST   /api/v1/branches/:branch/merge                body { from, message?, author?, noFastForward? } → MergeResult (409 on conflict)
//   POST   /api/v1/branches/:branch/revert               body { commit, mainline?, message?, author? } → { commit }
//
// PUT takes a wrapper object, never a bare value: `{ "value": <any JSON> }`, so that a commit message can
// travel with it. Writes honour `If-Match: <commit id>` (quoted or not): the write happens only if the branch
// head is still that commit, else 409 LARIX_CONFLICT. Reads answer the head they read in `commit` and ETag.
// The branch is one URL segment, percent-decoded (`feature%2Fx` is branch `feature/x`) and checked by Git's
// ref-name rules. Tree path segments are percent-decoded one by one and checked by the store's path rules:
// an empty, `.` or `..` segment, or one holding `/` (`%2F`) or NUL (`%00`), is 400 LARIX_BAD_PATH.
import { Hono } from 'hono'
import type { Commit, Repo } from '../../store/repo.js'
import { BadArgumentError, BadPathError, ConflictError, NotFoundError } from '../../store/errors.js'
import { isObjectId } from '../../store/objects.js'
import { formatPath, parsePath } from '../../store/path.js'
import type { Path } from '../../store/path.js'
import { branchRef } from '../../store/refs.js'
import { Authorizer } from '../auth.js'
import type { Access, AuthOptions } from '../auth.js'
import { BadRequestError, errorResponse, jsonResponse, MethodNotAllowedError, NoRouteError } from './errors.js'
import { decodeSegment, expectObject, hasDotSegment, onlyKeys, optionalString, rawPathOf, readJsonBody } from './request.js'

export interface ApiOptions {
  /** Largest JSON body of a write, in bytes (default 1 MiB). Enforced while reading. */
  maxBodyBytes?: number
  /** Bearer tokens: reads need `read`, writes `read-write`. None: open. */
  auth?: AuthOptions | Authorizer
  /** Most commits one log request may ask for (default 10,000; the default limit is 100). */
  maxLogLimit?: number
  /** Told about failures that are bugs (answered 500) or storage failures (503). */
  onError?: (e: unknown) => void
}

/** The API's base path. */
export const API_PREFIX = '/api/v1'

/** An Authorizer for these options (undefined: no authentication). */
export function toAuthorizer(auth: AuthOptions | Authorizer | undefined): Authorizer | undefined {
  if (auth === undefined) return undefined
  const a = auth instanceof Authorizer ? auth : new Authorizer(auth)
  return a.enabled ? a : undefined
}

/** A commit as the API shows it (flat). */
export function commitJson(c: Commit): Record<string, unknown> {
  return {
    id: c.id, parents: c.parents, tree: c.tree, message: c.info.message, author: c.info.author,
    committer: c.info.committer, timestamp: c.info.timestamp, timezoneOffset: c.info.timezoneOffset,
  }
}

function parseIfMatch(header: string | null): string | undefined {
  if (header === null) return undefined
  const v = header.trim().replace(/^"(.*)"$/, '$1')
  if (!isObjectId(v)) throw new BadRequestError(`If-Match must be the commit id the branch head must still have (40 hex digits), got ${JSON.stringify(header.slice(0, 60))}`, 'if-match')
  return v
}

function etag(id: string | undefined): Record<string, string> {
  return id === undefined ? {} : { ETag: `"${id}"` }
}

interface Route {
  kind: 'branches' | 'tree' | 'log' | 'merge' | 'revert'
  branch?: string
  path?: Path
}

function route(rawPath: string): Route {
  if (hasDotSegment(rawPath)) throw new BadPathError(`"." and ".." are not allowed in a request path: ${JSON.stringify(rawPath.slice(0, 200))}`, rawPath)
  if (rawPath !== API_PREFIX && !rawPath.startsWith(API_PREFIX + '/')) throw new NoRouteError(rawPath)
  const parts = rawPath.slice(API_PREFIX.length + 1).split('/')
  if (parts[0] !== 'branches') throw new NoRouteError(rawPath)
  if (parts.length === 1) return { kind: 'branches' }
  if (parts.length < 3) throw new NoRouteError(rawPath)
  const branch = decodeSegment(parts[1]!, rawPath)
  branchRef(branch)
  const action = parts[2]
  if (action === 'tree') {
    const rest = parts.slice(3)
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return { kind: 'tree', branch, path: [] }
    return { kind: 'tree', branch, path: parsePath(rest.map(s => decodeSegment(s, rawPath))) }
  }
  if ((action === 'log' || action === 'merge' || action === 'revert') && parts.length === 3) return { kind: action, branch }
  throw new NoRouteError(rawPath)
}

const METHODS: Record<Route['kind'], string[]> = {
  branches: ['GET'], tree: ['GET', 'PUT', 'DELETE'], log: ['GET'], merge: ['POST'], revert: ['POST'],
}

/**
 * A hono app serving the JSON API of `repo` under `/api/v1` (mount it at the root of the server).
 * @example
 * const app = apiApp(repo, { auth: { tokens: [{ token: 'a-long-secret', scope: 'read-write' }] } })
 * await app.fetch(new Request('http://x/api/v1/branches', { headers: { Authorization: 'Bearer a-long-secret' } }))
 */
export function apiApp<V>(repo: Repo<V>, options: ApiOptions = {}): Hono {
  const limit = options.maxBodyBytes ?? 1 << 20
  const maxLog = options.maxLogLimit ?? 10_000
  const authorizer = toAuthorizer(options.auth)
  const app = new Hono()

  app.all('*', async c => {
    const request = c.req.raw
    const method = request.method === 'HEAD' ? 'GET' : request.method
    try {
      const need: Access = method === 'GET' ? 'read' : 'write'
      authorizer?.check(request.headers.get('Authorization'), need)
      const r = route(rawPathOf(request, c.env))
      if (!METHODS[r.kind].includes(method)) throw new MethodNotAllowedError(method, METHODS[r.kind])
      switch (r.kind) {
        case 'branches': return await listBranches()
        case 'tree':
          if (method === 'GET') return await readTree(r.branch!, r.path!)
          return await writeTree(request, method, r.branch!, r.path!)
        case 'log': return await log(request, r.branch!)
        case 'merge': return await merge(request, r.branch!)
        case 'revert': return await revert(request, r.branch!)
      }
    } catch (e) {
      return errorResponse(e, options.onError)
    }
  })

  async function headOf(branch: string): Promise<string> {
    const head = await repo.backend.refs.get(branchRef(branch))
    if (head === undefined) throw new NotFoundError('branch', branch)
    return head
  }

  async function listBranches(): Promise<Response> {
    const refs = await repo.backend.refs.list('refs/heads/')
    return jsonResponse({ branches: refs.map(r => ({ name: r.name.slice('refs/heads/'.length), head: r.id })) })
  }

  async function readTree(branch: string, path: Path): Promise<Response> {
    const head = await headOf(branch)
    const { tree } = await repo.checkout(head)
    const shown = formatPath(path)
    const kind = path.length === 0 ? 'tree' : await tree.kind(path)
    if (kind === undefined) throw new NotFoundError('path', `${JSON.stringify(shown)} on branch ${branch}`)
    if (kind === 'value') return jsonResponse({ path: shown, value: await tree.get(path), commit: head }, 200, etag(head))
    return jsonResponse({ path: shown, entries: await tree.list(path), commit: head }, 200, etag(head))
  }

  async function writeTree(request: Request, method: string, branch: string, path: Path): Promise<Response> {
    if (path.length === 0) throw new BadPathError('a write needs a path below the root (…/tree/some/key)', '')
    const expected = parseIfMatch(request.headers.get('If-Match'))
    const body = method === 'PUT'
      ? expectObject(await readJsonBody(request, limit), 'like { "value": …, "message": "…" }')
      : expectObject((await readJsonBody(request, limit, true)) ?? {}, 'like { "message": "…" }')
    onlyKeys(body, method === 'PUT' ? ['value', 'message', 'author'] : ['message', 'author'])
    if (method === 'PUT' && !('value' in body)) throw new BadRequestError('the body needs a "value" field: { "value": … }', 'body')
    const message = optionalString(body, 'message') ?? `${method === 'PUT' ? 'set' : 'remove'} ${formatPath(path)}`
    const author = optionalString(body, 'author')
    const opts = { message, ...(author !== undefined ? { author } : {}) }
    const b = repo.branch(branch)
    let commit: Commit | undefined
    if (expected === undefined) {
      commit = method === 'PUT' ? await b.set(path, body.value as V, opts) : await b.remove(path, opts)
    } else {
      const r = await b.transaction(tx => {
        const actual = tx.base?.id
        if (actual !== expected) {
          throw new ConflictError(`branch ${branch} is at ${actual ?? 'no commit'}, not ${expected} (If-Match): read it again and retry`, { branch, expected, actual })
        }
        if (method === 'PUT') tx.set(path, body.value as V)
        else tx.remove(path)
      }, { ...opts, retries: 0 })
      commit = r.commit
    }
    return jsonResponse({ commit: commit?.id ?? null }, 200, etag(commit?.id))
  }

  async function log(request: Request, branch: string): Promise<Response> {
    const q = new URL(request.url).searchParams
    const limitArg = q.get('limit')
    let n = 100
    if (limitArg !== null) {
      if (!/^\d{1,9}$/.test(limitArg) || Number(limitArg) < 1 || Number(limitArg) > maxLog) {
        throw new BadRequestError(`limit must be a whole number from 1 to ${maxLog}`, 'limit')
      }
      n = Number(limitArg)
    }
    const pathArg = q.get('path')
    const path = pathArg === null || pathArg === '' ? undefined : parsePath(pathArg)
    await headOf(branch)
    const commits: Record<string, unknown>[] = []
    for await (const c of repo.branch(branch).log({ ...(path ? { path } : {}), limit: n })) commits.push(commitJson(c))
    return jsonResponse({ commits })
  }

  async function merge(request: Request, branch: string): Promise<Response> {
    const body = expectObject(await readJsonBody(request, limit), 'like { "from": "feature" }')
    onlyKeys(body, ['from', 'message', 'author', 'noFastForward'])
    const from = optionalString(body, 'from')
    if (from === undefined || from === '') throw new BadRequestError('the body needs "from": the branch or commit to merge', 'body')
    if (body.noFastForward !== undefined && typeof body.noFastForward !== 'boolean') throw new BadRequestError('"noFastForward" must be true or false', 'body')
    const message = optionalString(body, 'message')
    const author = optionalString(body, 'author')
    const r = await repo.branch(branch).merge(from, {
      ...(message !== undefined ? { message } : {}), ...(author !== undefined ? { author } : {}), noFastForward: body.noFastForward === true,
    })
    if (r.status === 'conflict') {
      const error = { code: 'LARIX_CONFLICT', message: `merging ${from} into ${branch} conflicts at ${r.conflicts.map(c => c.path).join(', ')}; the branch is unchanged` }
      return jsonResponse({ status: 'conflict', conflicts: r.conflicts, bases: r.bases, error }, 409, { 'X-Larix-Error': 'LARIX_CONFLICT' })
    }
    return jsonResponse({ status: r.status, commit: commitJson(r.commit) }, 200, etag(r.commit.id))
  }

  async function revert(request: Request, branch: string): Promise<Response> {
    const body = expectObject(await readJsonBody(request, limit), 'like { "commit": "<id>" }')
    onlyKeys(body, ['commit', 'mainline', 'message', 'author'])
    const target = optionalString(body, 'commit')
    if (target === undefined || target === '') throw new BadRequestError('the body needs "commit": the commit to revert', 'body')
    if (body.mainline !== undefined && !Number.isInteger(body.mainline)) throw new BadArgumentError('"mainline" must be a parent number (1, 2, …)', 'mainline')
    const message = optionalString(body, 'message')
    const author = optionalString(body, 'author')
    await headOf(branch)
    const c = await repo.branch(branch).revert(target, {
      ...(message !== undefined ? { message } : {}), ...(author !== undefined ? { author } : {}),
      ...(body.mainline !== undefined ? { mainline: body.mainline as number } : {}),
    })
    return jsonResponse({ commit: commitJson(c) }, 200, etag(c.id))
  }

  return app
}
