// Node flavour of the level backend's write-ahead journal. A commit's batch (objects + ref) is appended here
// with one write(2) and acknowledged at once; the same batch reaches LevelDB in the background, grouped with
// the batches that came meanwhile. LevelDB writes without fsync too, so an acknowledged commit is exactly as
// safe as before (it survives the process being killed, not a power cut), but a commit no longer waits for a
// round trip through libuv's thread pool (~60–100 µs here). On open, records a killed process left behind are
// replayed into LevelDB before anything is read. The file format is journal.ts's (shared with the git backend).
import { join } from 'node:path'
import { FileJournal } from './journal.js'
import type { Journal } from './journal.js'

export type LevelJournal = Journal

const FILE = 'larix-journal'

/** The journal of the LevelDB directory `location` (opened after LevelDB, which holds the directory's lock). */
export function openLevelJournal(location: string): LevelJournal | undefined {
  return new FileJournal(join(location, FILE))
}
