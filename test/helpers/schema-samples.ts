/**
 * One valid value for a zod schema, built from the schema itself: every optional field filled,
 * the first member of every union and enum, one element in every array. Tests use it to feed
 * every member of a vocabulary through a consumer without typing each member by hand, so a member
 * added to the schema is covered the moment it exists. Covers the schema kinds the vocabularies
 * in core/ use; any other kind throws, naming itself, so the helper is extended rather than fooled.
 */
import { z } from 'zod';

/** Samples for strings with a pattern (the vocabularies' keys): the first one that matches is used. */
const PATTERN_SAMPLES = [`MCowBQYDK2VwAyEA${'A'.repeat(43)}=`, `MCowBQYDK2VuAyEA${'A'.repeat(43)}=`];

function regexOf(schema: z.ZodString): RegExp | null {
  for (const check of schema._zod.def.checks ?? []) {
    const def = check._zod.def as { format?: string; pattern?: RegExp };
    if (def.format === 'regex' && def.pattern instanceof RegExp) return def.pattern;
  }
  return null;
}

export function sampleOf(schema: z.ZodType): unknown {
  if (schema instanceof z.ZodObject) {
    return Object.fromEntries(Object.entries(schema.shape as Record<string, z.ZodType>).map(([key, field]) => [key, sampleOf(field)]));
  }
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodReadonly) return sampleOf(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodArray) return [sampleOf(schema.element as z.ZodType)];
  if (schema instanceof z.ZodUnion) return sampleOf(schema.options[0] as z.ZodType);
  if (schema instanceof z.ZodLiteral) return schema.value;
  if (schema instanceof z.ZodEnum) return schema.options[0];
  if (schema instanceof z.ZodString) {
    const pattern = regexOf(schema);
    if (pattern !== null) {
      const sample = PATTERN_SAMPLES.find((candidate) => pattern.test(candidate));
      if (sample === undefined) throw new Error(`sampleOf: no sample for a string matching ${pattern}`);
      return sample;
    }
    return 'x'.repeat(Math.max(1, schema.minLength ?? 0));
  }
  if (schema instanceof z.ZodNumber) return Math.max(1, schema.minValue ?? 0);
  if (schema instanceof z.ZodBoolean) return true;
  throw new Error(`sampleOf: no sample for a zod "${schema._zod.def.type}" schema`);
}
