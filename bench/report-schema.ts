/** Reads a saved report (the committed reference run) back, checked, so a hand-edited file fails loudly. */
import { z } from 'zod';
import { RESULT_NAMES } from './names.ts';
import type { BenchReport } from './report.ts';

const resultSchema = z.object({
  name: z.enum(RESULT_NAMES),
  value: z.number().nullable(),
  unit: z.string(),
  baseline: z.number().nullable(),
  ratio: z.number().nullable(),
  threshold: z.number().nullable(),
  thresholdOn: z.enum(['ratio', 'value']).nullable(),
  thresholdDirection: z.enum(['min', 'max']).nullable(),
  passed: z.boolean(),
  missing: z.boolean(),
  note: z.string().optional(),
  details: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
});

const reportSchema = z.object({
  machine: z.looseObject({ mode: z.enum(['quick', 'full']) }),
  results: z.array(resultSchema),
});

export function parseReport(json: unknown): BenchReport {
  return reportSchema.parse(json) as unknown as BenchReport;
}
