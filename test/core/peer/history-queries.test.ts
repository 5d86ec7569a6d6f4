/**
 * History commands through the peer machine (core/peer/machine.ts, askHistory and
 * onHistoryAnswer): what the machine asks its history store, and how the store's answer reaches
 * the user, under the ref of the command that asked and saying again what was asked. One peer
 * machine and a server typed by hand (hand-typed-client.ts); the store is played by the test.
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../core/errors.ts';
import { HISTORY_PAGE_MESSAGES_DEFAULT, HISTORY_QUERIES_PENDING_MAX, HISTORY_SEARCH_RESULTS_MAX } from '../../../core/limits.ts';
import type { PeerCommand } from '../../../core/peer/commands.ts';
import type { HistoryMessage } from '../../../core/peer/history.ts';
import type { PeerEffect } from '../../../core/peer/machine.ts';
import { Client } from './hand-typed-client.ts';

type Query = Extract<PeerEffect, { type: 'history.page' | 'history.search' }>;

function ask(client: Client, command: PeerCommand, ref?: number): Query {
  const before = client.effects.length;
  client.input({ type: 'command', command, ...(ref === undefined ? {} : { ref }) });
  const queries = client.effects.slice(before).filter((e): e is Query => e.type === 'history.page' || e.type === 'history.search');
  expect(queries).toHaveLength(1);
  return queries[0]!;
}

const MESSAGE: HistoryMessage = { id: 'bob-1', from: 'bob', username: 'bob', text: 'hi', at: '2026-12-06T00:00:00.000Z', direction: 'in', status: 'received', kind: 'message' };

describe('history queries', () => {
  it('history asks the store for a page of that friend for our account: the default page size, from the newest unless `before` says', () => {
    const client = new Client().loggedIn();
    expect(ask(client, { cmd: 'history', username: 'bob' })).toEqual({ type: 'history.page', queryId: 1, account: 'alice', friend: 'bob', limit: HISTORY_PAGE_MESSAGES_DEFAULT, before: null });
    expect(ask(client, { cmd: 'history', username: 'bob', limit: 5, before: 'bob-9' })).toEqual({ type: 'history.page', queryId: 2, account: 'alice', friend: 'bob', limit: 5, before: 'bob-9' });
  });

  it('the answer is told as history with the friend asked about, under the command\'s ref, and the query is then forgotten', () => {
    const client = new Client().loggedIn();
    const query = ask(client, { cmd: 'history', username: 'bob' }, 31);
    client.input({ type: 'history.answer', queryId: query.queryId, messages: [MESSAGE] });
    expect(client.answersTo(31)).toEqual([{ event: 'history', username: 'bob', messages: [MESSAGE] }]);
    const told = client.events.length;
    client.input({ type: 'history.answer', queryId: query.queryId, messages: [] });
    client.input({ type: 'history.failed', queryId: query.queryId });
    expect(client.events.length).toBe(told);
  });

  it('history.search asks across friends (or one) for at most HISTORY_SEARCH_RESULTS_MAX, and its answer says the text and the friend searched', () => {
    const client = new Client().loggedIn();
    const everywhere = ask(client, { cmd: 'history.search', text: 'hi' }, 41);
    expect(everywhere).toEqual({ type: 'history.search', queryId: 1, account: 'alice', text: 'hi', friend: null, limit: HISTORY_SEARCH_RESULTS_MAX });
    const withBob = ask(client, { cmd: 'history.search', text: 'hi', username: 'bob' }, 42);
    expect(withBob).toMatchObject({ friend: 'bob', text: 'hi' });
    client.input({ type: 'history.answer', queryId: withBob.queryId, messages: [MESSAGE] });
    client.input({ type: 'history.answer', queryId: everywhere.queryId, messages: [] });
    expect(client.answersTo(41)).toEqual([{ event: 'history', text: 'hi', messages: [] }]);
    expect(client.answersTo(42)).toEqual([{ event: 'history', username: 'bob', text: 'hi', messages: [MESSAGE] }]);
  });

  it('a command ref of 0 is a ref like any other: the answer carries it', () => {
    const client = new Client().loggedIn();
    const query = ask(client, { cmd: 'history', username: 'bob' }, 0);
    client.input({ type: 'history.answer', queryId: query.queryId, messages: [] });
    expect(client.events.at(-1)).toEqual({ event: { event: 'history', username: 'bob', messages: [] }, ref: 0 });
  });

  it('an answer to a query asked without a ref carries none', () => {
    const client = new Client().loggedIn();
    const query = ask(client, { cmd: 'history', username: 'bob' });
    client.input({ type: 'history.answer', queryId: query.queryId, messages: [] });
    expect(client.events.at(-1)).toEqual({ event: { event: 'history', username: 'bob', messages: [] }, ref: undefined });
  });

  it('a store that fails the query: HISTORY_UNAVAILABLE naming the friend asked about (none for a search across friends)', () => {
    const client = new Client().loggedIn();
    const page = ask(client, { cmd: 'history', username: 'bob' }, 51);
    const search = ask(client, { cmd: 'history.search', text: 'x' }, 52);
    client.input({ type: 'history.failed', queryId: page.queryId });
    client.input({ type: 'history.failed', queryId: search.queryId });
    expect(client.answersTo(51)).toEqual([{ event: 'error', code: 'HISTORY_UNAVAILABLE', message: errorMessage('HISTORY_UNAVAILABLE'), username: 'bob' }]);
    expect(client.answersTo(52)).toEqual([{ event: 'error', code: 'HISTORY_UNAVAILABLE', message: errorMessage('HISTORY_UNAVAILABLE') }]);
  });

  it(`at ${HISTORY_QUERIES_PENDING_MAX} queries unanswered the next is QUEUE_FULL; an answer frees a place`, () => {
    const client = new Client().loggedIn();
    const queries = Array.from({ length: HISTORY_QUERIES_PENDING_MAX }, () => ask(client, { cmd: 'history', username: 'bob' }));
    const before = client.effects.length;
    client.input({ type: 'command', command: { cmd: 'history', username: 'bob' }, ref: 61 });
    expect(client.answersTo(61)).toEqual([{ event: 'error', code: 'QUEUE_FULL', message: errorMessage('QUEUE_FULL'), detail: 'too many history queries waiting' }]);
    expect(client.effects.slice(before).filter((e) => e.type === 'history.page')).toEqual([]);
    client.input({ type: 'history.answer', queryId: queries[0]!.queryId, messages: [] });
    ask(client, { cmd: 'history', username: 'bob' });
  });

  it('not logged in: NOT_LOGGED_IN, history being kept per account; a search names no friend', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'history', username: 'bob' }, ref: 71 });
    client.input({ type: 'command', command: { cmd: 'history.search', text: 'x' }, ref: 72 });
    expect(client.answersTo(71)).toEqual([{ event: 'error', code: 'NOT_LOGGED_IN', message: errorMessage('NOT_LOGGED_IN'), detail: 'history is kept per account', username: 'bob' }]);
    expect(client.answersTo(72)).toEqual([{ event: 'error', code: 'NOT_LOGGED_IN', message: errorMessage('NOT_LOGGED_IN'), detail: 'history is kept per account' }]);
  });
});
