// Reading API requests safely: the raw request path (as the client sent it, before any URL normalisation),
// its segments decoded one by one and checked by the store's path rules, and JSON bodies read under a byte
// limit that is enforced while reading (Content-Length is only a hint).
import { BadPathError } from '../../store/errors.js'
import { BodyTooLargeError } from '../transports/http.js'
import { BadJsonError, BadRequestError, UnsupportedMediaTypeError } from './errors.js'

/**
 * The request path exactly as received: from the Node request line when the server is @hono/node-server
 * (its `env.incoming.url`), else from the URL. The query is cut off.
 */
export function rawPathOf(request: Request, env: unknown): string {
  const incoming = (env as { incoming?: { url?: unknown } } | undefined)?.incoming
  let raw = typeof incoming?.url === 'string' && incoming.url.startsWith('/') ? incoming.url : undefined
  if (raw === undefined) {
    try { raw = new URL(request.url).pathname } catch { raw = '/' }
  }
  const q = raw.search(/[?#]/)
  return q < 0 ? raw : raw.slice(0, q)
}

/** Decode one percent-encoded URL segment; malformed escapes are a bad path. */
export function decodeSegment(segment: string, whole: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new BadPathError(`malformed percent-encoding in the request path ${JSON.stringify(whole.slice(0, 200))}`, whole)
  }
}

/** True when a raw path has a `.` or `..` segment, written plainly or percent-encoded. */
export function hasDotSegment(rawPath: string): boolean {
  for (const s of rawPath.split('/')) {
    const d = s.replace(/%2e/gi, '.')
    if (d === '.' || d === '..') return true
  }
  return false
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(header: string | null): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * Read a JSON body of at most `limit` bytes. Resolves to `undefined` for an empty body (when `optional`).
 * Throws LARIX_UNSUPPORTED_MEDIA_TYPE, LARIX_TOO_LARGE, LARIX_BAD_JSON.
 */
export async function readJsonBody(request: Request, limit: number, optional = false): Promise<unknown> {
  const declared = Number(request.headers.get('Content-Length') ?? NaN)
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit)
  const type = request.headers.get('Content-Type')
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type ?? '')?.[1]?.toLowerCase()
  const isJson = mediaType(type) === 'application/json' && (charset === undefined || charset === 'utf-8' || charset === 'utf8')
  // A body of the wrong type is refused before it is read (unless the request may have none and has none).
  if (type !== null && !isJson && !(optional && declared === 0)) throw new UnsupportedMediaTypeError(type)
  const bytes = await readLimited(request, limit)
  if (bytes.length === 0) {
    if (optional) return undefined
    throw new BadRequestError('this request needs a JSON body (Content-Type: application/json)', 'body')
  }
  if (!isJson) throw new UnsupportedMediaTypeError(type ?? '')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new BadJsonError('it is not UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new BadJsonError((e as Error).message.slice(0, 200))
  }
}

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const body = request.body as ReadableStream<Uint8Array> | null
  if (!body) return new Uint8Array(0)
  const reader = body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  let finished = false
  try {
    for (;;) {
      const r = await reader.read()
      if (r.done) { finished = true; break }
      total += r.value.length
      if (total > limit) throw new BodyTooLargeError(limit)
      parts.push(r.value)
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** A plain JSON object (not an array, not null), or LARIX_BAD_REQUEST naming what was expected. */
export function expectObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(`the body must be a JSON object ${what}`, 'body')
  return body as Record<string, unknown>
}

/** Refuse keys other than `allowed`, so that a typo is not silently ignored. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new BadRequestError(`unknown field ${JSON.stringify(k.slice(0, 50))} in the body (allowed: ${allowed.join(', ')})`, 'body')
  }
}

/** An optional string field. */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new BadRequestError(`"${key}" must be a string`, 'body')
  return v
}
