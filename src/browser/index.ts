// larix for browsers: the same core; `levelBackend(name)` stores in IndexedDB (browser-level) and hashing uses
// a synchronous SHA-1 (@noble/hashes), both picked by the `browser` export condition.
export * from '../store/index.js'
