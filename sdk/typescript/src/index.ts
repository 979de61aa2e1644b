export { HeliographClient } from "./client.js";
export {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  DEFAULT_PAGE_ID,
  HeliographError,
  NetworkError,
  NotFoundError,
  Paginator,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitError,
  ServerError,
  Transport,
  ValidationError,
  VERSION,
  nextLink,
  parseRetryAfter,
  resolveUrl,
} from "./core.js";
export type { CallOptions, ClientOptions, Operation, Page, RetryOptions, WriteOptions } from "./core.js";
export * from "./operations.js";
export type { components, operations, paths } from "./schema.js";
