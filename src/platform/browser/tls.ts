// Browser flavour of the TLS byte stream: pages cannot open raw TLS connections, so `larix+tls://` is not
// available there; wss:// (TLS under a WebSocket) and https:// are.
import { LarixError } from '../../store/errors.js'
import type { ByteStream, TlsOptions } from '../../sync/client/transport.js'

export async function connectTls(host: string, port: number, _options: { signal?: AbortSignal; tls?: TlsOptions; display?: string } = {}): Promise<ByteStream> {
  throw new LarixError('LARIX_NOT_AVAILABLE', `cannot open a TLS connection to ${host}:${port} in a browser: browsers cannot do raw TLS; use a wss:// or https:// URL of the same server`, { transport: 'tls' })
}

/** Browsers' fetch() uses the browser's own certificates: no TLS options to add. */
export function fetchWithTls(_tls: TlsOptions): typeof globalThis.fetch | undefined {
  return undefined
}
