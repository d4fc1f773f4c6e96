// Remote URLs and the transport each one picks:
//  - `http://`, `https://`  smart HTTP (`http://host/repo.git`);
//  - `git://host[:port]/path`  git-daemon framing over TCP (default port 9418);
//  - `larix+tls://host[:port]/path`  git-daemon framing over TLS, with client certificates for mutual
//    authentication (default port 9419);
//  - `ws://host[:port]/…`, `wss://…`  git-daemon framing over a WebSocket, one binary message per chunk.
// The WebSocket rule: a ws(s):// URL names a larix server (its root, or a prefix a proxy puts it under); the
// Git endpoint is that path with `/git` appended (`ws://h:8080/` → `ws://h:8080/git`) and the watch
// channel that path with `/api/v1/watch` appended. A path that already ends in `/git` is the Git endpoint
// itself (`ws://h:8080/git` means the same as `ws://h:8080/`).
// Credentials in an HTTP or WebSocket URL become a Basic Authorization header (fetch() refuses URLs that
// carry them; the server takes the password as the token) and never appear in messages.
import { BadArgumentError } from '../../store/errors.js'

/** Where a remote is and how to reach it. */
export type RemoteLocation =
  | { kind: 'http'; /** Base URL without credentials or trailing slash. */ base: string; display: string; headers: Record<string, string> }
  | { kind: 'git'; host: string; port: number; path: string; display: string }
  | { kind: 'tls'; host: string; port: number; path: string; display: string }
  | {
    kind: 'ws'
    /** The Git endpoint to open, without credentials: `ws://host:port/git`. */
    url: string
    /** The watch channel's endpoint: `ws://host:port/api/v1/watch`. */
    watchUrl: string
    secure: boolean
    host: string
    port: number
    display: string
    headers: Record<string, string>
  }

/** The URL schemes a remote may have. */
export const REMOTE_SCHEMES = ['http://', 'https://', 'git://', 'larix+tls://', 'ws://', 'wss://'] as const

/** git daemon's port. */
export const GIT_DAEMON_PORT = 9418
/** The default port of `larix+tls://` (git-daemon framing over TLS). */
export const LARIX_TLS_PORT = 9419
/** The server's WebSocket path for the Git protocol. */
export const WEBSOCKET_GIT_PATH = '/git'
/** The server's WebSocket path for the watch channel. */
export const WEBSOCKET_WATCH_PATH = '/api/v1/watch'

const SUPPORTED = REMOTE_SCHEMES.join(', ')

/**
 * Parse a remote URL. Throws LARIX_BAD_ARGUMENT for a scheme not in {@link REMOTE_SCHEMES}.
 * @example parseRemoteUrl('https://ann:secret@example.org/data.git') // { kind: 'http', base: 'https://example.org/data.git', … }
 * @example parseRemoteUrl('ws://127.0.0.1:8080/') // { kind: 'ws', url: 'ws://127.0.0.1:8080/git', … }
 */
export function parseRemoteUrl(url: string): RemoteLocation {
  if (typeof url !== 'string' || url === '') throw new BadArgumentError(`a remote URL is needed (${SUPPORTED})`, 'url')
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new BadArgumentError(`not a remote URL: ${JSON.stringify(url)} (expected ${SUPPORTED})`, 'url')
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    const headers = takeCredentials(u)
    u.hash = ''
    const base = u.toString().replace(/\/+$/, '')
    return { kind: 'http', base, display: base, headers }
  }
  if (u.protocol === 'git:' || u.protocol === 'larix+tls:') {
    const tls = u.protocol === 'larix+tls:'
    const scheme = tls ? 'larix+tls' : 'git'
    if (u.hostname === '') throw new BadArgumentError(`${scheme}:// URL without a host: ${JSON.stringify(url)}`, 'url')
    if (u.username !== '' || u.password !== '') throw new BadArgumentError(`a ${scheme}:// URL cannot carry credentials${tls ? ' (use a client certificate: options.tls, or --tls-cert/--tls-key)' : ''}`, 'url')
    // `/` is a fine path: `larix serve` serves one store there.
    const path = u.pathname === '' ? '/' : decodeURIComponent(u.pathname)
    const port = u.port === '' ? (tls ? LARIX_TLS_PORT : GIT_DAEMON_PORT) : Number(u.port)
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
    return { kind: tls ? 'tls' : 'git', host, port, path, display: `${scheme}://${u.host}${path}` }
  }
  if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    if (u.hostname === '') throw new BadArgumentError(`WebSocket URL without a host: ${JSON.stringify(url)}`, 'url')
    const headers = takeCredentials(u)
    u.hash = ''
    const secure = u.protocol === 'wss:'
    let prefix = u.pathname.replace(/\/+$/, '')
    if (prefix.endsWith(WEBSOCKET_GIT_PATH)) prefix = prefix.slice(0, -WEBSOCKET_GIT_PATH.length)
    const origin = `${u.protocol}//${u.host}`
    const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
    const query = u.search
    return {
      kind: 'ws', secure, host, port, headers,
      url: `${origin}${prefix}${WEBSOCKET_GIT_PATH}${query}`,
      watchUrl: `${origin}${prefix}${WEBSOCKET_WATCH_PATH}${query}`,
      display: `${origin}${prefix}/`,
    }
  }
  throw new BadArgumentError(`unsupported remote URL scheme ${u.protocol} (supported: ${SUPPORTED})`, 'url')
}

/**
 * The watch channel of the server at `url` (ws://, wss://, or the http(s):// URL of the same server), with
 * the headers its credentials make.
 * @example watchEndpoint('http://127.0.0.1:8080/') // { url: 'ws://127.0.0.1:8080/api/v1/watch', headers: {} }
 */
export function watchEndpoint(url: string): { url: string; display: string; headers: Record<string, string> } {
  let text = url
  if (typeof url === 'string') text = url.replace(/^http(s?):/i, 'ws$1:')
  const loc = parseRemoteUrl(text)
  if (loc.kind !== 'ws') throw new BadArgumentError(`the watch channel needs an http://, https://, ws:// or wss:// URL, not ${loc.display}`, 'url')
  return { url: loc.watchUrl, display: loc.display, headers: loc.headers }
}

/** A URL as it may be shown: without its credentials. */
export function displayUrl(url: string): string {
  try {
    return parseRemoteUrl(url).display
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//')
  }
}

/** Move the user and password of `u` into an Authorization header. */
function takeCredentials(u: URL): Record<string, string> {
  const headers: Record<string, string> = {}
  if (u.username !== '' || u.password !== '') {
    headers.Authorization = 'Basic ' + base64(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`)
    u.username = ''
    u.password = ''
  }
  return headers
}

function base64(text: string): string {
  let binary = ''
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b)
  return btoa(binary)
}
