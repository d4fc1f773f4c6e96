// Progress for people: one line on standard error rewritten with \r while a clone, pull or push runs, and
// the server's own messages prefixed with `remote: `, as git prints them. Nothing at all when standard
// error is not a terminal (LARIX_PROGRESS=1 forces it on, =0 off).
import type { ProgressListener, SyncProgress } from '../sync/index.js'

const LABELS: Partial<Record<SyncProgress['phase'], string>> = {
  receiving: 'Receiving objects', writing: 'Storing objects', counting: 'Counting objects', sending: 'Sending objects',
}

/** A progress listener drawing on `write` (default: standard error), or undefined when progress is off. */
export function terminalProgress(write: (text: string) => void = t => { process.stderr.write(t) }): ProgressListener | undefined {
  const flag = process.env.LARIX_PROGRESS
  const on = flag === '1' ? true : flag === '0' ? false : Boolean(process.stderr.isTTY)
  if (!on) return undefined
  let open = 0 // length of the \r line on screen, 0 when the cursor is at the start of a fresh line
  let openKind = '' // what that line shows: 'remote' or a label; another kind starts a line of its own
  let lastDraw = 0
  let lastLabel = ''
  let remote = ''
  const line = (text: string, final: boolean, kind: string) => {
    if (open > 0 && openKind !== kind) { write('\n'); open = 0 }
    write('\r' + text.padEnd(open) + (final ? '\n' : ''))
    open = final ? 0 : text.length
    openKind = kind
  }
  const endLine = () => {
    if (open > 0) { write('\n'); open = 0 }
  }
  return p => {
    if (p.phase === 'remote') {
      // Server text arrives in pieces; show each complete \r or \n segment as git does.
      remote += p.message ?? ''
      let m: RegExpExecArray | null
      while ((m = /[\r\n]/.exec(remote)) !== null) {
        const segment = remote.slice(0, m.index)
        remote = remote.slice(m.index + 1)
        if (segment.trim() === '') continue
        line('remote: ' + segment, m[0] === '\n', 'remote')
      }
      return
    }
    if (p.phase === 'done') { endLine(); return }
    const label = LABELS[p.phase]
    if (label === undefined) return
    const finished = p.total !== undefined && p.objects !== undefined && p.objects >= p.total && p.phase !== 'sending'
    const now = Date.now()
    if (!finished && label === lastLabel && now - lastDraw < 100) return
    lastLabel = label
    lastDraw = now
    const pct = p.total ? ` ${String(Math.floor((100 * (p.objects ?? 0)) / p.total)).padStart(3)}% (${p.objects}/${p.total})` : ` ${p.objects ?? 0}`
    const size = p.bytes ? `, ${formatBytes(p.bytes)}` : ''
    line(`${label}:${pct}${size}${finished ? ', done.' : ''}`, finished, label)
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(2)} MiB`
}
