import { expect, test } from 'vitest';
import { hasScope, partnersOf, type Me } from './session';

const me = (scopes?: string[] | null): Me => ({ sub: 'u', scopes });

test('roles: admin and the partners of partner:ID scopes, each once, sorted', () => {
  expect(hasScope(me(['admin', 'partner:acme']), 'admin')).toBe(true);
  expect(hasScope(me(['administrator']), 'admin')).toBe(false);
  expect(hasScope(me(undefined), 'admin')).toBe(false);
  expect(partnersOf(me(['partner:zeta', 'admin', 'partner:acme', 'partner:acme', 'partner:', 'partners:x']))).toEqual(['acme', 'zeta']);
  expect(partnersOf(me(null))).toEqual([]);
});
