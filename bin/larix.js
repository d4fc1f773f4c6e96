#!/usr/bin/env node
// The `larix` command: a shim over the compiled CLI in dist/ (npm run build makes it).
let main
try {
  ({ main } = await import('../dist/src/cli/main.js'))
} catch (e) {
  console.error(`larix: cannot load the compiled CLI (run npm run build first): ${e?.message ?? e}`)
  process.exit(1)
}
process.exitCode = await main(process.argv.slice(2))
