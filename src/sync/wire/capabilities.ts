// Capabilities: `name` or `name=value` (gitprotocol-capabilities(5), gitprotocol-v2(5)). In v0/v1 they travel
// space-separated behind a NUL on the first ref line (so a value has no space); in v2 one per pkt-line
// (so a value may hold spaces: `fetch=shallow wait-for-done`). Names may repeat (`symref=`, `object-format=`).
import { BadArgumentError } from '../../store/errors.js'
import { ProtocolError } from './errors.js'

/** One capability: a name and, for `name=value`, its value. */
export interface Capability {
  readonly name: string
  readonly value?: string
}

const NAME_RE = /^[A-Za-z0-9_-]+$/
// eslint-disable-next-line no-control-regex
const BAD_VALUE_RE = /[\x00-\x1f\x7f]/

function problem(c: Capability): string | undefined {
  if (typeof c.name !== 'string' || !NAME_RE.test(c.name)) return 'its name must be letters, digits, "-" or "_"'
  if (c.value !== undefined && (typeof c.value !== 'string' || BAD_VALUE_RE.test(c.value))) return 'its value holds a control character'
  return undefined
}

function split(token: string): Capability {
  const i = token.indexOf('=')
  return i < 0 ? { name: token } : { name: token.slice(0, i), value: token.slice(i + 1) }
}

function show(c: Capability): string {
  return c.value === undefined ? c.name : `${c.name}=${c.value}`
}

/**
 * An ordered list of capabilities, as advertised or requested.
 * @example
 * const caps = Capabilities.parse('multi_ack ofs-delta symref=HEAD:refs/heads/main agent=git/2.39.5')
 * caps.has('ofs-delta') // true
 * caps.get('agent')     // 'git/2.39.5'
 */
export class Capabilities implements Iterable<Capability> {
  readonly #list: readonly Capability[]

  /** Build from `name` / `name=value` strings or Capability objects. Throws LARIX_BAD_ARGUMENT on a malformed one. */
  constructor(entries: Iterable<string | Capability> = []) {
    const list: Capability[] = []
    for (const e of entries) {
      const c = typeof e === 'string' ? split(e) : { name: e.name, ...(e.value === undefined ? {} : { value: e.value }) }
      const p = problem(c)
      if (p) throw new BadArgumentError(`bad capability ${JSON.stringify(typeof e === 'string' ? e : show(c))}: ${p}`, 'capabilities')
      list.push(Object.freeze(c))
    }
    this.#list = Object.freeze(list)
  }

  /** Parse a v0/v1 space-separated list from the wire. Throws LARIX_PROTOCOL on a malformed capability. */
  static parse(text: string, line: string = text): Capabilities {
    const list: Capability[] = []
    for (const token of text.split(' ')) {
      if (token === '') continue // send-pack has been known to lead with a space
      const c = split(token)
      const p = problem(c)
      if (p) throw new ProtocolError(`bad capability ${JSON.stringify(token.slice(0, 80))}: ${p}`, line)
      list.push(c)
    }
    return new Capabilities(list)
  }

  /** Parse one v2 capability line (`key[=value]`). Throws LARIX_PROTOCOL on a malformed one. */
  static parseLine(text: string): Capability {
    const c = split(text)
    const p = problem(c)
    if (p) throw new ProtocolError(`bad capability: ${p}`, text)
    return c
  }

  get size(): number { return this.#list.length }

  has(name: string): boolean {
    return this.#list.some(c => c.name === name)
  }

  /** The value of the first `name=value`; undefined if absent or given without a value (use `has`). */
  get(name: string): string | undefined {
    return this.#list.find(c => c.name === name)?.value
  }

  /** Every value given for `name` (`symref` can repeat). */
  getAll(name: string): string[] {
    const out: string[] = []
    for (const c of this.#list) if (c.name === name && c.value !== undefined) out.push(c.value)
    return out
  }

  /** A v2 command's features: `fetch=shallow wait-for-done` → `['shallow', 'wait-for-done']`; [] if absent. */
  features(name: string): string[] {
    return (this.get(name) ?? '').split(' ').filter(s => s.length > 0)
  }

  /** A copy with more capabilities appended. */
  with(...entries: (string | Capability)[]): Capabilities {
    return new Capabilities([...this.#list, ...entries])
  }

  [Symbol.iterator](): Iterator<Capability> {
    return this.#list[Symbol.iterator]()
  }

  /** Each capability as `name` or `name=value`. */
  toArray(): string[] {
    return this.#list.map(show)
  }

  /** The v0/v1 form: space-separated. Throws LARIX_BAD_ARGUMENT if a value holds a space. */
  toString(): string {
    for (const c of this.#list) {
      if (c.value?.includes(' ')) throw new BadArgumentError(`capability ${JSON.stringify(show(c))} has a space: it cannot be sent in a v0/v1 list`, 'capabilities')
    }
    return this.toArray().join(' ')
  }
}
