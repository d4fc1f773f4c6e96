// Ref names, checked by Git's rules (git check-ref-format), so every larix branch is a valid Git branch.
import { BadRefError } from './errors.js'

/** Why `name` is not a valid ref name, or undefined if it is. */
export function refNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'is empty'
  if (name.length > 1024) return 'is longer than 1024 characters'
  if (name === '@') return 'is "@"'
  if (name.startsWith('/') || name.endsWith('/')) return 'begins or ends with "/"'
  if (name.includes('//')) return 'contains "//"'
  if (name.endsWith('.')) return 'ends with "."'
  if (name.includes('..')) return 'contains ".."'
  if (name.includes('@{')) return 'contains "@{"'
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'contains a space, a control character or one of ~ ^ : ? * [ \\'
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return 'has a component beginning with "."'
    if (part.endsWith('.lock')) return 'has a component ending with ".lock"'
  }
  return undefined
}

/** Validate a branch name (`main`, `feature/x`) and return its ref (`refs/heads/main`). */
export function branchRef(name: string): string {
  if (typeof name !== 'string') throw new BadRefError(`branch name must be a string, got ${typeof name}`, String(name))
  const p = refNameProblem(name)
  if (p) throw new BadRefError(`bad branch name ${JSON.stringify(name)}: it ${p}`, name)
  if (name.startsWith('-')) throw new BadRefError(`bad branch name ${JSON.stringify(name)}: it begins with "-"`, name)
  if (name === 'HEAD' || name.startsWith('refs/')) throw new BadRefError(`bad branch name ${JSON.stringify(name)}: give the short name`, name)
  return 'refs/heads/' + name
}

/** Validate a full ref name such as `refs/heads/main` or `refs/tags/v1`. */
export function checkRefName(ref: string): string {
  const p = refNameProblem(ref)
  if (p) throw new BadRefError(`bad ref name ${JSON.stringify(ref)}: it ${p}`, ref)
  if (!ref.startsWith('refs/')) throw new BadRefError(`bad ref name ${JSON.stringify(ref)}: refs live under refs/`, ref)
  return ref
}
