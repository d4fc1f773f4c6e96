// The first pkt-line on a git:// connection (gitprotocol-pack(5), "Git Transport"):
// `git-upload-pack /project.git\0host=example.com\0\0version=2\0`, and the Extra Parameters that also travel
// in GIT_PROTOCOL (ssh, file) and the Git-Protocol HTTP header, colon-separated.
import { BadArgumentError } from '../../store/errors.js'
import { ProtocolError } from './errors.js'
import { encodePktLine } from './pkt-line.js'
import type { PktLineReader } from './pkt-line.js'

/** A git:// request: which service, on which repository path, for which virtual host. */
export interface GitProtoRequest {
  service: string
  path: string
  host?: string
  /** Extra Parameters such as `version=2`. */
  extraParameters: string[]
}

const SERVICE_RE = /^git-[a-z][a-z-]*$/
// eslint-disable-next-line no-control-regex
const PARAM_RE = /^[^\x00-\x1f\x7f:]+$/

/**
 * Format the request line that opens a git:// connection.
 * @example formatGitProtoRequest({ service: 'git-upload-pack', path: '/project.git', host: 'example.com', extraParameters: ['version=2'] })
 */
export function formatGitProtoRequest(r: GitProtoRequest): Uint8Array {
  if (!SERVICE_RE.test(r.service)) throw new BadArgumentError(`bad service name ${JSON.stringify(r.service)}`, 'service')
  if (r.path.length === 0 || /[\0\n]/.test(r.path)) throw new BadArgumentError(`bad repository path ${JSON.stringify(r.path)}`, 'path')
  if (r.host !== undefined && (r.host.length === 0 || !PARAM_RE.test(r.host.replace(/:[0-9]+$/, '')))) {
    throw new BadArgumentError(`bad host ${JSON.stringify(r.host)}`, 'host')
  }
  for (const p of r.extraParameters) {
    if (!PARAM_RE.test(p)) throw new BadArgumentError(`bad extra parameter ${JSON.stringify(p)}`, 'extraParameters')
  }
  let s = `${r.service} ${r.path}\0`
  if (r.host !== undefined) s += `host=${r.host}\0`
  if (r.extraParameters.length > 0) s += '\0' + r.extraParameters.map(p => p + '\0').join('')
  return encodePktLine(s)
}

/** Parse the payload of a git:// request line. Throws LARIX_PROTOCOL when it is malformed. */
export function parseGitProtoRequest(text: string): GitProtoRequest {
  const line = text.endsWith('\n') ? text.slice(0, -1) : text
  const sp = line.indexOf(' ')
  const nul = line.indexOf('\0')
  if (sp < 0 || nul < sp) throw new ProtocolError('expected "<service> <path>\\0…"', line)
  const service = line.slice(0, sp)
  const path = line.slice(sp + 1, nul)
  if (!SERVICE_RE.test(service)) throw new ProtocolError('bad service name', line)
  if (path.length === 0) throw new ProtocolError('empty repository path', line)
  const tokens = line.slice(nul + 1).split('\0')
  if (tokens[tokens.length - 1] !== '') throw new ProtocolError('the request line must end with a NUL', line)
  const req: GitProtoRequest = { service, path, extraParameters: [] }
  let i = 0
  if (tokens[0].startsWith('host=')) {
    req.host = tokens[0].slice(5)
    if (req.host.length === 0) throw new ProtocolError('empty host parameter', line)
    i = 1
  }
  if (i < tokens.length - 1) {
    if (tokens[i] !== '') throw new ProtocolError('unexpected parameter before the extra parameters', line)
    for (const p of tokens.slice(i + 1, -1)) {
      if (!PARAM_RE.test(p)) throw new ProtocolError('bad extra parameter', line)
      req.extraParameters.push(p)
    }
  }
  return req
}

/** Read and parse the request line of a git:// connection (server side). */
export async function readGitProtoRequest(reader: PktLineReader): Promise<GitProtoRequest> {
  const p = await reader.read()
  if (p.type !== 'data') throw new ProtocolError(p.type === 'end' ? 'the connection closed before the request line' : `expected the request line, got a ${p.type}-pkt`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(p.data)
  } catch {
    throw new ProtocolError('the request line is not valid UTF-8')
  }
  return parseGitProtoRequest(text)
}

/** Split a GIT_PROTOCOL value or Git-Protocol header (`version=2:object-format=sha1`) into parameters. */
export function parseProtocolParameters(value: string): string[] {
  return value.split(':').filter(p => p.length > 0)
}

/**
 * The protocol version the client asks for: the highest `version=<n>` among the parameters that this
 * side knows (0, 1 or 2); 0 when none. Unknown keys and versions are ignored, as the protocol demands.
 * @example protocolVersion(parseProtocolParameters(request.headers.get('Git-Protocol') ?? '')) // 2
 */
export function protocolVersion(parameters: Iterable<string>): 0 | 1 | 2 {
  let v: 0 | 1 | 2 = 0
  for (const p of parameters) {
    if (p === 'version=1' && v < 1) v = 1
    else if (p === 'version=2') v = 2
  }
  return v
}
