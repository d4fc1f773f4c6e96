// What long operations report as they go. The CLI draws these on a terminal; a library user may show a bar.

/** One step of a fetch, clone, pull or push. */
export interface SyncProgress {
  /**
   * `remote`: a line of the server's own progress (`message`); `receiving`: pack objects read and resolved;
   * `writing`: verified objects copied to the store; `counting`: objects gathered for a push;
   * `sending`: pack bytes sent; `done`: the operation finished.
   */
  phase: 'remote' | 'negotiating' | 'receiving' | 'writing' | 'counting' | 'sending' | 'done'
  /** The server's text, for `remote` (may hold `\r` or several lines, as sent). */
  message?: string
  objects?: number
  total?: number
  bytes?: number
}

export type ProgressListener = (p: SyncProgress) => void
