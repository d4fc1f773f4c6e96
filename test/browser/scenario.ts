// A small history (commits on two branches) and a plain-data summary of a store, run both in Chromium on
// IndexedDB and in Node on the memory backend: equal summaries mean equal Git objects, ids included.
import type { Repo } from '../../src/store/index.js'

/** Pinned identity and clock, so that commit ids do not depend on where or when the scenario runs. */
export const scenarioOptions = { author: 'Ann <ann@example.org>', now: () => 1_700_000_000_000 }

export interface LogEntry { id: string; parents: string[]; message: string; author: string; timestamp: number }
export interface BranchSummary { head: string | undefined; values: Record<string, unknown>; log: LogEntry[] }
export interface Summary { branches: string[]; heads: Record<string, BranchSummary> }

/** Four commits on `main`, then `feature` forked from the third with two of its own. */
export async function writeHistory(repo: Repo): Promise<void> {
  const main = repo.branch('main')
  await main.set('todo/1', { title: 'milk' }, { message: 'add milk' })
  await main.set('todo/2', { title: 'bread', done: false }, { message: 'add bread' })
  await main.set('config/theme', 'dark', { message: 'set theme' })
  const feature = await repo.fork('main', 'feature')
  await feature.set('todo/3', { title: 'eggs', tags: ['shop', 'ünïcødé ✓'] }, { message: 'add eggs on feature' })
  await feature.remove('todo/1', { message: 'drop milk' })
  await main.set('todo/2', { title: 'bread', done: true }, { message: 'bread done' })
}

/** Every branch of `repo`: its head, every value by path, and its whole log. */
export async function summarize(repo: Repo): Promise<Summary> {
  const heads: Record<string, BranchSummary> = {}
  const branches = await repo.branches()
  for (const name of branches) {
    const branch = repo.branch(name)
    const values: Record<string, unknown> = {}
    const walk = async (dir: string[]): Promise<void> => {
      for (const e of await branch.list(dir)) {
        const path = [...dir, e.name]
        if (e.kind === 'tree') await walk(path)
        else values[path.join('/')] = await branch.get(path)
      }
    }
    await walk([])
    const log: LogEntry[] = []
    for await (const c of branch.log()) {
      log.push({ id: c.id, parents: c.parents, message: c.info.message, author: c.info.author, timestamp: c.info.timestamp })
    }
    heads[name] = { head: (await branch.head())?.id, values, log }
  }
  return { branches, heads }
}
