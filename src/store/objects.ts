// The Git object model: encode, decode and id of blob, tree, commit and tag, byte-for-byte as Git does.
// Pure functions; the only platform piece is SHA-1, chosen by the `#platform/sha1` import condition.
import { sha1Hex } from '#platform/sha1'
import { compareBytes, fromUtf8, toHex, utf8, writeHexId } from './bytes.js'
import { BadIdError, CorruptObjectError } from './errors.js'

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag'
export const OBJECT_TYPES: readonly ObjectType[] = ['blob', 'tree', 'commit', 'tag']

/** A Git object: its type and its body (the bytes after Git's `type size\0` header). */
export interface GitObject {
  type: ObjectType
  body: Uint8Array
  /**
   * For commits, when known: 1 + the largest generation of its parents (1 for a root), as in Git's
   * commit-graph. Backends that can keep it next to the object do; it lets LCA searches stop early.
   */
  generation?: number
}

/** A Git object with its id, as backends store it. */
export interface StoredObject extends GitObject {
  id: string
}

const ID_RE = /^[0-9a-f]{40}$/
/** True for a full object id: 40 lowercase hex digits. */
export function isObjectId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id)
}
export function assertObjectId(id: unknown): string {
  if (!isObjectId(id)) throw new BadIdError(id)
  return id
}

/** The id of the empty tree, the same in every SHA-1 Git repository. */
export const EMPTY_TREE_ID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'

/** The ASCII header `type size\0` that Git hashes before the body. */
function header(type: ObjectType, size: number): Uint8Array {
  const s = `${type} ${size}`
  const out = new Uint8Array(s.length + 1)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** Git's object id: SHA-1 of `type size\0` followed by the body. */
export function objectId(type: ObjectType, body: Uint8Array): string {
  return sha1Hex(header(type, body.length), body)
}

/** The loose-object form of an object (`type size\0body`), as hashed by Git. */
export function frameObject(obj: GitObject): Uint8Array {
  const h = header(obj.type, obj.body.length)
  const out = new Uint8Array(h.length + obj.body.length)
  out.set(h, 0)
  out.set(obj.body, h.length)
  return out
}

// ---- trees ----------------------------------------------------------------------------------------

/** Git's file modes. larix writes values as `100644` and directories as `40000`; it reads all of them. */
export type TreeMode = '100644' | '100755' | '120000' | '40000' | '160000'
export const MODE_FILE: TreeMode = '100644'
export const MODE_TREE: TreeMode = '40000'

export interface TreeEntry {
  name: string
  mode: TreeMode
  id: string
}

const MODES = new Set<string>(['100644', '100755', '120000', '40000', '160000'])

export function isTreeMode(mode: string): boolean {
  return mode === MODE_TREE
}

interface NamedBytes { entry: TreeEntry; key: Uint8Array; nameBytes: Uint8Array }

/**
 * Encode tree entries in Git's order (names compared as bytes, directories as if they ended in `/`).
 * Duplicate names are an error: Git would call such a tree corrupt.
 */
export function encodeTree(entries: readonly TreeEntry[]): Uint8Array {
  return encodeAsciiTree(entries) ?? encodeAnyTree(entries)
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** The common case, all names ASCII: sort and write without UTF-8 encoding (string order is byte order). */
function encodeAsciiTree(entries: readonly TreeEntry[]): Uint8Array | undefined {
  const keys: string[] = new Array(entries.length)
  let size = 0
  // Trees usually arrive in order already (an existing tree with a few entries replaced): check before sorting.
  let sorted = true
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (!isAscii(e.name)) return undefined
    keys[i] = e.mode === MODE_TREE ? e.name + '/' : e.name
    if (i > 0 && keys[i - 1] >= keys[i]) sorted = false
    size += e.mode.length + 1 + e.name.length + 1 + 20
  }
  let order = entries
  if (!sorted) {
    const idx = entries.map((_, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0))
    order = idx.map(i => entries[i])
  }
  const out = new Uint8Array(size)
  let o = 0
  for (let i = 0; i < order.length; i++) {
    const e = order[i]
    if (i > 0 && order[i - 1].name === e.name) throw new CorruptObjectError(`duplicate tree entry "${e.name}"`, { type: 'tree' })
    for (let k = 0; k < e.mode.length; k++) out[o++] = e.mode.charCodeAt(k)
    out[o++] = 0x20
    for (let k = 0; k < e.name.length; k++) out[o++] = e.name.charCodeAt(k)
    out[o++] = 0
    if (!writeHexId(e.id, out, o)) throw new BadIdError(e.id)
    o += 20
  }
  return out
}

function encodeAnyTree(entries: readonly TreeEntry[]): Uint8Array {
  const items: NamedBytes[] = new Array(entries.length)
  let size = 0
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    const nameBytes = utf8(e.name)
    let key = nameBytes
    if (e.mode === MODE_TREE) {
      key = new Uint8Array(nameBytes.length + 1)
      key.set(nameBytes)
      key[nameBytes.length] = 0x2f
    }
    items[i] = { entry: e, key, nameBytes }
    size += e.mode.length + 1 + nameBytes.length + 1 + 20
  }
  items.sort((a, b) => compareBytes(a.key, b.key))
  const out = new Uint8Array(size)
  let o = 0
  for (let i = 0; i < items.length; i++) {
    const { entry, nameBytes } = items[i]
    if (i > 0 && compareBytes(items[i - 1].nameBytes, nameBytes) === 0) {
      throw new CorruptObjectError(`duplicate tree entry "${entry.name}"`, { type: 'tree' })
    }
    for (let k = 0; k < entry.mode.length; k++) out[o++] = entry.mode.charCodeAt(k)
    out[o++] = 0x20
    out.set(nameBytes, o)
    o += nameBytes.length
    out[o++] = 0
    if (!writeHexId(entry.id, out, o)) throw new BadIdError(entry.id)
    o += 20
  }
  return out
}

