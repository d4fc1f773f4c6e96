// How the JSON API answers failures: every error is `{ error: { code, message } }` with a status that fits its
// code. Only an error that is not a LarixError (a bug) becomes a 500, and its details stay in the server's log.
import { LarixError } from '../../store/errors.js'

/** A request the API cannot take as sent: a malformed body, a bad query parameter (HTTP 400). */
export class BadRequestError extends LarixError<{ reason: string }> {
  constructor(message: string, reason = 'request') {
    super('LARIX_BAD_REQUEST', message, { reason })
  }
}

/** A body that is not JSON (HTTP 400). */
export class BadJsonError extends LarixError<{ detail: string }> {
  constructor(detail: string) {
    super('LARIX_BAD_JSON', `the request body is not valid JSON: ${detail}`, { detail })
  }
}

/** A body sent with a Content-Type other than application/json (HTTP 415). */
export class UnsupportedMediaTypeError extends LarixError<{ contentType: string }> {
  constructor(contentType: string) {
    super('LARIX_UNSUPPORTED_MEDIA_TYPE', `send the body as JSON with "Content-Type: application/json" (got ${contentType ? JSON.stringify(contentType.slice(0, 80)) : 'none'})`, { contentType })
  }
}

/** A method a route does not take (HTTP 405). */
export class MethodNotAllowedError extends LarixError<{ method: string; allow: string[] }> {
  constructor(method: string, allow: string[]) {
    super('LARIX_METHOD_NOT_ALLOWED', `${method.slice(0, 20)} is not allowed here; use ${allow.join(' or ')}`, { method, allow })
  }
}

/** No such route (HTTP 404). */
export class NoRouteError extends LarixError<{ path: string }> {
  constructor(path: string) {
    super('LARIX_NOT_FOUND', `no such API route: ${JSON.stringify(path.slice(0, 200))} (see GET /api/v1/branches)`, { path })
  }
}

/** The server is shutting down and takes no new requests (HTTP 503). */
export class ShuttingDownError extends LarixError<Record<string, never>> {
  constructor() {
    super('LARIX_SHUTTING_DOWN', 'this server is shutting down; retry against another replica or once it is back')
  }
}

const STATUS: Record<string, number> = {
  LARIX_BAD_PATH: 400,
  LARIX_BAD_REF: 400,
  LARIX_BAD_ID: 400,
  LARIX_BAD_ARGUMENT: 400,
  LARIX_BAD_VALUE: 400,
  LARIX_BAD_REQUEST: 400,
  LARIX_BAD_JSON: 400,
  LARIX_AMBIGUOUS: 400,
  LARIX_UNAUTHORIZED: 401,
  LARIX_FORBIDDEN: 403,
  LARIX_NOT_FOUND: 404,
  LARIX_METHOD_NOT_ALLOWED: 405,
  LARIX_CONFLICT: 409,
  LARIX_EXISTS: 409,
  LARIX_TOO_LARGE: 413,
  LARIX_UNSUPPORTED_MEDIA_TYPE: 415,
  LARIX_BACKEND: 503,
  LARIX_SHUTTING_DOWN: 503,
}

/** The HTTP status for a LarixError code (500 for codes that mean the store itself is damaged). */
export function statusOf(code: string): number {
  return STATUS[code] ?? 500
}

/** Values as JSON: Uint8Array as `{ "$bytes": base64 }`, bigint as a decimal string. */
function replacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) {
    let s = ''
    for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]!)
    return { $bytes: btoa(s) }
  }
  if (typeof v === 'bigint') return v.toString()
  return v
}

/** Header naming the error code of a response, read by the request log. */
export const ERROR_CODE_HEADER = 'X-Larix-Error'

/** A JSON response. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, replacer), {
    status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  })
}

/** The response for a failure. `onBug` hears about errors that are not LarixErrors. */
export function errorResponse(e: unknown, onBug?: (e: unknown) => void, extra: Record<string, unknown> = {}): Response {
  if (e instanceof LarixError) {
    const status = statusOf(e.code)
    const error: Record<string, unknown> = { code: e.code, message: e.message }
    const conflicts = (e.data as { conflicts?: unknown } | undefined)?.conflicts
    if (Array.isArray(conflicts)) error.conflicts = conflicts
    const headers: Record<string, string> = { [ERROR_CODE_HEADER]: e.code }
    if (e instanceof MethodNotAllowedError) headers.Allow = e.data.allow.join(', ')
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="larix"'
    if (status === 503) headers['Retry-After'] = '1'
    if (status >= 500) {
      onBug?.(e)
    }
    return jsonResponse({ ...extra, error }, status, headers)
  }
  onBug?.(e)
  return jsonResponse({ error: { code: 'LARIX_INTERNAL', message: 'internal error (this is a bug in larix; the server log has the details)' } }, 500, { [ERROR_CODE_HEADER]: 'LARIX_INTERNAL' })
}
