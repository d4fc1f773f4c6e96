import { BadPathError } from './errors.js'

/** A path: a list of segments, or a string of segments joined by `/`. */
export type PathInput = string | readonly string[]
/** A validated path: never-empty segments without `/`, NUL, `.` or `..`. */
export type Path = readonly string[]

function checkSegment(segment: unknown, whole: unknown): string {
  if (typeof segment !== 'string') throw new BadPathError(`path segment must be a string, got ${typeof segment}`, whole)
  if (segment === '') throw new BadPathError(`empty path segment in ${show(whole)}`, whole)
  if (segment === '.' || segment === '..') throw new BadPathError(`path segment "${segment}" is not allowed in ${show(whole)}`, whole)
  if (segment.includes('/')) throw new BadPathError(`path segment contains "/" in ${show(whole)}`, whole)
  if (segment.includes('\0')) throw new BadPathError(`path segment contains NUL in ${show(whole)}`, whole)
  if (/[\uD800-\uDFFF]/.test(segment) && !segment.isWellFormed()) throw new BadPathError(`path segment is not well-formed Unicode in ${show(whole)}`, whole)
  if (segment === '.git' || segment.toLowerCase() === '.git') throw new BadPathError(`path segment ".git" is reserved by Git in ${show(whole)}`, whole)
  return segment
}

function show(p: unknown): string {
  return JSON.stringify(Array.isArray(p) ? p : String(p)).slice(0, 120)
}

/**
 * Validate and normalise a path. `'a/b'` and `['a','b']` are the same path; `''` and `[]` are the root.
 * @example parsePath('todo/42') // ['todo', '42']
 */
export function parsePath(input: PathInput, { allowRoot = true }: { allowRoot?: boolean } = {}): Path {
  let segments: readonly string[]
  if (typeof input === 'string') {
    segments = input === '' ? [] : input.split('/')
  } else if (Array.isArray(input)) {
    segments = input
  } else {
    throw new BadPathError(`a path is a string or an array of strings, got ${input === null ? 'null' : typeof input}`, input)
  }
  for (const s of segments) checkSegment(s, input)
  if (!allowRoot && segments.length === 0) throw new BadPathError('this operation needs a non-empty path', input)
  return segments
}

/** The `/`-joined form of a path, as shown to people. */
export function formatPath(path: Path): string {
  return path.join('/')
}
