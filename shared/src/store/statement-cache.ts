import type Database from 'better-sqlite3';

/**
 * Compiled statements by their SQL. better-sqlite3 compiles the SQL again on every prepare(), and the hot
 * paths (the job runner's ticks, the jobs API, listing a series for each analysis) run the same few
 * statements all the time, on the event loop that every request and job shares.
 */
/** QIDO's SQL varies with the attributes a query filters on: enough shapes for any client, bounded all the same. */
const MAX_STATEMENTS = 256;

export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (this.statements.size >= MAX_STATEMENTS) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
