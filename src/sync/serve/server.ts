// GitServer: the Git smart protocol over any byte stream. Transports (the hono app for smart HTTP, the Node
// git:// listener, a WebSocket or vchan later) hand it bytes in and send on what it yields; it never
// throws at them (failures become ERR lines, side-band errors or ng reports), except the framing errors a
// transport asks to see before anything was sent.
import type { Backend, ObjectStore } from '../../store/backend.js'
import { LRU } from '../../store/lru.js'
import { ObjectReader } from '../../store/tree.js'
import type { CacheOptions } from '../../store/tree.js'
import { PktLineReader, ProtocolError, readGitProtoRequest, protocolVersion } from '../wire/index.js'
import type { ByteSource } from '../wire/index.js'
import { ClonePacks } from './clone-pack.js'
import type { ClonePackOptions } from './clone-pack.js'
import type { ServeContext } from './context.js'
import { receivePackAdvertisement, receivePackSession } from './receive-pack.js'
import type { HeadOption } from './refs.js'
import { guarded } from './session.js'
import { uploadPackAdvertisement, uploadPackSession, uploadPackV2Advertisement } from './upload-pack.js'

/** The two services of the smart protocol. */
export type GitService = 'git-upload-pack' | 'git-receive-pack'

export interface GitServerOptions {
  /** Where HEAD points (a ref name, or a function read on every advertisement). Default: main, else master, else the first branch. */
  head?: HeadOption
  /** Accept pushes (default true). */
  receivePack?: boolean
  /** The `agent=` capability (default `larix`). */
  agent?: string
  /** zlib level of the packs sent, 0–9 (default 1: fast, and packs are made for the wire, not for keeping). */
  packLevel?: number
  /**
   * Keep a clone pack in the store (when it has room: level and memory do) and send clones from it
   * (src/sync/serve/clone-pack.ts). Default true; false serves every clone object by object.
   */
  clonePack?: boolean | ClonePackOptions
  /** A fresh staging store for each received pack (default: in memory; see src/sync/pack/staging.ts). */
  staging?: () => ObjectStore
  /** Most ref updates in one push (default 10,000). */
  maxPushCommands?: number
  /** Most `have` lines in one fetch request (default 1,000,000). */
  maxHaves?: number
  /** Caches of the server's object reader (commits and generation numbers are what it reads most). */
  cache?: CacheOptions
  /** Told about each failed request (the client was told too); for logs. */
  onError?: (e: unknown) => void
}

export interface RequestOptions {
  /** The protocol version the client asked for (the Git-Protocol header or GIT_PROTOCOL: `version=2`). */
  version?: 0 | 1 | 2
  /** Errors to throw (instead of answering them in the protocol) while nothing has been sent yet. */
  rethrow?: (e: unknown) => boolean
}

/** Thrown for a service this server does not offer (receive-pack when pushes are off, an unknown name). */
export class ServiceNotEnabledError extends ProtocolError {
  constructor(service: string) {
    super(`service ${JSON.stringify(service)} is not enabled on this server`)
  }
}

/** Bytes of index entries a server keeps in memory (an entry is ~21 bytes per object a commit introduced). */
const INTRODUCED_CACHE_BYTES = 32 << 20

/**
 * Serves one store with the Git smart protocol, for `git clone`, `fetch`, `pull` and `push`.
 * @example
 * const server = new GitServer(backend)
 * for await (const bytes of server.serveGitDaemon(socket)) socket.write(bytes)
 */
export class GitServer {
  readonly context: ServeContext
  readonly receivePack: boolean

  constructor(backend: Pick<Backend, 'objects' | 'refs'>, options: GitServerOptions = {}) {
    this.receivePack = options.receivePack ?? true
    this.context = {
      objects: backend.objects,
      refs: backend.refs,
      reader: new ObjectReader(backend.objects, options.cache),
      introduced: new LRU(INTRODUCED_CACHE_BYTES, e => e.length + 64),
      head: options.head,
      agent: options.agent ?? 'larix',
      clonePacks: options.clonePack !== false && backend.objects.clonePacks
        ? new ClonePacks(backend.objects.clonePacks, typeof options.clonePack === 'object' ? options.clonePack : {})
        : undefined,
      packLevel: options.packLevel ?? 1,
      staging: options.staging,
      maxPushCommands: options.maxPushCommands ?? 10_000,
      maxHaves: options.maxHaves ?? 1_000_000,
      onError: options.onError,
    }
  }

