import { describe, expect, it } from 'vitest';
import { ScenarioError, parseScenario } from '../../../sim/scenarios/scenario-loader.ts';

const VALID = `version: 1
durationMs: 1000
populations:
  - { name: alice, behaviour: talker }
  - { name: bob, count: 3, behaviour: talker }
friends:
  pairs: [[alice, bob2]]
behaviours:
  talker:
    - login
    - session: { with: random-friend }
`;

function errorOf(text: string): ScenarioError {
  try {
    parseScenario(text, 'x.yaml');
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error('expected a ScenarioError');
}

describe('scenario loader', () => {
  it('accepts a valid scenario and fills in the defaults', () => {
    const scenario = parseScenario(VALID);
    expect(scenario.server.ttlMs).toBe(30_000);
    expect(scenario.driver).toBe('peer-machine');
    expect(scenario.populations[1]?.count).toBe(3);
  });

  it('names the line and column of a wrong value and what was expected', () => {
    const error = errorOf(VALID.replace('durationMs: 1000', 'durationMs: soon'));
    expect([error.line, error.col]).toEqual([2, 13]);
    expect(error.message).toMatch(/^x\.yaml:2:13: at durationMs: expected number/);
  });

  it('names an unexpected key and an unknown step form', () => {
    const key = errorOf(VALID.replace('  - { name: alice, behaviour: talker }', '  - { name: alice, behaviour: talker, colour: red }'));
    expect(key.line).toBe(4);
    expect(key.problem).toContain('unexpected key "colour"');
    const step = errorOf(VALID.replace('    - login', '    - dance'));
    expect(step.line).toBe(10);
    expect(step.problem).toContain('behaviours.talker.0');
  });

  it('checks cross references: behaviours, friend pairs, fault targets, session targets', () => {
    expect(errorOf(VALID.replace('behaviour: talker }\n  - { name: bob', 'behaviour: walker }\n  - { name: bob')).problem).toContain('expected one of the behaviours: talker');
    const pair = errorOf(VALID.replace('bob2]]', 'bob7]]'));
    expect([pair.line, pair.problem]).toEqual([7, 'at friends.pairs.0.1: expected a username of a population, got "bob7"']);
    const fault = errorOf(`${VALID}faults:\n  - { kind: reset, atMs: 10, peers: [carol] }\n`);
    expect(fault.problem).toContain('faults.0.peers.0');
    expect(errorOf(VALID.replace('random-friend', 'dave')).problem).toContain('behaviours.talker.1.session');
  });

  it('reports YAML syntax errors with their position', () => {
    const error = errorOf('version: 1\npopulations: [\n');
    expect(error.problem).toMatch(/^YAML: /);
    expect(error.line).toBeGreaterThanOrEqual(2);
  });

  it('requires driver peer-machine for p2p scenarios', () => {
    expect(errorOf(`requires: [p2p]\ndriver: protocol-client\n${VALID}`).problem).toContain('expected driver: peer-machine');
  });
});
