// Long-running commands (serve, replicate) run until SIGINT or SIGTERM, then stop gracefully.

/** Resolves with the name of the first SIGINT or SIGTERM, and stops listening for both. */
export function waitForSignal(): Promise<string> {
  return new Promise(resolve => {
    const on = (signal: string) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
