/**
 * core/ is pure: the same code runs over real TCP and inside the deterministic simulator, so it
 * must not reach the outside world on its own. The compiler is the first guard (`npm run
 * typecheck` compiles core/ against tsconfig.core.json, without Node's types); this suite is the
 * second: it scans the source text of every file under core/ (comments stripped) and fails the
 * build on anything impure, including what types cannot see (Date.now, Math.random, zod-only
 * package imports).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../core');
/** Bare packages core/ may import: pure libraries only. */
const PACKAGE_ALLOWLIST: ReadonlySet<string> = new Set(['zod']);

/** Identifiers and calls that read a clock, draw randomness, schedule work or touch the process. */
const FORBIDDEN_USES: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'Date.now', pattern: /\bDate\s*\.\s*now\b/ },
  { name: 'new Date(', pattern: /\bnew\s+Date\s*\(/ },
  { name: 'Math.random', pattern: /\bMath\s*\.\s*random\b/ },
  { name: 'performance.now', pattern: /\bperformance\s*\.\s*now\b/ },
  { name: 'setTimeout', pattern: /\bsetTimeout\b/ },
  { name: 'setInterval', pattern: /\bsetInterval\b/ },
  { name: 'setImmediate', pattern: /\bsetImmediate\b/ },
  { name: 'queueMicrotask', pattern: /\bqueueMicrotask\b/ },
  { name: 'process.', pattern: /\bprocess\s*\./ },
  { name: 'Buffer', pattern: /\bBuffer\b/ },
  { name: 'require(', pattern: /\brequire\s*\(/ },
  { name: 'globalThis', pattern: /\bglobalThis\b/ },
  { name: 'crypto.', pattern: /\bcrypto\s*\./ },
  { name: 'fetch(', pattern: /\bfetch\s*\(/ },
  { name: 'import(', pattern: /\bimport\s*\(/ },
];

function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTsFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/**
 * Removes comments but keeps string literals (import specifiers live in strings). A small
 * scanner, not a regex, so `//` inside a string or a URL in a comment cannot confuse it.
 * Template literals and regex literals are treated as code (good enough for this codebase:
 * a false positive would only make the test stricter).
 */
function stripComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? source.length : end + 2;
      // Keep line breaks so reported line numbers stay right.
      out += source.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier of static imports and re-exports. */
function importSpecifiers(code: string): string[] {
  const specs: string[] = [];
  const pattern = /\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]/g;
  for (const match of code.matchAll(pattern)) {
    const spec = match[1] ?? match[2];
    if (spec !== undefined) specs.push(spec);
  }
  return specs;
}

const NODE_BUILTINS: ReadonlySet<string> = new Set(builtinModules.map((name) => name.replace(/^node:/, '')));

function importProblem(spec: string): string | null {
  if (spec.startsWith('node:')) return `imports the Node module ${spec}`;
  if (spec.startsWith('.')) return spec.endsWith('.ts') ? null : `relative import ${spec} lacks its .ts extension`;
  const root = spec.split('/')[0] ?? spec;
  if (NODE_BUILTINS.has(root)) return `imports the Node builtin ${spec}`;
  const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : root;
  return PACKAGE_ALLOWLIST.has(pkg) ? null : `imports the package ${spec}, which is not on the allowlist`;
}

function problemsOf(path: string): string[] {
  const code = stripComments(readFileSync(path, 'utf8'));
  const where = relative(CORE_DIR, path);
  const problems: string[] = [];
  for (const spec of importSpecifiers(code)) {
    const problem = importProblem(spec);
    if (problem !== null) problems.push(`core/${where}: ${problem}`);
    if (spec.startsWith('.') && !resolve(dirname(path), spec).startsWith(CORE_DIR)) {
      problems.push(`core/${where}: imports ${spec} from outside core/`);
    }
  }
  code.split('\n').forEach((line, index) => {
    for (const { name, pattern } of FORBIDDEN_USES) {
      if (pattern.test(line)) problems.push(`core/${where}:${index + 1}: uses ${name}`);
    }
  });
  return problems;
}

describe('core/ purity', () => {
  const files = listTsFiles(CORE_DIR);

  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('no file under core/ imports a Node module, a builtin or a package off the allowlist, nor uses a clock, timer, randomness, process, Buffer or require', () => {
    expect(files.flatMap(problemsOf)).toEqual([]);
  });

  it('no file under core/ holds a planted bug: faults are planted from sim/ (sim/world/planted-bugs.ts)', () => {
    const planted = files.filter((path) => /planted/i.test(stripComments(readFileSync(path, 'utf8'))));
    expect(planted.map((path) => relative(CORE_DIR, path))).toEqual([]);
  });

  describe('the scanner itself', () => {
    it('catches impure code and ignores the same words inside comments', () => {
      const sample = [
        "import net from 'node:net';",
        "import { x } from 'fs';",
        "import pino from 'pino';",
        "import { z } from 'zod';",
        "import { y } from './ok.ts';",
        '// Date.now() in a comment is fine',
        '/* setTimeout( in a block comment is fine */',
        'const t = Date.now();',
        "const u = 'http://example.invalid'; // a URL in a string is not a comment",
      ].join('\n');
      const code = stripComments(sample);
      expect(importSpecifiers(code)).toEqual(['node:net', 'fs', 'pino', 'zod', './ok.ts']);
      expect(importSpecifiers(code).map(importProblem).filter((p) => p !== null)).toHaveLength(3);
      expect(code).not.toContain('setTimeout');
      expect(code).toContain("'http://example.invalid'");
      expect(code.split('\n').filter((line) => /\bDate\s*\.\s*now\b/.test(line))).toHaveLength(1);
    });
  });
});