/** Short ASCII names without a TextDecoder call (most names): undefined when a byte is not ASCII. */
function asciiName(b: Uint8Array, start: number, end: number): string | undefined {
  if (end - start > 64) return undefined
  for (let i = start; i < end; i++) if (b[i] > 0x7f) return undefined
  return asciiText.decode(b.subarray(start, end))
}
const asciiText = new TextDecoder('latin1')

/** Decode a tree body into its entries, in stored order. Corrupt input throws CorruptObjectError. */
export function decodeTree(body: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = []
  forEachTreeEntry(body, (name, mode, id) => { entries.push({ name, mode, id }) })
  return entries
}

/** Call `visit` for each entry of a tree body, in stored order, without building an array. */
export function forEachTreeEntry(body: Uint8Array, visit: (name: string, mode: TreeMode, id: string) => void): void {
  let i = 0
  while (i < body.length) {
    const sp = body.indexOf(0x20, i)
    if (sp < 0 || sp - i > 6 || sp === i) throw new CorruptObjectError('tree entry without a mode', { type: 'tree' })
    let mode: string
    // The two modes larix writes, recognised without building a string.
    if (sp - i === 6 && body[i] === 0x31 && body[i + 1] === 0x30 && body[i + 2] === 0x30 && body[i + 3] === 0x36 && body[i + 4] === 0x34 && body[i + 5] === 0x34) mode = MODE_FILE
    else if (sp - i === 5 && body[i] === 0x34 && body[i + 1] === 0x30 && body[i + 2] === 0x30 && body[i + 3] === 0x30 && body[i + 4] === 0x30) mode = MODE_TREE
    else { mode = ''; for (let k = i; k < sp; k++) mode += String.fromCharCode(body[k]) }
    if (!MODES.has(mode)) {
      // Old Git wrote 100664 and friends; treat any other octal file mode as a regular file, as fsck does.
      if (!/^[0-7]+$/.test(mode)) throw new CorruptObjectError(`bad tree entry mode "${mode}"`, { type: 'tree' })
      mode = mode.startsWith('4') ? MODE_TREE : MODE_FILE
    }
    const nul = body.indexOf(0, sp + 1)
    if (nul < 0 || nul === sp + 1) throw new CorruptObjectError('tree entry without a name', { type: 'tree' })
    if (nul + 21 > body.length) throw new CorruptObjectError('tree entry truncated', { type: 'tree' })
    const name = asciiName(body, sp + 1, nul) ?? fromUtf8(body.subarray(sp + 1, nul))
    visit(name, mode as TreeMode, toHex(body, nul + 1, nul + 21))
    i = nul + 21
  }
}

