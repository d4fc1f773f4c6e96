// Finding (or creating) the .git directory behind a path: a bare repository, a work tree's `.git` (a directory,
// or a `gitdir:` file for linked work trees and submodules), or an empty directory to initialise as a bare repo.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { BackendError } from '../../../store/errors.js'

export interface GitLayout {
  /** The git directory: HEAD and per-work-tree refs. */
  gitDir: string
  /** Where objects and shared refs live (the same as gitDir except in linked work trees). */
  commonDir: string
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory() } catch { return false }
}

/** Git's own test (is_git_directory): objects/ and refs/ directories and a HEAD file. */
function looksLikeGitDir(p: string): boolean {
  const common = commonDirOf(p)
  return existsSync(join(p, 'HEAD')) && isDir(join(common, 'objects')) && isDir(join(common, 'refs'))
}

function commonDirOf(gitDir: string): string {
  try { return resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) } catch { return gitDir }
}

const CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n'

/** Lay out an empty bare repository at `dir`, with HEAD on refs/heads/main. HEAD is written last: it marks the directory as a repository. */
function initBare(dir: string): void {
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'info']) mkdirSync(join(dir, d), { recursive: true })
  writeFileSync(join(dir, 'config'), CONFIG)
  writeFileSync(join(dir, 'description'), 'Unnamed repository; edit this file \'description\' to name the repository.\n')
  writeFileSync(join(dir, 'HEAD'), 'ref: refs/heads/main\n')
}

/** Refuse repositories this backend would misread: SHA-256 object ids, reftable refs, unknown format versions. */
function checkConfig(commonDir: string): void {
  let text: string
  try { text = readFileSync(join(commonDir, 'config'), 'utf8') } catch { return }
  const value = (key: string): string | undefined => {
    const m = new RegExp(`^\\s*${key}\\s*=\\s*(\\S+)`, 'im').exec(text)
    return m?.[1].toLowerCase()
  }
  const version = Number(value('repositoryformatversion') ?? '0')
  if (version > 1) throw new BackendError(`${commonDir}: repository format version ${version} is not supported`, 'open')
  const format = value('objectformat')
  if (format && format !== 'sha1') throw new BackendError(`${commonDir}: ${format} object ids are not supported yet (SHA-1 only)`, 'open')
  const refs = value('refstorage')
  if (refs && refs !== 'files') throw new BackendError(`${commonDir}: the ${refs} ref storage is not supported (files only)`, 'open')
}

/** The git directory for `dir`: its `.git`, itself if it is one, or a new bare repository if it is missing or empty. */
export function locateRepository(dir: string): GitLayout {
  const abs = resolve(dir)
  let gitDir: string | undefined
  const dotGit = join(abs, '.git')
  if (isDir(dotGit)) gitDir = dotGit
  else if (existsSync(dotGit)) {
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, 'utf8'))
    if (!m) throw new BackendError(`${dotGit} is neither a directory nor a "gitdir:" file`, 'open')
    gitDir = resolve(abs, m[1])
  } else if (looksLikeGitDir(abs)) gitDir = abs
  else if (!existsSync(abs) || (isDir(abs) && readdirSync(abs).length === 0)) {
    initBare(abs)
    gitDir = abs
  } else {
    throw new BackendError(`${abs} is not a Git repository (no .git, no HEAD/objects/refs) and not empty: refusing to create one there`, 'open')
  }
  if (!looksLikeGitDir(gitDir)) throw new BackendError(`${gitDir} is not a Git directory (no HEAD, objects/ or refs/)`, 'open')
  const commonDir = commonDirOf(gitDir)
  checkConfig(commonDir)
  return { gitDir, commonDir }
}
