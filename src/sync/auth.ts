// Bearer tokens for a replica: each token has a scope, `read` (clone, fetch, get, list, log, watch) or
// `read-write` (also push, put, delete, merge, revert). With no token configured the server is open (it binds
// loopback unless told otherwise); with any token configured every write needs a read-write token, and reads
// need a token too unless `anonymousRead` is set.
// Tokens are compared in constant time: both sides are hashed to 20 bytes first, so neither the length nor
// the first differing byte of a guess shows in the time taken.
import { sha1Hex } from '#platform/sha1'
import { BadArgumentError, LarixError } from '../store/errors.js'

export type TokenScope = 'read' | 'read-write'

export interface TokenGrant {
  token: string
  scope: TokenScope
}

export interface AuthOptions {
  /** The tokens this server accepts. None: no authentication. */
  tokens?: readonly TokenGrant[]
  /** With tokens configured, still allow reads without one (default false). */
  anonymousRead?: boolean
}

/** What a request needs. */
export type Access = 'read' | 'write'

/** A request without a valid token (HTTP 401) or whose token lacks the scope (HTTP 403). */
export class AuthError extends LarixError<{ need: Access; reason: 'missing' | 'invalid' | 'scope' }> {
  readonly status: 401 | 403
  constructor(need: Access, reason: 'missing' | 'invalid' | 'scope') {
    const message = reason === 'missing' ? `this replica needs a token to ${need} (send "Authorization: Bearer TOKEN")`
      : reason === 'invalid' ? 'the token is not valid for this replica'
        : 'the token is read-only; writing needs a read-write token'
    super(reason === 'scope' ? 'LARIX_FORBIDDEN' : 'LARIX_UNAUTHORIZED', message, { need, reason })
    this.status = reason === 'scope' ? 403 : 401
  }
}

const encoder = new TextEncoder()

function digest(token: string): Uint8Array {
  const hex = sha1Hex(encoder.encode('larix-token\0'), encoder.encode(token))
  const out = new Uint8Array(20)
  for (let i = 0; i < 20; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** True when `a` and `b` are the same bytes, in time that depends only on their (fixed) length. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/**
 * The token a request carries: `Authorization: Bearer T`, or HTTP Basic with the token as password (what the
 * `git` CLI sends for `http://user:TOKEN@host/`), or undefined.
 */
export function tokenFromHeader(header: string | null | undefined): string | undefined {
  if (!header) return undefined
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(header)
  if (!m) return undefined
  const kind = m[1]!.toLowerCase()
  if (kind === 'bearer') return m[2]
  if (kind === 'basic') {
    let decoded: string
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(m[2]!), c => c.charCodeAt(0)))
    } catch {
      return undefined
    }
    const colon = decoded.indexOf(':')
    return colon < 0 ? undefined : decoded.slice(colon + 1)
  }
  return undefined
}

/** Checks requests against a fixed set of tokens. */
export class Authorizer {
  readonly #grants: { digest: Uint8Array; scope: TokenScope }[]
  readonly #anonymousRead: boolean

  constructor(options: AuthOptions = {}) {
    this.#grants = []
    for (const g of options.tokens ?? []) {
      if (typeof g.token !== 'string' || g.token.length < 8) throw new BadArgumentError('a token must be a string of at least 8 characters', 'token')
      if (g.scope !== 'read' && g.scope !== 'read-write') throw new BadArgumentError(`a token scope is "read" or "read-write", not ${JSON.stringify(g.scope)}`, 'token')
      this.#grants.push({ digest: digest(g.token), scope: g.scope })
    }
    this.#anonymousRead = options.anonymousRead ?? false
  }

  /** True when any token is configured. */
  get enabled(): boolean {
    return this.#grants.length > 0
  }

  /** The scope `token` grants, or undefined when it is not one of ours. Looks at every grant, always. */
  scopeOf(token: string): TokenScope | undefined {
    const d = digest(token)
    let found: TokenScope | undefined
    for (const g of this.#grants) if (sameDigest(d, g.digest) && found !== 'read-write') found = g.scope
    return found
  }

  /** Throws AuthError unless a request carrying `authorization` (the header's value) may do `need`. */
  check(authorization: string | null | undefined, need: Access): void {
    if (!this.enabled) return
    const token = tokenFromHeader(authorization)
    if (token === undefined) {
      if (need === 'read' && this.#anonymousRead) return
      throw new AuthError(need, 'missing')
    }
    const scope = this.scopeOf(token)
    if (scope === undefined) throw new AuthError(need, 'invalid')
    if (need === 'write' && scope !== 'read-write') throw new AuthError(need, 'scope')
  }
}

/**
 * Parse a `--token` argument: `SECRET` (read-write), `read=SECRET` or `read-write=SECRET`.
 * @example parseTokenArgument('read=s3cret-token') // { token: 's3cret-token', scope: 'read' }
 */
export function parseTokenArgument(arg: string): TokenGrant {
  const m = /^(read|read-write)=(.*)$/s.exec(arg)
  const grant: TokenGrant = m ? { token: m[2]!, scope: m[1] as TokenScope } : { token: arg, scope: 'read-write' }
  new Authorizer({ tokens: [grant] })
  return grant
}