// ---- commits and tags ---------------------------------------------------------------------------

/** An identity with a time, as in Git's author, committer and tagger lines. */
export interface Person {
  name: string
  email: string
  /** Seconds since the Unix epoch. */
  timestamp: number
  /** Minutes east of UTC (Git's `+0100` is 60). */
  timezoneOffset: number
}

export interface CommitObject {
  tree: string
  parents: string[]
  author: Person
  committer: Person
  /** Header lines after the committer, such as `encoding` or `gpgsig`, kept so bytes round-trip. */
  extraHeaders?: [string, string][]
  /** The message exactly as stored (Git's tools end it with a newline). */
  message: string
}

export interface TagObject {
  object: string
  type: ObjectType
  tag: string
  tagger?: Person
  message: string
}

function formatTimezone(minutes: number): string {
  const sign = minutes < 0 || Object.is(minutes, -0) ? '-' : '+'
  const abs = Math.abs(minutes)
  return sign + String(Math.floor(abs / 60)).padStart(2, '0') + String(abs % 60).padStart(2, '0')
}

export function formatPerson(p: Person): string {
  return `${p.name} <${p.email}> ${p.timestamp} ${formatTimezone(p.timezoneOffset)}`
}

export function parsePerson(line: string): Person {
  const lt = line.indexOf('<')
  const gt = line.lastIndexOf('>')
  if (lt < 0 || gt < lt) throw new CorruptObjectError(`bad identity line "${line.slice(0, 80)}"`)
  const name = line.slice(0, lt).trimEnd()
  const email = line.slice(lt + 1, gt)
  const rest = line.slice(gt + 1).trim().split(' ')
  const timestamp = Number(rest[0] ?? 0)
  const tz = rest[1] ?? '+0000'
  const m = /^([+-])(\d\d)(\d\d)$/.exec(tz)
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0
  return { name, email, timestamp: Number.isFinite(timestamp) ? timestamp : 0, timezoneOffset: offset }
}

function checkHeaderValue(key: string, value: string): void {
  if (/[\n\0]/.test(value) && key !== 'gpgsig' && key !== 'mergetag') {
    throw new CorruptObjectError(`commit header ${key} contains a newline or NUL`)
  }
}

function identityOk(p: Person): void {
  if (/[<>\n\0]/.test(p.name) || /[<>\n\0]/.test(p.email)) {
    throw new CorruptObjectError(`identity "${p.name} <${p.email}>" contains <, >, NUL or a newline`)
  }
  if (!Number.isInteger(p.timestamp) || p.timestamp < 0) throw new CorruptObjectError(`bad timestamp ${p.timestamp}`)
  if (!Number.isInteger(p.timezoneOffset) || Math.abs(p.timezoneOffset) >= 100 * 60) throw new CorruptObjectError(`bad timezone offset ${p.timezoneOffset}`)
}

export function encodeCommit(c: CommitObject): Uint8Array {
  assertObjectId(c.tree)
  identityOk(c.author)
  identityOk(c.committer)
  let s = `tree ${c.tree}\n`
  for (const p of c.parents) s += `parent ${assertObjectId(p)}\n`
  s += `author ${formatPerson(c.author)}\ncommitter ${formatPerson(c.committer)}\n`
  for (const [k, v] of c.extraHeaders ?? []) {
    checkHeaderValue(k, v)
    s += `${k} ${v.replace(/\n/g, '\n ')}\n`
  }
  s += '\n' + c.message
  return utf8(s)
}

