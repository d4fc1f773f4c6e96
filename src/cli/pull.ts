// `larix pull [URL]`: fetch the remote's branch of the same name as --branch and merge it in with larix's
// mergers (per key for JSON values). Conflicts are listed as `larix merge` lists them (exit status 1).
import { pull as pullBranch } from '../sync/index.js'
import type { Command } from './commands.js'
import { tlsFiles } from './tls.js'
import { conflictLines } from './format.js'
import { formatBytes, terminalProgress } from './progress.js'
import { remoteUrl } from './remote.js'

export const pull: Command = {
  synopsis: '[URL]', min: 0, max: 1, options: ['depth', 'message', 'author', 'tlsCert', 'tlsKey', 'tlsCa'], creates: false,
  async run(ctx) {
    const url = remoteUrl(ctx.store, ctx.args[0], 'pull')
    const branch = ctx.branch
    const tls = tlsFiles(ctx.options, 'client')
    const r = await pullBranch(ctx.repo, url, {
      ...(tls ? { tls } : {}),
      branch, depth: ctx.options.depth, message: ctx.options.message, author: ctx.options.author, onProgress: terminalProgress(),
    })
    const f = r.fetch
    const fetched = f.objects > 0 ? `Fetched ${f.objects} objects (${formatBytes(f.bytes)}) from ${f.url}` : `Nothing new to fetch from ${f.url}`
    const m = r.merge
    const data = { url: f.url, branch, remoteId: r.remoteId, objects: f.objects, bytes: f.bytes, merge: m }
    switch (m.status) {
      case 'up-to-date': return { data, lines: [fetched, `Already up to date: ${branch} has every commit of the remote's ${branch}`] }
      case 'fast-forward': return { data, lines: [fetched, `Fast-forward ${branch} to ${m.commit.id}`] }
      case 'merged': return { data, lines: [fetched, `Merged the remote's ${branch} into ${branch}: ${m.commit.id}`] }
      case 'conflict':
        return {
          data, exitCode: 1,
          lines: [
            fetched,
            `Merging the remote's ${branch} (${r.remoteId}) into ${branch} stopped on ${m.conflicts.length} conflict${m.conflicts.length === 1 ? '' : 's'}; ${branch} is unchanged`,
            ...conflictLines(m.conflicts),
            `Make both sides agree on each path (larix set PATH JSON), then pull again.`,
          ],
        }
    }
  },
}
