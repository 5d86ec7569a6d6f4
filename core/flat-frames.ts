/**
 * A second reading of a discriminated union of z.object frames, for the flat ones: a frame type
 * whose every field is a literal, a string (length bounds, a pattern), a number (finite,
 * optionally a safe integer, with bounds), a boolean, a string enum or an object of such fields,
 * each optionally optional, is checked by a plain loop derived from that very schema, without
 * zod's machinery (which costs a busy simulator about a twentieth of its time). Types with
 * anything else (arrays, unions, checks this file does not know) are not derived and always go
 * to zod.
 *
 * The schema stays the single source of truth: nothing here restates a limit. The check answers
 * only what it is sure of; anything else (a field out of bounds, a missing field, an object that
 * is not a plain one, a key present with the value undefined) is null, "ask the schema", which
 * then words the error as before. Held equal to the schemas by test/core/frame-fast-path.test.ts.
 */
import type { z } from 'zod';

/** What a field parse returns for a value the schema would refuse (or that the schema should word). */
const INVALID: unique symbol = Symbol('invalid');

/** The value as the schema would return it (a nested object stripped of unknown keys), or INVALID. */
type FieldParse = (value: unknown) => unknown;

interface Field {
  readonly key: string;
  readonly optional: boolean;
  readonly parse: FieldParse;
}

/** What zod's internals show of a schema (`schema._zod.def`, zod v4's introspection). */
interface Def {
  readonly type: string;
  readonly checks?: ReadonlyArray<{ readonly _zod: { readonly def: CheckDef } }>;
  readonly innerType?: { readonly _zod: { readonly def: Def } };
  readonly values?: readonly unknown[];
  readonly entries?: Readonly<Record<string, unknown>>;
  readonly shape?: Readonly<Record<string, { readonly _zod: { readonly def: Def } }>>;
  readonly catchall?: unknown;
}

interface CheckDef {
  readonly check: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly value?: unknown;
  readonly inclusive?: boolean;
  readonly pattern?: unknown;
}

/** A check that passes a value through unchanged, as a parse. */
function passing(check: (value: unknown) => boolean): FieldParse {
  return (value) => (check(value) ? value : INVALID);
}

/** A string's length bounds and patterns, or null if it carries any other check. */
function stringParse(def: Def): FieldParse | null {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  const patterns: RegExp[] = [];
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'min_length' && typeof c.minimum === 'number') min = Math.max(min, c.minimum);
    else if (c.check === 'max_length' && typeof c.maximum === 'number') max = Math.min(max, c.maximum);
    // A global or sticky pattern keeps state between tests: left to zod.
    else if (c.check === 'string_format' && c.format === 'regex' && c.pattern instanceof RegExp && !c.pattern.global && !c.pattern.sticky) patterns.push(c.pattern);
    else return null;
  }
  return passing((value) => typeof value === 'string' && value.length >= min && value.length <= max && patterns.every((p) => p.test(value)));
}

/**
 * A finite number's inclusive bounds and integrality, or null for any other check. An exclusive
 * bound (`gt`, `lt`, `positive`) is left to zod: no frame uses one, so no test would hold it.
 */
function numberParse(def: Def): FieldParse | null {
  let safeInteger = false;
  let low = Number.NEGATIVE_INFINITY;
  let high = Number.POSITIVE_INFINITY;
  // Stryker disable next-line ArrayDeclaration: every number field of a frame carries checks (int at least)
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'number_format' && c.format === 'safeint') safeInteger = true;
    else if (c.check === 'greater_than' && typeof c.value === 'number' && c.inclusive === true) low = Math.max(low, c.value);
    else if (c.check === 'less_than' && typeof c.value === 'number' && c.inclusive === true) high = Math.min(high, c.value);
    else return null;
  }
  return passing(
    (value) =>
      // Stryker disable next-line ConditionalExpression: Number.isFinite is false for anything but a number; this line only tells the type checker
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!safeInteger || Number.isSafeInteger(value)) &&
      value >= low &&
      value <= high,
  );
}

