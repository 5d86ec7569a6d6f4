/*
 * Browser helpers shared by the HTML reports (inlined by cli/report-html/page-shell.ts after
 * uPlot): reading the embedded data, building elements and tables, and drawing uPlot charts in
 * cards. Every chart is a `.chart` card holding one uPlot canvas; when the page script is done,
 * <body data-ready="true"> (or data-ready="error") tells a test or a screenshot tool to look.
 */
/* global uPlot */
(function () {
  'use strict';
  var RK = {};

  RK.palette = ['#2f6fde', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#0c8599', '#5c940d', '#862e9c', '#d9480f', '#364fc7'];

  RK.data = function () {
    return JSON.parse(document.getElementById('report-data').textContent);
  };

  RK.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        if (attrs[key] === undefined || attrs[key] === null) return;
        if (key === 'text') node.textContent = String(attrs[key]);
        else if (key === 'class') node.className = attrs[key];
        else if (key === 'style') node.setAttribute('style', attrs[key]);
        else node.setAttribute(key, attrs[key]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
    return node;
  };

  RK.root = function () {
    return document.getElementById('report');
  };

  /** A titled section of the page; returns the element to fill. */
  RK.section = function (title, intro) {
    var root = RK.root();
    root.appendChild(RK.el('h2', { text: title }));
    if (intro) root.appendChild(RK.el('p', { class: 'muted', text: intro }));
    var body = RK.el('div');
    root.appendChild(body);
    return body;
  };

  /** Numbers as people read them: few digits, thousands grouped. */
  RK.fmt = function (value, digits) {
    if (value === null || value === undefined) return '-';
    if (typeof value !== 'number') return String(value);
    if (!isFinite(value)) return String(value);
    var abs = Math.abs(value);
    var d = digits !== undefined ? digits : abs >= 1000 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 4;
    return value.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });
  };

  /** A table; a cell is text, a number (right-aligned), a node, or {text, cls}. */
  RK.table = function (headers, rows) {
    var head = RK.el('tr', null, headers.map(function (h) { return RK.el('th', { text: h }); }));
    var body = rows.map(function (row) {
      return RK.el('tr', null, row.map(function (cell) {
        if (cell !== null && typeof cell === 'object' && cell.nodeType) return RK.el('td', null, [cell]);
        if (cell !== null && typeof cell === 'object') return RK.el('td', { class: cell.cls, text: cell.text });
        if (typeof cell === 'number') return RK.el('td', { class: 'num', text: RK.fmt(cell) });
        return RK.el('td', { text: cell === null || cell === undefined ? '-' : cell });
      }));
    });
    return RK.el('table', null, [RK.el('thead', null, [head]), RK.el('tbody', null, body)]);
  };

  /** A y range from zero to a bit over the largest value: bars and rates read wrong from a cut axis. */
  RK.fromZero = function (u, min, max) {
    return [0, max > 0 ? max * 1.1 : 1];
  };

  RK.verdict = function (passed, yes, no) {
    return { text: passed ? (yes || 'passed') : (no || 'FAILED'), cls: passed ? 'pass' : 'fail' };
  };

  /** uPlot's bar path builder (uPlot.paths.bars ships in the iife build). */
  RK.bars = function (size) {
    return uPlot.paths.bars({ size: [size || 0.6, 80], align: 0 });
  };

  /**
   * Shaded time bands under the series: {from, to, color, lane} in x units. A band without a lane
   * spans the plot's height; lane k of `lanes` is a strip along the bottom (one per crashed peer).
   */
  RK.bandsPlugin = function (bands, lanes) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx;
          var box = u.bbox;
          var laneHeight = lanes > 0 ? Math.max(2, Math.min(6, (box.height * 0.25) / lanes)) : 0;
          ctx.save();
          bands.forEach(function (band) {
            var x0 = Math.max(box.left, u.valToPos(band.from, 'x', true));
            var x1 = Math.min(box.left + box.width, u.valToPos(band.to, 'x', true));
            if (!(x1 > x0)) x1 = x0 + 2;
            ctx.fillStyle = band.color;
            if (band.lane === undefined || band.lane === null) ctx.fillRect(x0, box.top, x1 - x0, box.height);
            else ctx.fillRect(x0, box.top + box.height - (band.lane + 1) * laneHeight, x1 - x0, Math.max(1, laneHeight - 1));
          });
          ctx.restore();
        }],
      },
    };
  };

  /** Vertical marker lines with a label: {at, color, label}. */
  RK.markersPlugin = function (markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          var box = u.bbox;
          ctx.save();
          markers.forEach(function (m) {
            var x = u.valToPos(m.at, 'x', true);
            if (x < box.left || x > box.left + box.width) return;
            ctx.strokeStyle = m.color;
            ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
            ctx.setLineDash([6, 4]);
            ctx.beginPath();
            ctx.moveTo(x, box.top);
            ctx.lineTo(x, box.top + box.height);
            ctx.stroke();
            if (m.label) {
              ctx.setLineDash([]);
              ctx.fillStyle = m.color;
              ctx.font = (11 * (window.devicePixelRatio || 1)) + 'px sans-serif';
              ctx.fillText(m.label, x + 4, box.top + 12 * (window.devicePixelRatio || 1));
            }
          });
          ctx.restore();
        }],
      },
    };
  };

  RK.charts = [];

  /**
   * A chart in a card: spec = {title, note, width, height, opts (uPlot options without size and
   * title), data (uPlot's columns)}. Returns the uPlot instance.
   */
  RK.chart = function (parent, spec) {
    var card = RK.el('div', { class: 'card chart', 'data-chart': spec.title }, [RK.el('h3', { text: spec.title })]);
    var holder = RK.el('div');
    card.appendChild(holder);
    if (spec.note) card.appendChild(RK.el('div', { class: 'note', text: spec.note }));
    parent.appendChild(card);
    var opts = Object.assign({ width: spec.width || 520, height: spec.height || 240 }, spec.opts);
    var plot = new uPlot(opts, spec.data, holder);
    RK.charts.push(plot);
    return plot;
  };

  RK.fail = function (error) {
    var box = document.getElementById('report-error');
    box.style.display = 'block';
    box.textContent = 'This report could not be drawn: ' + (error && error.stack ? error.stack : String(error));
    document.body.setAttribute('data-ready', 'error');
  };

  /** Runs the page script; marks the page ready (or failed) for whoever looks at it next. */
  RK.run = function (draw) {
    try {
      draw(RK.data());
      document.body.setAttribute('data-ready', 'true');
    } catch (error) {
      RK.fail(error);
      throw error;
    }
  };

  window.ReportKit = RK;
})();
