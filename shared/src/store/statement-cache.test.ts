import Database from 'better-sqlite3';
import { StatementCache } from './statement-cache';

describe('StatementCache', () => {
  test('compiles each SQL text once and hands back the same statement', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (x INTEGER)');
      const cache = new StatementCache(db);
      const insert = cache.prepare('INSERT INTO t VALUES (?)');
      expect(cache.prepare('INSERT INTO t VALUES (?)')).toBe(insert);
      insert.run(1);
      cache.prepare('INSERT INTO t VALUES (?)').run(2);
      expect(cache.prepare('SELECT SUM(x) AS s FROM t').get()).toEqual({ s: 3 });
    } finally {
      db.close();
    }
  });

  test('stays bounded however many different statements are asked for', () => {
    const db = new Database(':memory:');
    try {
      const cache = new StatementCache(db);
      const first = cache.prepare('SELECT 0');
      for (let i = 1; i <= 300; i++) cache.prepare(`SELECT ${i}`);
      // The first has been dropped and is compiled afresh; it still works.
      const again = cache.prepare('SELECT 0');
      expect(again).not.toBe(first);
      expect(again.pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });
});
