/**
 * Loads a scenario file: YAML parsed with positions kept, validated against the schema. Every
 * error names the file, line and column and what was expected (the CLI exits 2 on it).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { type Scenario, scenarioSchema } from './scenario-schema.ts';

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
  }
}

export interface LoadedScenario {
  readonly path: string;
  readonly scenario: Scenario;
}

export function loadScenarioFile(path: string): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(path, 1, 1, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return { path, scenario: parseScenario(text, path) };
}

export function parseScenario(text: string, file = '<scenario>'): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { keepSourceTokens: true, lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const pos = lineCounter.linePos(yamlError.pos[0]);
    throw new ScenarioError(file, pos.line, pos.col, `YAML: ${yamlError.message.split('\n')[0] ?? yamlError.code}`);
  }
  const parsed = scenarioSchema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const issue = deepestIssue(parsed.error.issues);
  const { line, col } = positionOf(doc, lineCounter, issue.path);
  const where = issue.path.length === 0 ? 'the scenario' : issue.path.join('.');
  throw new ScenarioError(file, line, col, `at ${where}: ${describeIssue(issue)}`);
}

type Issue = z.core.$ZodIssue;

/** In a union, the branch that got furthest says best what was meant. */
function deepestIssue(issues: readonly Issue[]): Issue & { path: PropertyKey[] } {
  let best: { issue: Issue; path: PropertyKey[] } | null = null;
  const visit = (issue: Issue, prefix: PropertyKey[]): void => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      for (const branch of issue.errors) for (const inner of branch) visit(inner, path);
      if (best === null) best = { issue, path };
      return;
    }
    if (best === null || path.length > best.path.length) best = { issue, path };
  };
  for (const issue of issues) visit(issue, []);
  const found = best as { issue: Issue; path: PropertyKey[] } | null;
  if (found === null) throw new Error('zod reported failure without issues');
  return { ...found.issue, path: found.path };
}

function describeIssue(issue: Issue): string {
  if (issue.code === 'unrecognized_keys') return `unexpected key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'invalid_union') return 'expected one of the documented forms (see scenarios/README.md)';
  return issue.message.replace(/^Invalid input: /, '');
}

/** The position of the node at `path`, or of its nearest ancestor that exists. */
function positionOf(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): { line: number; col: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range !== undefined && node.range !== null) {
      const { line, col } = lineCounter.linePos(node.range[0]);
      return { line, col };
    }
  }
  return { line: 1, col: 1 };
}
