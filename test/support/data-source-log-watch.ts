import type { DataSource, QueryRunner } from 'typeorm';
import { PIPELINE_LOG_PREFIX } from '../../libs/typeorm/src/journal/postgres-pipelined-append.js';

/** What `watchDataSourceLog` saw through a DataSource's logger (everything still goes on to the logger). */
export interface DataSourceLogWatch {
  /** The warnings logged (`logger.log('warn', …)`), in order. */
  warnings: string[];
  /** How many conditional appends were sent as a pipeline (logged with `PIPELINE_LOG_PREFIX`). */
  pipelined(): number;
}

/**
 * Watches `dataSource`'s logger: counts pipelined conditional appends and keeps warnings, and hands
 * every logged query to `onQuery` first (a test simulating a pooler acts there, on the runner's
 * connection, before the query is sent).
 */
export function watchDataSourceLog(dataSource: DataSource, onQuery?: (query: string, runner: QueryRunner | undefined) => void): DataSourceLogWatch {
  const logger = dataSource.logger;
  const warnings: string[] = [];
  let pipelined = 0;
  const logQuery = logger.logQuery.bind(logger);
  logger.logQuery = (query, parameters, runner) => {
    if (query.startsWith(PIPELINE_LOG_PREFIX)) pipelined++;
    onQuery?.(query, runner);
    return logQuery(query, parameters, runner);
  };
  const log = logger.log.bind(logger);
  logger.log = (level, message, runner) => {
    if (level === 'warn') warnings.push(String(message));
    return log(level, message, runner);
  };
  return { warnings, pipelined: () => pipelined };
}