  /** Stop background work (a clone pack being built); requests still in flight are not affected. */
  async close(): Promise<void> {
    await this.context.clonePacks?.close()
  }

  /** Whether `service` is offered. */
  offers(service: string): service is GitService {
    return service === 'git-upload-pack' || (service === 'git-receive-pack' && this.receivePack)
  }

  /**
   * The smart HTTP advertisement (`GET /info/refs?service=…`): the `# service=` preamble, then the v2
   * capabilities or the v0/v1 refs. receive-pack has no v2: it answers v0.
   */
  async advertise(service: GitService, options: RequestOptions = {}): Promise<Uint8Array> {
    this.#check(service)
    const version = options.version ?? 0
    if (service === 'git-upload-pack') {
      if (version === 2) return uploadPackV2Advertisement(this.context, { service: true })
      return uploadPackAdvertisement(this.context, { version, stateless: true, service: true })
    }
    return receivePackAdvertisement(this.context, { version: version === 1 ? 1 : 0, service: true })
  }

  /** One smart HTTP request (`POST /git-upload-pack` or `/git-receive-pack`): the body in, the response out. */
  serveRequest(service: GitService, body: ByteSource, options: RequestOptions = {}): AsyncGenerator<Uint8Array> {
    this.#check(service)
    return this.#session(service, new PktLineReader(body), { ...options, stateless: true, advertise: false })
  }

  /** A connection where the service is known (as over ssh): advertisement, then the exchange. */
  serveConnection(service: GitService, input: ByteSource | PktLineReader, options: RequestOptions = {}): AsyncGenerator<Uint8Array> {
    this.#check(service)
    const reader = input instanceof PktLineReader ? input : new PktLineReader(input)
    return this.#session(service, reader, { ...options, stateless: false, advertise: true })
  }

  /**
   * A git:// connection: the request line (`git-upload-pack /path\0host=…\0\0version=2\0`) names the
   * service and the protocol version; the path is not looked at (one server, one store).
   */
  async *serveGitDaemon(input: ByteSource, options: Pick<RequestOptions, 'rethrow'> = {}): AsyncGenerator<Uint8Array> {
    const reader = new PktLineReader(input)
    const self = this
    yield* guarded(async function* () {
      const req = await readGitProtoRequest(reader)
      if (!self.offers(req.service)) throw new ServiceNotEnabledError(req.service)
      const version = protocolVersion(req.extraParameters)
      yield* self.#session(req.service, reader, { ...options, version, stateless: false, advertise: true })
    }, { service: 'daemon', ...this.#errorOptions(options) })
  }

  #check(service: string): asserts service is GitService {
    if (!this.offers(service)) throw new ServiceNotEnabledError(service)
  }

  #errorOptions(options: RequestOptions): { rethrow?: (e: unknown) => boolean; onError?: (e: unknown) => void } {
    return {
      ...(options.rethrow ? { rethrow: options.rethrow } : {}),
      ...(this.context.onError ? { onError: this.context.onError } : {}),
    }
  }

  async *#session(service: GitService, reader: PktLineReader, options: RequestOptions & { stateless: boolean; advertise: boolean }): AsyncGenerator<Uint8Array> {
    const ctx = this.context
    const version = options.version ?? 0
    const { stateless, advertise } = options
    try {
      if (service === 'git-upload-pack') {
        yield* guarded(state => uploadPackSession(ctx, reader, { version, stateless, advertise }, state), { service: 'upload-pack', ...this.#errorOptions(options) })
      } else {
        yield* guarded(state => receivePackSession(ctx, reader, { version: version === 1 ? 1 : 0, stateless, advertise }, state), { service: 'receive-pack', ...this.#errorOptions(options) })
      }
    } finally {
      await reader.close().catch(() => {})
    }
  }
}
