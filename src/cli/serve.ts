// `larix serve`: the store over HTTP (Git smart HTTP, the JSON API under /api/v1, /healthz, and the WebSocket
// endpoints /git and /api/v1/watch; --http PORT), git:// (--git PORT) and git over TLS (--git-tls PORT), on
// 127.0.0.1 unless --host says otherwise, until SIGINT or SIGTERM, which close it gracefully (requests in
// flight finish, then the store is closed). With no port given, HTTP on DEFAULT_HTTP_PORT. With
// --tls-cert/--tls-key the HTTP listener is HTTPS (wss://); with --tls-ca both TLS listeners accept only
// clients whose certificate that CA signed. --token T (repeatable) and LARIX_TOKEN require bearer tokens; a
// token is never printed. --cors ORIGIN (repeatable, or *) lets web pages of that origin call it over
// http(s). One JSON line per HTTP request goes to stderr. It prints where it listens as soon as it does (a
// caller may pass port 0 and read it).
import { startServer } from '../platform/node/serve.js'
import { LarixError } from '../store/index.js'
import { parseTokenArgument } from '../sync/auth.js'
import type { TokenGrant } from '../sync/auth.js'
import type { Command, Context, Output } from './commands.js'
import { waitForSignal } from './signals.js'
import { shellQuote } from './format.js'
import { tlsFiles } from './tls.js'
import { startReplication } from '../sync/replicate.js'

/** The HTTP port of `larix serve` when no listener is named. */
export const DEFAULT_HTTP_PORT = 8080


/** The tokens of --token and LARIX_TOKEN (each `read=T`, `read-write=T` or T). */
function tokens(ctx: Context): TokenGrant[] {
  const args = [...ctx.options.token]
  const env = process.env.LARIX_TOKEN
  if (env !== undefined && env !== '') args.push(env)
  return args.map((a, i) => {
    try {
      return parseTokenArgument(a)
    } catch (e) {
      const from = i < ctx.options.token.length ? `--token number ${i + 1}` : 'LARIX_TOKEN'
      throw new LarixError('LARIX_BAD_ARGUMENT', `${from}: ${(e as Error).message} (write read=TOKEN, read-write=TOKEN or TOKEN)`, { argument: 'token' })
    }
  })
}

async function run(ctx: Context): Promise<Output> {
  const { options } = ctx
  // Listen for SIGINT/SIGTERM from the start: one that comes while we start up still stops us gracefully.
  const stopSignal = waitForSignal()
  const grants = tokens(ctx)
  const http = options.http ?? (options.git === undefined && options.gitTls === undefined ? DEFAULT_HTTP_PORT : undefined)
  const host = options.host ?? '127.0.0.1'
  const tls = tlsFiles(options, 'server') as { cert: string; key: string; ca?: string } | undefined
  if (options.gitTls !== undefined && tls === undefined) {
    throw new LarixError('LARIX_BAD_ARGUMENT', '--git-tls needs the server\'s certificate and key: --tls-cert FILE --tls-key FILE (and --tls-ca FILE to accept only clients with a certificate that CA signed)', { argument: '--git-tls' })
  }
  let running
  try {
    running = await startServer(ctx.repo, {
      ...(http !== undefined ? { http } : {}),
      ...(options.git !== undefined ? { git: options.git } : {}),
      ...(options.gitTls !== undefined ? { gitTls: options.gitTls } : {}),
      ...(tls !== undefined ? { tls, https: http !== undefined } : {}),
      host,
      ...(grants.length > 0 ? { auth: { tokens: grants } } : {}),
      ...(options.cors.length > 0 ? { cors: options.cors } : {}),
      ...(options.noClonePack ? { clonePack: false } : {}),
      onLog: entry => process.stderr.write(JSON.stringify(entry) + '\n'),
      onError: e => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), error: { code: (e as LarixError)?.code ?? 'LARIX_INTERNAL', message: `a request failed: ${(e as Error)?.message ?? e}` } }) + '\n'),
    })
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err?.code === 'EADDRINUSE' || err?.code === 'EACCES' || err?.code === 'EADDRNOTAVAIL') {
      const hint = err.code === 'EADDRINUSE' ? ' (another program has that port: pick another with --http PORT / --git PORT / --git-tls PORT, or 0 for any free port)'
        : err.code === 'EACCES' ? ' (ports below 1024 need privileges: pick a port above 1023)' : ' (is --host an address of this machine?)'
      throw new LarixError('LARIX_LISTEN', `cannot listen on ${host}: ${err.message}${hint}`, { host })
    }
    throw e
  }
  // --peer URL...: replicate every branch (or each --branch) with those peers while serving. The server's
  // certificate and CA double as the client's for larix+tls:// and https:// peers (one CA, mutual TLS).
  const replication = options.peer.length > 0
    ? startReplication(ctx.repo, options.peer, {
      branches: options.branches.length > 0 ? options.branches : 'all',
      ...(tls !== undefined ? { tls } : {}),
      onStatus: s => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), replication: s }) + '\n'),
    })
    : undefined
  const urls = { http: running.http?.url, git: running.git?.url, gitTls: running.gitTls?.url, websocket: running.websocket?.url }
  const auth = grants.length > 0 ? 'token' : 'none'
  const peers = replication?.status().map(st => st.peer)
  if (options.json) process.stdout.write(JSON.stringify({ store: ctx.store, ...urls, auth, ...(peers ? { peers } : {}) }) + '\n')
  else {
    const lines = [`larix serve: serving ${ctx.store}`]
    if (urls.http) lines.push(`  smart HTTP  ${urls.http}    git clone ${urls.http} ${shellQuote('my-copy')}`)
    if (urls.git) lines.push(`  git://      ${urls.git}    git clone ${urls.git} ${shellQuote('my-copy')}`)
    if (urls.http) lines.push(`  JSON API    ${urls.http}api/v1/branches    health ${urls.http}healthz`)
    if (grants.length > 0) lines.push(`  ${grants.length} token${grants.length > 1 ? 's' : ''} required (git clone http://x:TOKEN@…; Authorization: Bearer TOKEN)`)
    if (urls.websocket) lines.push(`  WebSocket   ${urls.websocket}    larix clone ${urls.websocket} ${shellQuote('my-copy')}`)
    if (peers) lines.push(`  replicating with ${peers.join(', ')}`)
    if (urls.gitTls) lines.push(`  git+TLS     ${urls.gitTls}    larix clone ${urls.gitTls} ${shellQuote('my-copy')}${tls?.ca ? ' --tls-cert F --tls-key F' : ''} --tls-ca F`)
    lines.push('Ctrl-C stops it.')
    process.stdout.write(lines.join('\n') + '\n')
  }
  const signal = await stopSignal
  // Syncs in flight finish first (they may be pushing to a peer), then the listeners drain.
  await replication?.stop()
  await running.close()
  return { data: { stopped: signal, ...urls }, lines: [`larix serve: stopped (${signal})`] }
}

export const serve: Command = {
  synopsis: '', min: 0, max: 0, options: ['http', 'git', 'gitTls', 'host', 'tlsCert', 'tlsKey', 'tlsCa', 'token', 'peer', 'cors', 'noClonePack'], creates: true,
  run,
}