function valueParse(def: Def): FieldParse | null {
  const unchecked = def.checks === undefined || def.checks.length === 0;
  switch (def.type) {
    case 'string':
      return stringParse(def);
    case 'number':
      return numberParse(def);
    case 'boolean':
      return unchecked ? passing((value) => typeof value === 'boolean') : null;
    case 'literal': {
      // Stryker disable next-line ArrayDeclaration: zod gives every literal its values
      const values = def.values ?? [];
      if (!unchecked || !values.every((v) => typeof v === 'string')) return null;
      // Only strings in the set: anything else is not in it.
      const set = new Set<unknown>(values);
      return passing((value) => set.has(value));
    }
    case 'enum': {
      const values = Object.values(def.entries ?? {});
      if (!unchecked || !values.every((v) => typeof v === 'string')) return null;
      const set = new Set<unknown>(values);
      return passing((value) => set.has(value));
    }
    case 'object': {
      const fields = unchecked ? flatFields(def) : null;
      return fields === null ? null : (value) => parseObject(fields, value);
    }
    default:
      return null;
  }
}

function fieldOf(key: string, def: Def): Field | null {
  if (def.type === 'optional') {
    const inner = def.innerType?._zod.def;
    const parse = inner === undefined ? null : valueParse(inner);
    return parse === null ? null : { key, optional: true, parse };
  }
  const parse = valueParse(def);
  return parse === null ? null : { key, optional: false, parse };
}

/** The fields of a flat z.object that strips unknown keys, or null if it is not one. */
function flatFields(def: Def): readonly Field[] | null {
  if (def.type !== 'object' || def.catchall !== undefined || def.shape === undefined) return null;
  const fields: Field[] = [];
  for (const [key, schema] of Object.entries(def.shape)) {
    const field = fieldOf(key, schema._zod.def);
    if (field === null) return null;
    fields.push(field);
  }
  return fields;
}

/**
 * The flat checker of a discriminated union over `discriminator` (every option a z.object with a
 * string literal there). It returns what the schema would return for a message of a flat type
 * (the known fields, in the schema's order, unknown keys left out), or null for "ask the schema".
 */
export function flatFrameCheck<T>(schema: z.ZodDiscriminatedUnion, discriminator = 'type'): (message: unknown) => T | null {
  const byType = new Map<string, readonly Field[]>();
  for (const option of schema.options as ReadonlyArray<{ readonly _zod: { readonly def: Def } }>) {
    const def = option._zod.def;
    const tag = def.shape?.[discriminator]?._zod.def;
    if (tag?.type !== 'literal' || tag.values?.length !== 1 || typeof tag.values[0] !== 'string') continue;
    const fields = flatFields(def);
    if (fields !== null) byType.set(tag.values[0], fields);
  }
  return (message) => {
    if (!isPlainObject(message)) return null;
    // A type that is not a string is no key of byType.
    const fields = byType.get(message[discriminator] as string);
    if (fields === undefined) return null;
    const out = parseObject(fields, message);
    return out === INVALID ? null : (out as T);
  };
}

/** Only what JSON.parse makes: a class instance or an object with inherited fields is zod's to judge. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** The known fields of a plain object, in the schema's order, each as its parse returns it; or INVALID. */
function parseObject(fields: readonly Field[], value: unknown): Record<string, unknown> | typeof INVALID {
  if (!isPlainObject(value)) return INVALID;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as Field;
    const raw = value[field.key];
    if (raw === undefined) {
      // Absent and optional: left out, as zod leaves it. Present as undefined: zod's to word.
      if (field.optional && !(field.key in value)) continue;
      return INVALID;
    }
    const parsed = field.parse(raw);
    if (parsed === INVALID) return INVALID;
    out[field.key] = parsed;
  }
  return out;
}
