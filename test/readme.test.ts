// The README's examples must run: every ```js block is executed as a module inside this package.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('../..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map(m => m[1])

test('the README has runnable examples', () => {
  assert.ok(blocks.length > 0)
})

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs`, () => {
    const file = join(root, 'dist', `readme-example-${i + 1}.mjs`) // inside the package, so `import 'larix'` resolves
    writeFileSync(file, code)
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 30_000 })
      if (i === 0) {
        const lines = out.trim().split('\n')
        assert.equal(lines[0], "{ title: 'milk' }")
        assert.equal(lines[2], "{ title: 'milk' }", 'main keeps what the fork removed')
        assert.equal(lines.at(-2), 'undefined')
        assert.equal(lines.at(-1), '1')
      }
      if (i === 1) {
        assert.deepEqual(out.trim().split('\n'), ['merged', '12', "{ done: true, title: 'oat milk' }", 'conflict todo/1 both sides changed title'])
      }
      if (i === 2) { // Replicas: two replicas converge on the counter; the watch channel reports main's head
        const lines = out.trim().split('\n')
        assert.match(lines[0], /^(idle|syncing) true \{ ahead: 0, behind: 0 \}$/)
        assert.match(lines[1], /^head main [0-9a-f]{40}$/)
        assert.equal(lines.length, 2)
      }
    } finally { rmSync(file, { force: true }) }
  })
})
