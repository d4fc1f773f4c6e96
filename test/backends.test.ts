import { test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { backendCases } from './backend-suite.js'
import { memoryBackend, levelBackend, gitBackend } from '../src/index.js'
import type { Backend } from '../src/index.js'
import type { LevelBackend } from '../src/store/backends/level.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-backends-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0

const backends = {
  memory: { make: () => memoryBackend() },
  level: {
    make: () => levelBackend(join(tmp, `db${n++}`)),
    reopen: (b: Backend) => levelBackend((b as LevelBackend).location),
  },
  git: {
    make: () => gitBackend(join(tmp, `git${n++}`)),
    reopen: (b: Backend) => gitBackend((b as ReturnType<typeof gitBackend>).dir),
  },
}

for (const [name, opts] of Object.entries(backends)) {
  for (const c of backendCases) test(`${name} backend: ${c.name}`, () => c.run(opts))
}
