// Browser flavour of the byte-stream adapter: pages cannot open TCP connections. git:// remotes need a
// `connect` option that opens some other ByteStream (a WebSocket bridge, say); smart HTTP needs nothing.
import { BadArgumentError } from '../../store/errors.js'
import type { ByteStream } from '../../sync/client/transport.js'

export async function connectTcp(host: string, port: number): Promise<ByteStream> {
  throw new BadArgumentError(`cannot open a TCP connection to ${host}:${port} here: pass options.connect for git:// remotes, or use an http(s):// URL`, 'connect')
}
