/** The part of autocannon 8's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface AutocannonOptions {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Requests per second across all connections (a rate-limited probe, not a flood). */
    overallRate?: number;
    /** Seconds before a request counts as timed out. */
    timeout?: number;
  }
  interface AutocannonStat {
    average: number;
    mean: number;
    max: number;
    min: number;
    total: number;
    p50: number;
    p99: number;
    p99_9: number;
    /** Every other percentile autocannon reports (p0_001 ... p99_999), milliseconds for latency. */
    [percentile: string]: number;
  }
  interface AutocannonResult {
    requests: AutocannonStat;
    latency: AutocannonStat;
    throughput: AutocannonStat;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    duration: number;
  }
  /** The running load: a promise of the result that also emits one 'response' event per reply. */
  interface AutocannonInstance extends Promise<AutocannonResult> {
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
  }
  function autocannon(options: AutocannonOptions): AutocannonInstance;
  export default autocannon;
  export type { AutocannonInstance, AutocannonOptions, AutocannonResult };
}
