// Browser flavour: no journal. IndexedDB transactions are the only durable write there, so the level
// backend writes each commit's batch straight to the database.
export interface LevelJournal {
  append(payload: Uint8Array): void
  recover(): Uint8Array[]
  reset(): void
  readonly size: number
  close(): void
}

export function openLevelJournal(_location: string): LevelJournal | undefined {
  return undefined
}
