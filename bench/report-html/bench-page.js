/*
 * The benchmark page (inlined by bench/report-html/bench-html.ts after uPlot and report-kit.js):
 * draws from the embedded data; fetches nothing.
 */
/* global ReportKit */
(function () {
  'use strict';
  var RK = ReportKit;

  function targetText(r) {
    if (r.threshold === null) return 'no target';
    return r.thresholdOn + (r.thresholdDirection === 'min' ? ' >= ' : ' <= ') + RK.fmt(r.threshold);
  }

  /** What several sections look up: the reference's figures and the gate's word on each, by name. */
  function lookups(data) {
    var refByName = {};
    if (data.reference) data.reference.results.forEach(function (r) { refByName[r.name] = r; });
    var gateByName = {};
    if (data.gate) {
      data.gate.regressions.forEach(function (r) { gateByName[r.name] = { text: r.reason + ': ' + r.detail, cls: 'fail' }; });
      data.gate.unjudged.forEach(function (r) { gateByName[r.name] = { text: 'not judged: ' + r.detail, cls: 'warn' }; });
    }
    return { refByName: refByName, gateByName: gateByName, measured: data.results.filter(function (r) { return !r.missing; }) };
  }

  function drawSummary(data) {
    var m = data.machine;
    var measured = data.results.filter(function (r) { return !r.missing; });
    var passed = data.results.filter(function (r) { return r.passed; }).length;
    var summary = RK.section('Run');
    summary.appendChild(RK.el('dl', { class: 'kv' }, [
      RK.el('dt', { text: 'mode' }), RK.el('dd', { text: m.mode }),
      RK.el('dt', { text: 'started' }), RK.el('dd', { text: m.startedAt + (m.wallMs ? ' (' + RK.fmt(m.wallMs / 1000) + ' s)' : '') }),
      RK.el('dt', { text: 'machine' }), RK.el('dd', { text: m.cpus + ' x ' + m.cpuModel + ', ' + RK.fmt(m.totalMemoryMb) + ' MB, ' + m.platform + ' ' + m.arch }),
      RK.el('dt', { text: 'node' }), RK.el('dd', { text: m.node + ', UV_THREADPOOL_SIZE=' + m.uvThreadpoolSize }),
      RK.el('dt', { text: 'server' }), RK.el('dd', { text: m.server }),
      RK.el('dt', { text: 'targets' }), RK.el('dd', null, [RK.el('span', { class: passed === data.results.length ? 'pass' : 'fail', text: passed + ' of ' + data.results.length + ' figures met their target' + (measured.length < data.results.length ? ' (' + (data.results.length - measured.length) + ' not measured)' : '') })]),
      RK.el('dt', { text: 'reference' }), RK.el('dd', { text: data.reference ? data.referencePath + ' (' + data.reference.machine.mode + ', ' + data.reference.machine.startedAt + ')' : 'none: ' + data.referencePath + ' could not be read' }),
      RK.el('dt', { text: 'regression gate' }), RK.el('dd', null, [data.gate ? RK.el('span', { class: data.gate.passed ? 'pass' : 'fail', text: data.gate.passed ? 'passed' : 'FAILED (' + data.gate.regressions.length + ')' }) : RK.el('span', { class: 'muted', text: 'no reference' })]),
    ]));
  }

  function drawFigures(data, look) {
    var refByName = look.refByName;
    var gateByName = look.gateByName;
    var measured = look.measured;
    var figures = RK.section('Every figure against its baseline and threshold',
      'Bars: the baseline measured in the same run, this run, and the reference run. The dashed line is the target (a ratio target is drawn at ratio x baseline).');
    figures.appendChild(RK.table(
      ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'passed', 'reference value', 'gate'],
      data.results.map(function (r) {
        var ref = refByName[r.name];
        return [r.name, r.missing ? { text: 'MISSING', cls: 'fail' } : r.value, r.unit, r.baseline, r.ratio, targetText(r), RK.verdict(r.passed, 'yes', 'NO'),
          ref && ref.value !== null ? ref.value : null, gateByName[r.name] || (data.gate ? { text: 'ok', cls: 'pass' } : '-')];
      })));
    var notes = data.results.filter(function (r) { return r.note; });
    if (notes.length > 0) {
      figures.appendChild(RK.el('ul', { class: 'muted' }, notes.map(function (r) { return RK.el('li', { text: r.name + ': ' + r.note }); })));
    }
    var grid = RK.el('div', { class: 'grid' });
    figures.appendChild(grid);
    var labels = ['baseline (same run)', 'this run', 'reference run'];
    measured.forEach(function (r) {
      var ref = refByName[r.name];
      var refValue = ref && ref.value !== null ? ref.value : null;
      var target = r.threshold === null ? null : r.thresholdOn === 'ratio' ? (r.baseline === null ? null : r.threshold * r.baseline) : r.threshold;
      var xs = [0, 1, 2];
      var one = function (i, v) { return xs.map(function (x) { return x === i ? v : null; }); };
      RK.chart(grid, {
        title: r.name + ' (' + r.unit + ')',
        note: targetText(r) + (r.passed ? ' - met' : ' - MISSED') + (r.lowerIsBetter ? '; lower is better' : '; higher is better'),
        width: 330, height: 200,
        data: [xs, one(0, r.baseline), one(1, r.value), one(2, refValue), xs.map(function () { return target; })],
        opts: {
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: false, range: [-0.6, 2.6] }, y: { range: function (u, min, max) { return [0, Math.max(max, target || 0) * 1.15 || 1]; } } },
          axes: [
            { splits: function () { return xs; }, values: function () { return ['baseline', 'this run', 'reference']; }, grid: { show: false } },
            { size: 60, values: function (u, splits) { return splits.map(function (v) { return RK.fmt(v); }); } },
          ],
          series: [
            {},
            { label: labels[0], fill: '#adb5bd', stroke: '#868e96', paths: RK.bars(0.6) },
            { label: labels[1], fill: r.passed ? '#40c057' : '#fa5252', stroke: r.passed ? '#2b8a3e' : '#c92a2a', paths: RK.bars(0.6) },
            { label: labels[2], fill: '#74c0fc', stroke: '#1c7ed6', paths: RK.bars(0.6) },
            { label: 'target', stroke: '#e8590c', width: 2, dash: [6, 4], points: { show: false } },
          ],
        },
      });
    });
  }

  function drawAgainstReference(data, look) {
    var refByName = look.refByName;
    var measured = look.measured;
    if (data.reference) {
      var compared = [];
      measured.forEach(function (r) {
        var ref = refByName[r.name];
        if (!ref || ref.value === null) return;
        // The gate compares ratios where there is a baseline (it absorbs how busy the machine is), else values.
        var useRatio = r.ratio !== null && ref.ratio !== null;
        var now = useRatio ? r.ratio : r.value;
        var then = useRatio ? ref.ratio : ref.value;
        if (!(now > 0) || !(then > 0)) return;
        compared.push({ name: r.name, score: r.lowerIsBetter ? then / now : now / then, on: useRatio ? 'ratio' : 'value' });
      });
      var vsRef = RK.section('This run against the reference run',
        'Each figure relative to ' + data.referencePath + ' (1 = the same, above 1 = better, whichever way the figure goes); compared on the ratio to its baseline where both runs have one, else on the value. The gate fails a figure below 2/3.');
      if (compared.length === 0) {
        vsRef.appendChild(RK.el('p', { class: 'muted', text: 'No figure was measured in both runs.' }));
      } else {
        var idx = compared.map(function (c, i) { return i; });
        RK.chart(vsRef, {
          title: 'relative to the reference (higher is better)',
          width: 1100, height: 320,
          data: [idx,
            compared.map(function (c) { return c.score >= 1 ? c.score : null; }),
            compared.map(function (c) { return c.score < 1 ? c.score : null; }),
            idx.map(function () { return 1; }),
            idx.map(function () { return 2 / 3; })],
          opts: {
            cursor: { show: false },
            scales: { x: { time: false, range: [-0.6, compared.length - 0.4] }, y: { range: function (u, min, max) { return [0, Math.max(1.3, max * 1.1)]; } } },
            axes: [
              { splits: function () { return idx; }, values: function () { return compared.map(function (c) { return c.name + ' (' + c.on + ')'; }); }, rotate: -25, size: 150, grid: { show: false } },
              { size: 50 },
            ],
            series: [
              {},
              { label: 'same or better', fill: '#69db7c', stroke: '#2b8a3e', paths: RK.bars(0.6) },
              { label: 'worse', fill: '#ffa8a8', stroke: '#c92a2a', paths: RK.bars(0.6) },
              { label: 'reference (1)', stroke: '#1c7ed6', width: 2, points: { show: false } },
              { label: 'gate limit (2/3)', stroke: '#e8590c', width: 2, dash: [6, 4], points: { show: false } },
            ],
          },
        });
      }
    }
  }

  function drawLatencyCurves(data) {
    var latency = RK.section('Latency percentile curves',
      'From the HDR histograms (autocannon\'s for /healthz). x: percentile, evenly spaced in nines (90%, 99%, 99.9%...) as HDR plots draw it, then the maximum; y: latency in ms.');
    if (data.latency.length === 0) latency.appendChild(RK.el('p', { class: 'muted', text: 'This run recorded no latency histogram.' }));
    var latencyGrid = RK.el('div', { class: 'grid' });
    latency.appendChild(latencyGrid);
    function percentileX(p) {
      // log10 of 1/(1 - p): 0 at 0%, 1 at 90%, 2 at 99%, 3 at 99.9% (drawn on a linear scale).
      return p >= 100 ? null : Math.log10(1 / (1 - p / 100));
    }
    data.latency.forEach(function (figure) {
      // uPlot wants one x column: the union of every curve's points, the max (p100) drawn one step past the last.
      var lastX = 0;
      figure.curves.forEach(function (c) { c.points.forEach(function (pt) { var x = percentileX(pt[0]); if (x !== null && x > lastX) lastX = x; }); });
      var maxX = lastX + 0.3;
      var xsSet = {};
      var curveMaps = figure.curves.map(function (c) {
        var map = {};
        c.points.forEach(function (pt) { var x = pt[0] >= 100 ? maxX : percentileX(pt[0]); map[x] = pt[1]; xsSet[x] = true; });
        return map;
      });
      var percentileLabel = function (x) {
        if (x >= maxX - 1e-9) return 'max';
        var p = 100 * (1 - Math.pow(10, -x));
        return (x >= 4 ? p.toFixed(4) : x >= 3 ? p.toFixed(3) : x >= 2 ? p.toFixed(2) : p.toFixed(1)).replace(/\.?0+$/, '') + '%';
      };
      var xsLat = Object.keys(xsSet).map(Number).sort(function (a, b) { return a - b; });
      var splits = [];
      for (var s = 0; s <= lastX; s += 1) splits.push(s);
      RK.chart(latencyGrid, {
        title: figure.name,
        width: 520, height: 280,
        data: [xsLat].concat(curveMaps.map(function (map) { return xsLat.map(function (x) { return map[x] === undefined ? null : map[x]; }); })),
        opts: {
          scales: { x: { time: false, range: [0, maxX] }, y: { range: function (u, min, max) { return [0, max * 1.1 || 1]; } } },
          axes: [
            { splits: function () { return splits.concat([maxX]); }, values: function (u, sp) { return sp.map(percentileLabel); } },
            { size: 55, label: 'ms' },
          ],
          series: [{ label: 'percentile', value: function (u, x) { return x === null || x === undefined ? '-' : percentileLabel(x); } }].concat(figure.curves.map(function (c, i) {
            return { label: c.label, stroke: RK.palette[i % RK.palette.length], width: 2, spanGaps: true, points: { show: true, size: 4 } };
          })),
        },
      });
    });
  }

  function drawThroughput(data) {
    var throughput = RK.section('Throughput over time, per phase',
      'Completions per second in each interval of the measured windows (counted in the load processes).');
    if (data.throughput.length === 0) throughput.appendChild(RK.el('p', { class: 'muted', text: 'This run counted no throughput over time.' }));
    var tpGrid = RK.el('div', { class: 'grid' });
    throughput.appendChild(tpGrid);
    data.throughput.forEach(function (phase) {
      var intervalMs = phase.series[0].intervalMs;
      var startMs = Math.min.apply(null, phase.series.map(function (s) { return s.startMs; }));
      var slots = 0;
      var offsets = phase.series.map(function (s) {
        var offset = Math.round((s.startMs - startMs) / intervalMs);
        slots = Math.max(slots, offset + s.perSec.length);
        return offset;
      });
      var xsTp = [];
      for (var i = 0; i < slots; i++) xsTp.push((i * intervalMs) / 1000);
      // A series ten times smaller than the largest (flapper logins beside the notifications they
      // cause) gets its own axis on the right, or it would lie flat along zero.
      var peaks = phase.series.map(function (s) { return Math.max.apply(null, s.perSec.concat([0])); });
      var top = Math.max.apply(null, peaks.concat([0]));
      var small = peaks.map(function (p) { return p > 0 && p * 10 < top; });
      var anySmall = small.some(function (x) { return x; });
      var tpAxes = [{ label: 's' }, { size: 60, label: 'per second', values: function (u, sp) { return sp.map(function (v) { return RK.fmt(v); }); } }];
      if (anySmall) tpAxes.push({ scale: 'small', side: 1, size: 50, grid: { show: false }, label: 'per second (' + phase.series.filter(function (s, k) { return small[k]; }).map(function (s) { return s.label; }).join(', ') + ')', values: function (u, sp) { return sp.map(function (v) { return RK.fmt(v); }); } });
      RK.chart(tpGrid, {
        title: phase.phase,
        note: intervalMs + ' ms intervals; x: seconds since the phase\'s first counted interval',
        width: 520, height: 260,
        data: [xsTp].concat(phase.series.map(function (s, k) {
          return xsTp.map(function (x, j) { var v = s.perSec[j - offsets[k]]; return v === undefined ? null : v; });
        })),
        opts: {
          scales: { x: { time: false }, y: { range: RK.fromZero }, small: { range: RK.fromZero } },
          axes: tpAxes,
          series: [{ label: 's' }].concat(phase.series.map(function (s, k) {
            return { label: s.label + (small[k] ? ' (right axis)' : ''), scale: small[k] ? 'small' : 'y', stroke: RK.palette[k % RK.palette.length], width: 1.5, points: { show: false } };
          })),
        },
      });
    });
  }

  function drawDetails(data) {
    var details = RK.section('Details of each figure');
    data.results.forEach(function (r) {
      if (!r.details) return;
      var block = RK.el('details', null, [RK.el('summary', { text: r.name })]);
      block.appendChild(RK.table(['detail', 'value'], Object.keys(r.details).map(function (k) { return [k, r.details[k]]; })));
      details.appendChild(block);
    });
  }

  /** One section per peer server (a run with --peers): p2pchat beside it, ratio p2pchat / peer. */
  function drawPeers(data) {
    (data.peers || []).forEach(function (p) {
      var head = 'p2pchat beside ' + p.title + (p.version ? ' ' + p.version : '') + ': ratio p2pchat / ' + p.title + '; ahead means ratio >= 1 (<= 1 where lower is better).';
      var section = RK.section('Peer: ' + p.title, head);
      if (p.missing) {
        section.appendChild(RK.el('p', null, [RK.el('span', { class: 'fail', text: 'MISSING' }), RK.el('span', { text: ' ' + (p.note || '') })]));
        return;
      }
      section.appendChild(RK.table(
        ['figure', 'p2pchat', p.title, 'unit', 'ratio p2pchat / peer', 'ahead'],
        p.figures.map(function (f) {
          return [f.name, f.p2pchat, f.peer, f.unit, f.ratio === null ? null : f.ratio + (f.lowerIsBetter ? ' (lower is better)' : ''),
            f.ahead === null ? { text: 'MISSING', cls: 'fail' } : RK.verdict(f.ahead, 'yes', 'NO')];
        })));
      var notes = p.figures.filter(function (f) { return f.note; });
      if (p.note) notes = notes.concat([{ name: 'note', note: p.note }]);
      if (notes.length > 0) section.appendChild(RK.el('ul', { class: 'muted' }, notes.map(function (f) { return RK.el('li', { text: f.name + ': ' + f.note }); })));
      var settings = RK.el('details', null, [RK.el('summary', { text: p.title + ': version and settings' })]);
      settings.appendChild(RK.table(['setting', 'value'], Object.keys(p.settings).map(function (k) { return [k, p.settings[k]]; })));
      section.appendChild(settings);
      p.figures.forEach(function (f) {
        if (!f.details) return;
        var block = RK.el('details', null, [RK.el('summary', { text: f.name + ' (details)' })]);
        block.appendChild(RK.table(['detail', 'value'], Object.keys(f.details).map(function (k) { return [k, f.details[k]]; })));
        section.appendChild(block);
      });
    });
  }

  ReportKit.run(function (data) {
    var look = lookups(data);
    drawSummary(data);
    drawFigures(data, look);
    drawPeers(data);
    drawAgainstReference(data, look);
    drawLatencyCurves(data);
    drawThroughput(data);
    drawDetails(data);
  });
})();
