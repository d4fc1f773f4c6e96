// Remote URLs: smart HTTP(S) (`http://host/repo.git`) and the git:// daemon (`git://host[:port]/repo.git`).
// Credentials in an HTTP URL become a Basic Authorization header (fetch() refuses URLs that carry them) and
// never appear in messages.
import { BadArgumentError } from '../../store/errors.js'

/** Where a remote is and how to reach it. */
export type RemoteLocation =
  | { kind: 'http'; /** Base URL without credentials or trailing slash. */ base: string; display: string; headers: Record<string, string> }
  | { kind: 'git'; host: string; port: number; path: string; display: string }

/** git daemon's port. */
export const GIT_DAEMON_PORT = 9418

/**
 * Parse a remote URL. Throws LARIX_BAD_ARGUMENT for anything but http:, https: and git: URLs.
 * @example parseRemoteUrl('https://ann:secret@example.org/data.git') // { kind: 'http', base: 'https://example.org/data.git', … }
 */
export function parseRemoteUrl(url: string): RemoteLocation {
  if (typeof url !== 'string' || url === '') throw new BadArgumentError('a remote URL is needed (http://, https:// or git://)', 'url')
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new BadArgumentError(`not a remote URL: ${JSON.stringify(url)} (expected http://, https:// or git://)`, 'url')
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    const headers: Record<string, string> = {}
    if (u.username !== '' || u.password !== '') {
      headers.Authorization = 'Basic ' + base64(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`)
      u.username = ''
      u.password = ''
    }
    u.hash = ''
    const base = u.toString().replace(/\/+$/, '')
    return { kind: 'http', base, display: base, headers }
  }
  if (u.protocol === 'git:') {
    if (u.hostname === '') throw new BadArgumentError(`git:// URL without a host: ${JSON.stringify(url)}`, 'url')
    // `/` is a fine path: `larix serve` serves one store there.
    const path = u.pathname === '' ? '/' : decodeURIComponent(u.pathname)
    const port = u.port === '' ? GIT_DAEMON_PORT : Number(u.port)
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
    return { kind: 'git', host, port, path, display: `git://${u.host}${path}` }
  }
  throw new BadArgumentError(`unsupported remote URL scheme ${u.protocol} (use http://, https:// or git://)`, 'url')
}

/** A URL as it may be shown: without its credentials. */
export function displayUrl(url: string): string {
  try {
    return parseRemoteUrl(url).display
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//')
  }
}

function base64(text: string): string {
  let binary = ''
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b)
  return btoa(binary)
}