/** Split header lines (with continuation lines folded back) from the message. */
function parseHeaders(body: Uint8Array, what: string): { headers: [string, string][]; message: string } {
  const text = fromUtf8(body)
  const end = text.indexOf('\n\n')
  const head = end < 0 ? text.replace(/\n$/, '') : text.slice(0, end)
  const message = end < 0 ? '' : text.slice(end + 2)
  const headers: [string, string][] = []
  for (const line of head.split('\n')) {
    if (line.startsWith(' ') && headers.length > 0) {
      headers[headers.length - 1][1] += '\n' + line.slice(1)
      continue
    }
    const sp = line.indexOf(' ')
    if (sp <= 0) throw new CorruptObjectError(`malformed ${what} header line "${line.slice(0, 80)}"`, { type: what })
    headers.push([line.slice(0, sp), line.slice(sp + 1)])
  }
  return { headers, message }
}

/** The parent ids of a commit body, read from its header without decoding the rest. */
export function commitParents(body: Uint8Array): string[] {
  const out: string[] = []
  // "tree <40 hex>\n" is 46 bytes; each "parent <40 hex>\n" 48.
  let i = 46
  while (i + 48 <= body.length && body[i] === 0x70 && body[i + 6] === 0x20 && body[i + 47] === 0x0a) {
    out.push(fromUtf8(body.subarray(i + 7, i + 47)))
    i += 48
  }
  return out
}

export function decodeCommit(body: Uint8Array): CommitObject {
  const { headers, message } = parseHeaders(body, 'commit')
  let tree: string | undefined
  const parents: string[] = []
  let author: Person | undefined
  let committer: Person | undefined
  const extraHeaders: [string, string][] = []
  for (const [k, v] of headers) {
    if (k === 'tree' && tree === undefined) tree = v
    else if (k === 'parent' && author === undefined) parents.push(v)
    else if (k === 'author' && author === undefined) author = parsePerson(v)
    else if (k === 'committer' && committer === undefined) committer = parsePerson(v)
    else extraHeaders.push([k, v])
  }
  if (!isObjectId(tree)) throw new CorruptObjectError('commit without a valid tree line', { type: 'commit' })
  for (const p of parents) if (!isObjectId(p)) throw new CorruptObjectError(`commit with a bad parent "${String(p).slice(0, 50)}"`, { type: 'commit' })
  if (!author || !committer) throw new CorruptObjectError('commit without author or committer', { type: 'commit' })
  const c: CommitObject = { tree, parents, author, committer, message }
  if (extraHeaders.length) c.extraHeaders = extraHeaders
  return c
}

export function encodeTag(t: TagObject): Uint8Array {
  assertObjectId(t.object)
  if (/[\n\0]/.test(t.tag)) throw new CorruptObjectError('tag name contains a newline or NUL')
  let s = `object ${t.object}\ntype ${t.type}\ntag ${t.tag}\n`
  if (t.tagger) { identityOk(t.tagger); s += `tagger ${formatPerson(t.tagger)}\n` }
  s += '\n' + t.message
  return utf8(s)
}

export function decodeTag(body: Uint8Array): TagObject {
  const { headers, message } = parseHeaders(body, 'tag')
  const get = (k: string) => headers.find(h => h[0] === k)?.[1]
  const object = get('object'), type = get('type'), tag = get('tag'), tagger = get('tagger')
  if (!isObjectId(object)) throw new CorruptObjectError('tag without a valid object line', { type: 'tag' })
  if (!type || !OBJECT_TYPES.includes(type as ObjectType)) throw new CorruptObjectError('tag with a bad type line', { type: 'tag' })
  if (tag === undefined) throw new CorruptObjectError('tag without a name', { type: 'tag' })
  const t: TagObject = { object, type: type as ObjectType, tag, message }
  if (tagger !== undefined) t.tagger = parsePerson(tagger)
  return t
}
