/** Every error larix throws on purpose is a LarixError with a stable `code` and a `data` payload. */
export class LarixError<D = Record<string, unknown>> extends Error {
  readonly code: string
  readonly data: D
  constructor(code: string, message: string, data: D = {} as D, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.data = data
  }
}

/** A path or path segment that larix refuses: empty, `.`, `..`, or containing `/` or NUL. */
export class BadPathError extends LarixError<{ path: unknown }> {
  constructor(message: string, path: unknown) {
    super('LARIX_BAD_PATH', message, { path })
  }
}

/** A value the branch's codec cannot encode (or bytes it cannot decode). */
export class BadValueError extends LarixError<{ path?: string; codec: string }> {
  constructor(message: string, data: { path?: string; codec: string }, cause?: unknown) {
    super('LARIX_BAD_VALUE', message, data, { cause })
  }
}

/** A commit, object or branch that does not exist. */
export class NotFoundError extends LarixError<{ what: string; id: string }> {
  constructor(what: string, id: string) {
    super('LARIX_NOT_FOUND', `${what} ${id} not found`, { what, id })
  }
}

/** A branch head moved under a writer that could not (or was told not to) retry, or a merge/revert/transaction met conflicts (`data.conflicts`). */
export class ConflictError extends LarixError<{ branch: string; expected?: string; actual?: string; attempts?: number; conflicts?: unknown[] }> {
  constructor(message: string, data: { branch: string; expected?: string; actual?: string; attempts?: number; conflicts?: unknown[] }) {
    super('LARIX_CONFLICT', message, data)
  }
}

/** A branch or ref name outside Git's rules (git check-ref-format). */
export class BadRefError extends LarixError<{ ref: string }> {
  constructor(message: string, ref: string) {
    super('LARIX_BAD_REF', message, { ref })
  }
}

/** An object whose bytes do not parse as the Git object it claims to be. */
export class CorruptObjectError extends LarixError<{ id?: string; type?: string }> {
  constructor(message: string, data: { id?: string; type?: string } = {}) {
    super('LARIX_CORRUPT', message, data)
  }
}

/** A malformed object id (not 40 lowercase hex digits). */
export class BadIdError extends LarixError<{ id: unknown }> {
  constructor(id: unknown) {
    super('LARIX_BAD_ID', `not an object id: ${JSON.stringify(String(id)).slice(0, 80)} (expected 40 hex digits)`, { id })
  }
}

/** A storage failure (disk full, store closed, backend refused a write). Nothing was half-written. */
export class BackendError extends LarixError<{ op: string }> {
  constructor(message: string, op: string, cause?: unknown) {
    super('LARIX_BACKEND', message, { op }, { cause })
  }
}

/** Bad arguments to an API call (unknown option, wrong type). */
export class BadArgumentError extends LarixError<{ argument: string }> {
  constructor(message: string, argument: string) {
    super('LARIX_BAD_ARGUMENT', message, { argument })
  }
}
