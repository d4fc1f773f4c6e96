// Where `larix pull` and `larix push` go without a URL: the remote a store was cloned from, remembered in
// `<store>/larix-remote.json` (`{ "origin": { "url": …, "head": "main" } }`). A store's backend holds only
// objects and refs, so this small file beside the data is the CLI's, not the library's: the API takes URLs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LarixError } from '../store/index.js'

export const REMOTE_FILE = 'larix-remote.json'

export interface RemoteConfig {
  url: string
  /** The remote's default branch when cloned. */
  head?: string
}

export function readRemotes(store: string): Record<string, RemoteConfig> {
  const file = join(store, REMOTE_FILE)
  if (!existsSync(file)) return {}
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown
    return typeof v === 'object' && v !== null ? (v as Record<string, RemoteConfig>) : {}
  } catch (e) {
    throw new LarixError('LARIX_BAD_CONFIG', `${file} is not valid JSON: ${(e as Error).message}`, { file })
  }
}

export function writeRemote(store: string, name: string, remote: RemoteConfig): void {
  const all = readRemotes(store)
  all[name] = remote
  writeFileSync(join(store, REMOTE_FILE), JSON.stringify(all, null, 2) + '\n')
}

/** The URL a pull or push goes to: the one given, else the remembered `origin`. */
export function remoteUrl(store: string, given: string | undefined, command: string): string {
  if (given !== undefined) return given
  const url = readRemotes(store).origin?.url
  if (typeof url !== 'string' || url === '') {
    throw new LarixError('LARIX_NOT_FOUND', `no remote to ${command}: give a URL (larix ${command} URL), or clone the store with larix clone URL DIR`, { what: 'remote', id: 'origin' })
  }
  return url
}
