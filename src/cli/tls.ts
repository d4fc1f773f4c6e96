// The TLS files of the command line (--tls-cert, --tls-key, --tls-ca), read for `larix serve` (its
// certificate, and the CA of the clients it accepts) and for clone, pull and push (our client certificate,
// and the CA that signed the server's). Missing or unreadable files are errors that say which flag.
import { readFileSync } from 'node:fs'
import { LarixError } from '../store/index.js'
import type { CliOptions } from './args.js'

function readPem(file: string, flag: string, what: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new LarixError('LARIX_BAD_ARGUMENT', `cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give the path of a PEM file holding ${what})`, { argument: flag })
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    throw new LarixError('LARIX_BAD_ARGUMENT', `${flag} ${file} is not a PEM file (expected ${what}, "-----BEGIN …-----")`, { argument: flag })
  }
  return text
}

/** The TLS files named on the command line, read; undefined when none is named. */
export function tlsFiles(o: Pick<CliOptions, 'tlsCert' | 'tlsKey' | 'tlsCa'>, role: 'server' | 'client'): { cert?: string; key?: string; ca?: string } | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined && o.tlsCa === undefined) return undefined
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    throw new LarixError('LARIX_BAD_ARGUMENT', `--tls-cert and --tls-key go together: ${role === 'server' ? 'the server\'s' : 'our client'} certificate and its private key`, { argument: o.tlsCert === undefined ? '--tls-cert' : '--tls-key' })
  }
  if (role === 'server' && o.tlsCert === undefined) {
    throw new LarixError('LARIX_BAD_ARGUMENT', '--tls-ca needs --tls-cert and --tls-key: the server\'s own certificate and key', { argument: '--tls-cert' })
  }
  const out: { cert?: string; key?: string; ca?: string } = {}
  if (o.tlsCert !== undefined) out.cert = readPem(o.tlsCert, '--tls-cert', 'a certificate')
  if (o.tlsKey !== undefined) out.key = readPem(o.tlsKey, '--tls-key', 'a private key')
  if (o.tlsCa !== undefined) out.ca = readPem(o.tlsCa, '--tls-ca', 'a CA certificate')
  return out
}
