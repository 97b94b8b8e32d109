import { secretDigest, SessionStore } from './session-store';

const TOKEN = secretDigest('store-token-0123456789abcdef');

test('ends the oldest session once the store is full, and keeps the newer ones', () => {
  const sessions = new SessionStore({ maxSessions: 2 });
  const [first, second, third] = [sessions.open(TOKEN), sessions.open(TOKEN), sessions.open(TOKEN)];
  expect(sessions.tokenDigestOf(first)).toBeUndefined();
  expect(sessions.tokenDigestOf(second)).toEqual(TOKEN);
  expect(sessions.tokenDigestOf(third)).toEqual(TOKEN);
});

test('a revoked or unknown id is no session', () => {
  const sessions = new SessionStore();
  const id = sessions.open(TOKEN);
  sessions.revoke(id);
  expect(sessions.tokenDigestOf(id)).toBeUndefined();
  expect(sessions.tokenDigestOf('store-token-0123456789abcdef')).toBeUndefined();
});
