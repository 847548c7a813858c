/**
 * The bounds of every list the operations service returns: a page never holds more than
 * `maxPageSize` rows, whatever the caller asks, so that one request from the console or the CLI
 * cannot make the database read a whole table.
 */
export const OPERATIONS_LIMITS = {
  /** Rows in one page when the caller does not say. @default 25 */
  defaultPageSize: 25,
  /** Most rows in one page. @default 200 */
  maxPageSize: 200,
  /**
   * Lists the stores page only by count (dead letters, parked events) are read up to
   * `page * pageSize`: pages past this one are refused. @default 50
   */
  maxOffsetPage: 50,
  /** Events counted behind a subscription before its lag is reported as "at least". @default 1000 */
  lagCountLimit: 1000,
  /** Parked events, or saga instances per status, counted before a count is reported as "at least". @default 1000 */
  countLimit: 1000,
  /** Latest events read to estimate the recent throughput. @default 1000 */
  throughputSample: 1000,
  /** Longest id accepted (stream, command, correlation, handler, subscription). @default 1000 */
  maxIdLength: 1000,
} as const;
