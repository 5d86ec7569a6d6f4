/** Reads a saved report (the committed reference run) back, checked, so a hand-edited file fails loudly. */
import { z } from 'zod';
import { RESULT_NAMES } from './names.ts';
import { PEER_FIGURE_NAMES, PEER_NAMES } from './peers/peer-report.ts';
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

const detailsSchema = z.record(z.string(), z.union([z.number(), z.string()]));

const peerFigureSchema = z.object({
  name: z.enum(PEER_FIGURE_NAMES),
  unit: z.string(),
  p2pchat: z.number().nullable(),
  peer: z.number().nullable(),
  ratio: z.number().nullable(),
  lowerIsBetter: z.boolean(),
  ahead: z.boolean().nullable(),
  note: z.string().optional(),
  details: detailsSchema.optional(),
});

const peerSectionSchema = z.object({
  peer: z.enum(PEER_NAMES),
  title: z.string(),
  version: z.string().nullable(),
  missing: z.boolean(),
  note: z.string().optional(),
  passed: z.boolean(),
  settings: detailsSchema,
  figures: z.array(peerFigureSchema),
});

const reportSchema = z.object({
  machine: z.looseObject({ mode: z.enum(['quick', 'full']) }),
  results: z.array(resultSchema),
  peers: z.array(peerSectionSchema).optional(),
});

export function parseReport(json: unknown): BenchReport {
  return reportSchema.parse(json) as unknown as BenchReport;
}
