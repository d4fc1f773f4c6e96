// larix for Node: the store core (level and memory backends). Sync and the appliance arrive as their own entry points.
export * from './store/index.js'
export { gitBackend, type GitBackend, type GitBackendOptions } from './platform/node/git-backend.js'
export * from './sync/index.js'
export { startServer, type ServeOptions, type RunningServer } from './platform/node/serve.js'
