/**
 * The password-truth checker (sim/checkers/password-truth-checker.ts): a password change's answer
 * is judged against a store the test holds, and the logins and resumes a client makes on its own
 * against what its user was told. Every right answer passes; each wrong one is caught.
 */
import { describe, expect, it } from 'vitest';
import { PasswordTruth } from '../../../sim/checkers/password-truth-checker.ts';

/** A store holding one password per user, and a checker for alice over it. */
function truth(stored = 'old-password'): { checker: PasswordTruth; violations: string[]; store: Map<string, string> } {
  const store = new Map([['alice', stored]]);
  const violations: string[] = [];
  const checker = new PasswordTruth('alice', { holds: (username, password) => store.get(username) === password }, (detail) => violations.push(detail));
  return { checker, violations, store };
}

/** Alice logged in with `password`: the client holds it. */
function loggedIn(checker: PasswordTruth, password = 'old-password'): void {
  checker.loginTyped();
  checker.loginSent(password);
  checker.loginAnswered(password, 'ok');
}

const STILL_WORKS = 'the server connection closed before the password was changed: the old password still works; try again';
const NOT_KNOWN = 'the server connection closed before the password change was answered, and the client quit before it could learn whether it happened';

describe('password-truth checker: a change answered as the store says', () => {
  it('passes ok when the store took the new password, and a refusal when it did not', () => {
    const { checker, violations, store } = truth();
    loggedIn(checker);
    checker.changeTyped('new-password');
    store.set('alice', 'new-password');
    checker.changeAnswered('ok', undefined);
    checker.changeTyped('third-password');
    checker.changeAnswered('BAD_CREDENTIALS', 'the old password is wrong');
    checker.changeTyped('fourth-password');
    checker.changeAnswered('SERVER_UNAVAILABLE', STILL_WORKS);
    expect(violations).toEqual([]);
  });

  it('catches ok when the store does not hold the new password', () => {
    const { checker, violations } = truth();
    loggedIn(checker);
    checker.changeTyped('new-password');
    checker.changeAnswered('ok', undefined);
    expect(violations).toEqual([expect.stringContaining("alice's password change was answered ok, but the server's store does not hold the new password")]);
  });

  it('catches a refusal, or "the old password still works", when the store holds the new password', () => {
    for (const [code, detail] of [
      ['BAD_CREDENTIALS', undefined],
      ['SERVER_UNAVAILABLE', STILL_WORKS],
    ] as const) {
      const { checker, violations, store } = truth();
      loggedIn(checker);
      checker.changeTyped('new-password');
      store.set('alice', 'new-password');
      checker.changeAnswered(code, detail);
      expect(violations).toEqual([expect.stringContaining(`answered ${code}`)]);
    }
  });

  it('judges no answer that says nobody knows, nor a change to the password the store held already', () => {
    const { checker, violations, store } = truth();
    loggedIn(checker);
    checker.changeTyped('new-password');
    store.set('alice', 'new-password');
    checker.changeAnswered('SERVER_UNAVAILABLE', NOT_KNOWN);
    checker.changeTyped('new-password');
    checker.changeAnswered('BAD_CREDENTIALS', undefined);
    expect(violations).toEqual([]);
  });
});

describe('password-truth checker: the client logs itself back in with what it was told', () => {
  it('passes the password of the last login, the new one after ok, and either while a change awaits its answer', () => {
    const { checker, violations, store } = truth();
    loggedIn(checker);
    expect(checker.loginSent('old-password')).toBe(true);
    checker.changeTyped('new-password');
    expect(checker.loginSent('new-password')).toBe(true);
    expect(checker.loginSent('old-password')).toBe(true);
    store.set('alice', 'new-password');
    checker.changeAnswered('ok', undefined);
    checker.loginSent('new-password');
    expect(violations).toEqual([]);
  });

  it('catches a relogin with a change the server refused (passwordRefused forgotten), or with the old password after ok', () => {
    const refused = truth();
    loggedIn(refused.checker);
    refused.checker.changeTyped('new-password');
    refused.checker.changeAnswered('BAD_CREDENTIALS', undefined);
    refused.checker.loginSent('new-password');
    expect(refused.violations).toEqual([expect.stringContaining('alice logged itself back in with a password it was never told holds')]);

    const changed = truth();
    loggedIn(changed.checker);
    changed.checker.changeTyped('new-password');
    changed.store.set('alice', 'new-password');
    changed.checker.changeAnswered('ok', undefined);
    changed.checker.loginSent('old-password');
    expect(changed.violations).toHaveLength(1);
  });

  it('leaves a login the user typed to the user: a wrong password is theirs to try', () => {
    const { checker, violations } = truth();
    loggedIn(checker);
    checker.loginTyped();
    expect(checker.loginSent('a-guess')).toBe(false);
    checker.loginAnswered('a-guess', 'BAD_CREDENTIALS');
    expect(violations).toEqual([]);
  });
});

describe('password-truth checker: a resume carries the last token the server gave', () => {
  it('passes the latest token, and catches an older one (passwordChanged forgotten)', () => {
    const { checker, violations } = truth();
    checker.tokenGiven('t1');
    checker.resumeSent('t1');
    checker.tokenGiven('t2');
    checker.resumeSent('t2');
    expect(violations).toEqual([]);
    checker.resumeSent('t1');
    expect(violations).toEqual([expect.stringContaining('alice resumed with a token other than the last one the server gave it')]);
  });
});
