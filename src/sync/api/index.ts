// The JSON API of a replica (see app.ts for the routes).
export { apiApp, API_PREFIX, commitJson, toAuthorizer } from './app.js'
export type { ApiOptions } from './app.js'
export {
  BadJsonError, BadRequestError, ERROR_CODE_HEADER, MethodNotAllowedError, NoRouteError, ShuttingDownError, UnsupportedMediaTypeError,
  errorResponse, jsonResponse, statusOf,
} from './errors.js'
export { hasDotSegment, rawPathOf, readJsonBody } from './request.js'
