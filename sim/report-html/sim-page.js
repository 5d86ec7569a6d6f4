/*
 * The simulator page (inlined by sim/report-html/sim-html.ts after uPlot and report-kit.js):
 * draws from the embedded data; fetches nothing.
 */
/* global ReportKit */
(function () {
  'use strict';
  var RK = ReportKit;
  var BAND_COLOURS = {
    partition: 'rgba(250, 82, 82, 0.16)',
    clog: 'rgba(250, 176, 5, 0.20)',
    degrade: 'rgba(151, 117, 250, 0.16)',
    'server-crash': 'rgba(73, 80, 87, 0.16)',
    'server-down': 'rgba(73, 80, 87, 0.22)',
    'peer-crash': 'rgba(230, 73, 128, 0.12)',
    reset: 'rgba(12, 133, 153, 0.35)',
    'peer-down': 'rgba(230, 73, 128, 0.75)',
  };
  function colourOf(kind) { return BAND_COLOURS[kind] || 'rgba(134, 142, 150, 0.2)'; }
  function seconds(ms) { return Math.round(ms) / 1000; }
  /** Lanes of crash strips at most: past that, strips share the lane that frees first. */
  var CRASH_LANES_MAX = 40;

  /** The run's heading, verdict, numbers and the command that replays it; returns its section. */
  function drawRunHeader(data, run, runIndex) {
    var r = run.report;
    var section = RK.section((data.runs.length > 1 ? (runIndex + 1) + '. ' : '') + (r.name || r.scenario) + ' (seed ' + r.seed + ')');
    section.appendChild(RK.el('p', null, [RK.el('span', { class: 'badge ' + (r.passed ? 'pass' : 'fail'), text: r.passed ? 'PASS' : 'FAIL' }), ' ', r.scenario]));
    if (run.description) section.appendChild(RK.el('p', { class: 'muted', text: run.description }));
    section.appendChild(RK.el('dl', { class: 'kv' }, [
      RK.el('dt', { text: 'seed' }), RK.el('dd', null, [RK.el('code', { text: String(r.seed) })]),
      RK.el('dt', { text: 'peers' }), RK.el('dd', { text: RK.fmt(r.peers) }),
      RK.el('dt', { text: 'events' }), RK.el('dd', { text: RK.fmt(r.events) }),
      RK.el('dt', { text: 'virtual time' }), RK.el('dd', { text: RK.fmt(r.virtualMs / 1000) + ' s (workload ' + RK.fmt(run.workloadMs / 1000) + ' s, then liveness)' }),
      RK.el('dt', { text: 'wall time' }), RK.el('dd', { text: RK.fmt(r.wallMs) + ' ms' }),
      RK.el('dt', { text: 'trace hash' }), RK.el('dd', null, [RK.el('code', { text: r.traceHash })]),
      RK.el('dt', { text: 'options' }), RK.el('dd', null, [RK.el('code', { text: Object.keys(r.options).map(function (k) { return k + '=' + r.options[k]; }).join(' ') })]),
    ]));
    section.appendChild(RK.el('h3', { text: 'Replay this exact run' }));
    section.appendChild(RK.el('pre', { class: 'cmd', text: run.replay }));
    return section;
  }

  /** Steps, peers online and violations over virtual time, with faults, outages and crashes as bands. */
  function drawTimeline(section, run) {
    var r = run.report;
    var bands = run.faultBands.concat(run.serverDown).map(function (b) { return { from: seconds(b.fromMs), to: seconds(b.toMs), color: colourOf(b.kind) }; });
    // Crash strips packed into lanes: each takes the lowest lane free since its start, so the strips
    // stack only as high as the crashes overlap (at most CRASH_LANES_MAX, then they share lanes).
    var laneEnds = [];
    run.crashBands.slice().sort(function (a, b) { return a.fromMs - b.fromMs; }).forEach(function (b) {
      var lane = laneEnds.findIndex(function (end) { return end <= b.fromMs; });
      if (lane < 0) lane = laneEnds.length < CRASH_LANES_MAX ? laneEnds.length : laneEnds.indexOf(Math.min.apply(null, laneEnds));
      laneEnds[lane] = b.toMs;
      bands.push({ from: seconds(b.fromMs), to: seconds(b.toMs), color: colourOf(b.kind), lane: lane });
    });
    var lanes = laneEnds.length;
    var xs = run.stepsOk.map(function (_, i) { return seconds(i * run.bucketMs); });
    var violationsPerBucket = xs.map(function () { return null; });
    run.violationMarks.forEach(function (v) {
      var i = Math.min(xs.length - 1, Math.floor(v.atMs / run.bucketMs));
      violationsPerBucket[i] = (violationsPerBucket[i] || 0) + 1;
    });
    var perSec = 1000 / run.bucketMs;
    // Peers online, sampled between slices, put on the bucket grid (a bucket without a sample is a gap).
    var online = xs.map(function () { return null; });
    var atServer = xs.map(function () { return null; });
    run.peersOnline.forEach(function (p) {
      var i = Math.min(xs.length - 1, Math.round(p[0] / run.bucketMs));
      online[i] = p[1];
      atServer[i] = p[2];
    });
    var violationDots = violationsPerBucket.map(function (n) { return n === null ? null : 1; });
    RK.chart(section, {
      title: 'timeline',
      note: 'Bars: steps ended per second of virtual time (ok or established / any other outcome). Lines (right axis): peers online by their own account, and users online at the server (0 while it is down); a gap between them is peers the server, and so their friends, counts as offline while they think they are online. Red dots along the top: invariant violations (the legend gives the count under the cursor). Bands: faults as scheduled (cut at the liveness phase, which heals them), server outages; the thin strips at the bottom: each crashed peer down until its restart. Dashed line: the liveness phase starts.',
      width: 1100, height: 330,
      // Empty buckets are null, not 0: uPlot would draw a zero-height bar as a line along the axis.
      data: [xs, run.stepsOk.map(function (n) { return n > 0 ? n * perSec : null; }), run.stepsNotOk.map(function (n) { return n > 0 ? n * perSec : null; }), online, atServer, violationDots],
      opts: {
        scales: { x: { time: false, range: [0, seconds(run.totalMs)] }, y: { range: RK.fromZero }, peers: { range: function (u, min, max) { return [0, Math.max(1, r.peers, max || 0) * 1.1]; } }, v: { range: [0, 1.08] } },
        axes: [{ label: 'virtual time (s)' }, { label: 'steps/s', size: 60 }, { scale: 'peers', side: 1, label: 'peers online', grid: { show: false }, size: 60, values: function (u, sp) { return sp.map(function (v) { return RK.fmt(v); }); } }],
        series: [
          { label: 's' },
          { label: 'steps ok', fill: 'rgba(47, 111, 222, 0.55)', stroke: '#2f6fde', paths: RK.bars(1) },
          { label: 'steps failed', fill: 'rgba(232, 89, 12, 0.6)', stroke: '#e8590c', paths: RK.bars(1) },
          { label: 'peers online', scale: 'peers', stroke: '#2b8a3e', width: 2, spanGaps: true, points: { show: false } },
          { label: 'online at the server', scale: 'peers', stroke: '#862e9c', width: 2, dash: [5, 3], spanGaps: true, points: { show: false } },
          { label: 'violations', scale: 'v', stroke: '#e03131', width: 0, points: { show: true, size: 9, fill: '#e03131', stroke: '#e03131' }, paths: function () { return null; },
            value: function (u, v, si, i) { return i === null || i === undefined || violationsPerBucket[i] === null ? '-' : String(violationsPerBucket[i]); } },
        ],
        plugins: [RK.bandsPlugin(bands, lanes), RK.markersPlugin([{ at: seconds(run.workloadMs), color: '#2b8a3e', label: 'liveness phase' }])],
      },
    });
    var bandRows = run.faultBands.concat(run.serverDown).map(function (b) {
      return [RK.el('span', null, [RK.el('span', { class: 'legend-swatch', style: 'background:' + colourOf(b.kind) }), b.label]), RK.fmt(b.fromMs / 1000, 3), RK.fmt(b.toMs / 1000, 3)];
    });
    if (run.crashes > 0) {
      bandRows.push([RK.el('span', null, [RK.el('span', { class: 'legend-swatch', style: 'background:' + colourOf('peer-down') }), run.crashes + ' peer crash' + (run.crashes === 1 ? '' : 'es') + (run.crashBands.length < run.crashes ? ' (' + run.crashBands.length + ' drawn)' : '')]), '-', '-']);
    }
    if (bandRows.length > 0) section.appendChild(RK.table(['band', 'from (s)', 'to (s)'], bandRows));
    else section.appendChild(RK.el('p', { class: 'muted', text: 'No faults, crashes or outages in this run.' }));
  }

  /** The presence-convergence delay distribution, in the grid the verdicts share. */
  function drawPresenceDelay(grid, run) {
    var pd = run.presenceDelay;
    if (pd.count > 0) {
      var binXs = pd.bins.map(function (b) { return b[0]; });
      var cumulative = 0;
      var cdf = pd.bins.map(function (b) { cumulative += b[1]; return (100 * cumulative) / pd.count; });
      RK.chart(grid, {
        title: 'presence convergence delay',
        note: pd.count + ' presence changes: how long until a friend saw each (p50 ' + pd.p50Ms + ' ms, p99 ' + pd.p99Ms + ' ms, max ' + pd.maxMs + ' ms). Bars: changes per ' + pd.binMs + ' ms bin; line: share converged within (right axis).',
        width: 520, height: 280,
        data: [binXs, pd.bins.map(function (b) { return b[1]; }), cdf],
        opts: {
          scales: { x: { time: false, range: function (u, min, max) { return [0, max + pd.binMs]; } }, y: { range: RK.fromZero }, pct: { range: [0, 100] } },
          axes: [{ label: 'delay (ms)' }, { label: 'changes', size: 55 }, { scale: 'pct', side: 1, label: '% converged', grid: { show: false }, size: 45 }],
          series: [
            { label: 'ms' },
            { label: 'changes', fill: 'rgba(47, 111, 222, 0.5)', stroke: '#2f6fde', paths: RK.bars(0.9) },
            { label: '% converged', scale: 'pct', stroke: '#2b8a3e', width: 2, points: { show: false } },
          ],
        },
      });
    } else {
      grid.appendChild(RK.el('div', { class: 'card' }, [RK.el('h3', { text: 'presence convergence delay' }), RK.el('p', { class: 'muted', text: 'No presence change was observed in this run.' })]));
    }
  }

  /** Each checker's verdict (beside the delays), then the expectations and every metric. */
  function drawVerdicts(section, grid, run) {
    var r = run.report;
    var verdicts = RK.el('div', { class: 'card' }, [RK.el('h3', { text: 'checkers' })]);
    verdicts.appendChild(RK.table(['checker', 'verdict', 'violations', 'first violation'], run.checkers.map(function (c) {
      return [c.checker + (c.expected ? '' : ' (not expected)'), c.violations === 0 ? { text: 'held', cls: 'pass' } : { text: 'VIOLATED', cls: c.expected ? 'fail' : 'warn' }, c.violations, c.first || '-'];
    })));
    if (run.violations > run.violationMarks.length) verdicts.appendChild(RK.el('p', { class: 'muted', text: run.violations + ' violations in all; the first ' + run.violationMarks.length + ' are marked.' }));
    grid.appendChild(verdicts);
    section.appendChild(RK.el('h3', { text: 'Expectations', style: 'margin-top: 14px' }));
    section.appendChild(RK.table(['expectation', 'verdict', 'detail'], r.expectations.map(function (e) { return [e.name, RK.verdict(e.passed, 'ok', 'FAILED'), e.detail]; })));
    var metrics = RK.el('details', null, [RK.el('summary', { text: 'every metric' })]);
    metrics.appendChild(RK.table(['metric', 'value'], Object.keys(r.metrics).map(function (k) { return [k, r.metrics[k]]; })));
    section.appendChild(metrics);
  }

  /** With --swarm: each scenario's swarm, and which minimized failure below replays it. */
  function drawSwarms(data) {
    var failed = data.swarms.filter(function (s) { return s.minimized !== null; }).length;
    var section = RK.section('Swarm', failed === 0
      ? 'Every run passed, so there is no failure to draw. Each row replays as a whole with the command shown.'
      : 'Each failure was shrunk and saved as a scenario; its replay is drawn below.');
    section.appendChild(RK.table(['scenario', 'root seed', 'runs', 'failed runs', 'verdict', 'replay'], data.swarms.map(function (s) {
      return [s.scenario, String(s.rootSeed), String(s.runs), String(s.failedRuns), RK.verdict(s.minimized === null, 'ok', 'FAILED'),
        s.minimized === null ? 'p2pchat sim ' + s.scenario + ' --swarm ' + s.runs + ' --seed ' + s.rootSeed : 'p2pchat sim ' + s.minimized];
    })));
  }

  ReportKit.run(function (data) {
    if (data.swarms) drawSwarms(data);
    data.runs.forEach(function (run, runIndex) {
      var section = drawRunHeader(data, run, runIndex);
      drawTimeline(section, run);
      var grid = RK.el('div', { class: 'grid', style: 'margin-top: 14px' });
      section.appendChild(grid);
      drawPresenceDelay(grid, run);
      drawVerdicts(section, grid, run);
    });
  });
})();
