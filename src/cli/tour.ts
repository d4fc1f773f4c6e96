// `larix tour`: a few writes, a branch, more writes there and the two logs, each
// step printed as the command that does the same. Safe to run again and again on one store: it counts
// its runs in `tour/runs`, so every run commits something and none trips over what an earlier one left.
import type { Branch, Commit } from '../store/index.js'
import { DEFAULT_BRANCH, DEFAULT_STORE } from './args.js'
import type { Context, Output } from './commands.js'
import { commitLine, listLine, logLine, pretty, shellQuote } from './format.js'

const LOG_LIMIT = 5

export async function tour(ctx: Context): Promise<Output> {
  const { repo } = ctx
  const main = repo.branch(ctx.branch)
  const featureName = ctx.branch === 'feature' ? 'feature-2' : 'feature'
  const feature = repo.branch(featureName)
  const lines: string[] = [`A tour of larix on the store in ${ctx.store}`, '']

  const storeFlag = ctx.options.store === DEFAULT_STORE ? '' : `--store ${shellQuote(ctx.options.store)} `
  const larix = (b: Branch, cmd: string) => `$ larix ${storeFlag}${b.name === DEFAULT_BRANCH ? '' : `--branch ${shellQuote(b.name)} `}${cmd}`
  const step = (b: Branch, cmd: string, out: string[]) => lines.push(larix(b, cmd), ...out.map(l => '  ' + l), '')

  const set = async (b: Branch, path: string, value: unknown, message: string) => {
    const before = (await b.head())?.id
    const c = await b.set(path, value, { message })
    step(b, `set ${path} ${shellQuote(JSON.stringify(value))} -m ${shellQuote(message)}`,
      [c.id === before ? `${path} already holds this value: nothing to commit` : commitLine(b.name, c)])
  }
  const log = async (b: Branch) => {
    const commits: Commit[] = []
    for await (const c of b.log({ limit: LOG_LIMIT })) commits.push(c)
    step(b, `log --limit ${LOG_LIMIT}`, commits.map(logLine))
    return commits
  }

  const runs = await main.get('tour/runs')
  const run = (typeof runs === 'number' && Number.isSafeInteger(runs) && runs > 0 ? runs : 0) + 1

  await set(main, 'todo/1', { title: 'buy milk', done: false }, 'add a todo')
  await set(main, 'todo/2', { title: 'water the plants', done: false }, 'add another todo')
  await set(main, 'tour/runs', run, `tour run ${run}`)
  const todo1 = await main.get('todo/1')
  step(main, 'get todo/1', pretty(todo1).split('\n'))
  step(main, 'ls todo', (await main.list('todo')).map(listLine))

  if ((await feature.head()) === undefined) {
    await repo.fork(ctx.branch, featureName)
    step(main, `branch ${featureName}`, [`Created branch ${featureName} at ${(await feature.head())!.id} (the head of ${ctx.branch})`])
  } else {
    // An earlier run made it: show the branches instead, and go on writing there.
    step(main, 'branch', (await repo.branches()).map(n => `${n === ctx.branch ? '*' : ' '} ${n}`))
  }
  await set(feature, 'todo/1', { title: 'buy milk', done: true }, 'milk bought')
  await set(feature, 'todo/3', { title: 'try larix', done: true, run }, `tried larix (run ${run})`)

  const mainLog = await log(main)
  const featureLog = await log(feature)
  const onMain = ctx.branch === DEFAULT_BRANCH ? '' : `--branch ${shellQuote(ctx.branch)} `
  const next: [string, string][] = [
    [`show ${featureName}`, `what the last commit on ${featureName} changed`],
    [`${onMain}log todo/1`, 'the commits that changed todo/1'],
    [`${onMain}reset ${mainLog[1]?.id ?? '<id>'}`, `move ${ctx.branch} back one commit (a rollback)`],
    ['--help', 'every command'],
  ]
  const width = Math.max(...next.map(([cmd]) => cmd.length))
  lines.push('Every write is a commit and every commit a snapshot. Next, try:',
    ...next.map(([cmd, what]) => `  larix ${storeFlag}${cmd.padEnd(width)}   ${what}`))
  return { data: { store: ctx.store, run, branches: { [ctx.branch]: mainLog, [featureName]: featureLog } }, lines }
}
