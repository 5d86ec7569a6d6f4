/** Writes a scenario back as YAML (the swarm's minimized failures), with a comment header. */
import { Document } from 'yaml';
import type { Scenario } from './scenario-schema.ts';

export function scenarioToYaml(scenario: Scenario, header: string): string {
  const doc = new Document(scenario);
  doc.commentBefore = header
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
  return doc.toString({ lineWidth: 120 });
}
