import { describe, expect, it } from 'vitest';
import { LatencyHistogram, SampleReservoir, histogramOfSamples } from '../../bench/histogram.ts';

describe('latency histogram', () => {
  it('gives p50, p99 and p99.9 of a known distribution to 3 significant figures', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.recordMs(i / 100); // 0.01 ms .. 100 ms, uniform
    const s = h.summary();
    expect(s.count).toBe(10_000);
    expect(s.p50Ms).toBeCloseTo(50, 0);
    expect(s.p99Ms).toBeCloseTo(99, 0);
    expect(s.p999Ms).toBeCloseTo(99.9, 0);
    expect(s.maxMs).toBeCloseTo(100, 0);
  });

  it('summarises an empty histogram as zeros and ignores negative or non-finite samples', () => {
    const h = new LatencyHistogram();
    h.recordMs(-1);
    h.recordMs(Number.NaN);
    expect(h.summary()).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0, curve: [] });
  });

  it('keeps a bounded reservoir whose rebuilt histogram matches the original distribution', () => {
    let seed = 1;
    const random = (): number => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
    const reservoir = new SampleReservoir(2_000, random);
    for (let i = 0; i < 20_000; i++) reservoir.recordMs((i % 100) + 1);
    const samples = reservoir.take();
    expect(samples).toHaveLength(2_000);
    expect(reservoir.offered).toBe(20_000);
    const p50 = histogramOfSamples(samples).summary().p50Ms;
    expect(p50).toBeGreaterThan(40);
    expect(p50).toBeLessThan(60);
  });
});
