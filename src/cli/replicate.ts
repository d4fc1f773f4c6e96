// `larix replicate URL… [--branch B]…`: keep the store's branches (all of them, or each --branch) in sync
// with the peers until SIGINT or SIGTERM, then stop gracefully (the syncs in flight finish) and exit 0.
// It prints a line per status change worth reading (synced, backing off, conflict); with --json, every
// status as one JSON line, and a last line `{ stopped, peers }`.
import { startReplication } from '../sync/index.js'
import type { PeerStatus, Replicator } from '../sync/index.js'
import type { Command, Context, Output } from './commands.js'
import { waitForSignal } from './signals.js'
import { tlsFiles } from './tls.js'
import { conflictLines } from './format.js'


function time(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23)
}

function lagText(s: PeerStatus): string {
  const parts = Object.entries(s.lag).map(([b, l]) => `${b}: ahead ${l.ahead}, behind ${l.behind}`)
  return parts.length ? parts.join('; ') : 'no branches yet'
}

/** The lines a person reads for a status, or none for one not worth a line. */
export function statusLines(s: PeerStatus, now = Date.now()): string[] {
  const at = time(now)
  switch (s.state) {
    case 'idle': {
      const e = s.lastError
      if (!s.healthy && e?.code === 'LARIX_CONFLICT') {
        return [`${at} ${s.peer}: ${e.message}`, ...conflictLines(e.conflicts ?? [])]
      }
      if (!s.healthy && e) return [`${at} ${s.peer}: sync failed: ${e.message} (${e.code})`]
      if (s.syncs === 0) return [`${at} ${s.peer}: not synced yet (as last seen: ${lagText(s)})`]
      return [`${at} ${s.peer}: synced (${lagText(s)})`]
    }
    case 'backoff': {
      const e = s.lastError
      const wait = s.retryAt === undefined ? '' : `; retrying in ${Math.max(0, (s.retryAt - now) / 1000).toFixed(1)} s`
      return [`${at} ${s.peer}: ${e ? `${e.message} (${e.code})` : 'failed'}${wait} (attempt ${s.attempts})`]
    }
    default:
      return []
  }
}

async function run(ctx: Context): Promise<Output> {
  const { options } = ctx
  const branches = options.branches.length > 0 ? options.branches : 'all' as const
  const print = (text: string) => { process.stdout.write(text + '\n') }
  const last = new Map<string, string>()
  // --tls-ca (the peers' CA) and --tls-cert/--tls-key (our client certificate) for larix+tls://, https://, wss://.
  const tls = tlsFiles(options, 'client')
  const rep: Replicator = startReplication(ctx.repo, ctx.args, {
    branches,
    ...(tls !== undefined ? { tls } : {}),
    onStatus: s => {
      if (options.json) { print(JSON.stringify(s)); return }
      const lines = statusLines(s)
      // One line per change of what a person sees, not per sync.
      const key = JSON.stringify([s.state, s.lag, s.lastError?.at, s.healthy])
      if (lines.length === 0 || last.get(s.id) === key) return
      last.set(s.id, key)
      print(lines.join('\n'))
    },
  })
  if (options.json) print(JSON.stringify({ store: ctx.store, peers: rep.status().map(s => ({ peer: s.peer, id: s.id })), branches }))
  else {
    print(`larix replicate: keeping ${branches === 'all' ? 'every branch' : branches.join(', ')} of ${ctx.store} in sync with ${rep.status().map(s => s.peer).join(', ')}`)
    print('Ctrl-C stops it.')
  }
  const stopped = await waitForSignal()
  await rep.stop()
  return { data: { stopped, peers: rep.status() }, lines: [`larix replicate: stopped (${stopped})`] }
}

export const replicate: Command = {
  synopsis: 'URL...', min: 1, max: Number.POSITIVE_INFINITY, options: ['tlsCert', 'tlsKey', 'tlsCa'], creates: true,
  run,
}
