import Database from 'better-sqlite3';
import { embeddedJobCounts } from '../../shared/src/queue/embedded-job-counts';
import { EMBEDDED_JOBS_SCHEMA } from '../../shared/src/queue/embedded-schema';
import { StatementCache } from '../../shared/src/store/statement-cache';

/** What a scrape costs the embedded job store: the whole-index counts are read again only when they may have changed. */
describe('embedded job counts for /metrics', () => {
  let db: Database.Database;
  let statements: StatementCache;
  let groupBys: number;
  beforeEach(() => {
    db = new Database(':memory:');
    db.exec(EMBEDDED_JOBS_SCHEMA.sql);
    statements = new StatementCache(db);
    groupBys = 0;
    const prepare = statements.prepare.bind(statements);
    jest.spyOn(statements, 'prepare').mockImplementation((sql: string) => {
      if (sql.includes('GROUP BY')) groupBys++;
      return prepare(sql);
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    db.close();
  });
  const addJob = (id: string, state: string): void => {
    db.prepare('INSERT INTO jobs (id, study_uid, state, created_at) VALUES (?, ?, ?, 0)').run(id, '1.2.3', state);
  };

  test('reads the counts again only after the store has changed, and then exactly', () => {
    addJob('a', 'done');
    expect(embeddedJobCounts(statements, 1000).byState.done).toBe(1);
    const read = groupBys;
    expect(embeddedJobCounts(statements, 16_000).byState.done).toBe(1);
    expect(groupBys).toBe(read);
    addJob('b', 'done');
    expect(embeddedJobCounts(statements, 16_001).byState.done).toBe(2);
  });

  test('reuses counts that were slow to read for 5 s, though the store has changed', () => {
    let clock = 0;
    // Each count takes 20 ms: a store of some 100,000 jobs.
    jest.spyOn(performance, 'now').mockImplementation(() => (clock += 20));
    addJob('a', 'done');
    expect(embeddedJobCounts(statements, 1000).byState.done).toBe(1);
    addJob('b', 'done');
    expect(embeddedJobCounts(statements, 5999).byState.done).toBe(1);
    expect(embeddedJobCounts(statements, 6000).byState.done).toBe(2);
  });

  test('reads the oldest waiting job at every call: a retry falls due with no write', () => {
    db.prepare(`INSERT INTO jobs (id, study_uid, state, created_at, next_attempt_at) VALUES ('q', '1.2.3', 'queued', 500, 2000)`).run();
    expect(embeddedJobCounts(statements, 1000).oldestWaitingCreatedAt).toBeNull();
    expect(embeddedJobCounts(statements, 2000).oldestWaitingCreatedAt).toBe(500);
  });
});
